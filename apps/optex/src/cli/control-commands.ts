import { DomainError, type ControlState } from '@optex/domain';
import { executionControlState, recordBatchContinue, recordExecutionControl, type ExecutionControlAction } from '@optex/approval';
import { UsageError } from '@optex/runtime';
import { safe, toJson } from './format';
import { openExistingStore, type Io } from './commands';
import { nextStepText } from './next-step';

const describe = (s: ControlState): string => (s.paused ? `Execution is PAUSED (by ${safe(s.by)} since ${s.since}: ${safe(s.reason)}).` : 'Execution is running.');

/**
 * `pause --by --reason` / `resume-execution --by --reason`: the kill switch, recorded on the control stream. While paused
 * no execution and no execution step starts (steps already sent finish; rollbacks go on); `resume-execution` lets
 * everything continue (the services drive it at once on their store; otherwise the next `resume`). Without `--by` and `--reason`:
 * print the state (one without the other is a usage error).
 */
export async function controlCommand(io: Io, action: ExecutionControlAction, flags: { store: string; by?: string; reason?: string; json?: boolean }): Promise<number> {
  // A store that does not exist is refused, never created: a mistyped path would pull the switch on an empty store.
  const store = await openExistingStore(flags.store);
  try {
    if (flags.by === undefined && flags.reason === undefined) {
      const state = await executionControlState(store);
      io.out(flags.json ? toJson(state) : describe(state));
      return 0;
    }
    const by = flags.by?.trim() ?? '';
    const reason = flags.reason?.trim() ?? '';
    if (!by) throw new UsageError('--by: say who pulls the switch');
    if (!reason) throw new UsageError(`--reason: say why execution ${action === 'pause' ? 'stops' : 'may go on'}`);
    try {
      const state = await recordExecutionControl(store, action, { by, reason, now: new Date() });
      io.out(
        flags.json
          ? toJson(state)
          : `${describe(state)} ${state.paused ? 'Steps already sent finish; rollbacks go on. Lift it with optex resume-execution.' : nextStepText(flags.store, { resume: 'continue what waited', services: 'continue what waited' })}`,
      );
      return 0;
    } catch (error) {
      if (error instanceof DomainError) {
        io.err(`optex ${action === 'pause' ? 'pause' : 'resume-execution'}: ${safe(error.message)}`);
        return 1;
      }
      throw error;
    }
  } finally {
    await store.close();
  }
}

/**
 * `continue-batch BATCH --by --reason`: lets a batch halted by a blast-radius limit or a stage's gate go on, recorded
 * as `BatchContinued` in its stream; the services' scheduler (on their store) or else the next `resume` dispatches the rest.
 */
export async function continueBatchCommand(io: Io, batchId: string, flags: { store: string; by: string; reason: string; json?: boolean }): Promise<number> {
  const by = flags.by.trim();
  const reason = flags.reason.trim();
  if (!by) throw new UsageError('--by: say who lets the batch go on');
  if (!reason) throw new UsageError('--reason: say why the batch may go on');
  const store = await openExistingStore(flags.store);
  try {
    const state = await recordBatchContinue(store, batchId, { by, reason, now: new Date() });
    io.out(flags.json ? toJson(state) : `Batch ${safe(batchId)} continues (by ${safe(by)}: ${safe(reason)}). ${nextStepText(flags.store, { resume: 'dispatch what waited', services: 'dispatch what waited' })}`);
    return 0;
  } catch (error) {
    if (error instanceof DomainError) {
      io.err(`optex continue-batch: ${safe(error.message)}`);
      return 1;
    }
    throw error;
  } finally {
    await store.close();
  }
}
