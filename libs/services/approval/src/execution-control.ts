import { CONTROL_STREAM, controlDecider, normalizeIdentity, type ControlState } from '@optex/domain';
import type { EventStore } from '@optex/ports';
import { handleCommand } from '@optex/engine';

export type ExecutionControlAction = 'pause' | 'resume';

/**
 * The kill switch, as a person pulls it (CLI `pause` / `resume-execution`, the API): records `ExecutionPaused` or
 * `ExecutionResumed` on the control stream with who and why. Throws DomainError when execution already is in that
 * state or who/why is empty. The executor stops starting executions and execution steps as soon as the event reaches
 * it, and drives everything again when execution resumes.
 */
export async function recordExecutionControl(store: EventStore, action: ExecutionControlAction, request: { by: string; reason: string; now: Date }): Promise<ControlState> {
  const type = action === 'pause' ? 'PauseExecution' : 'ResumeExecution';
  const result = await handleCommand(store, CONTROL_STREAM, controlDecider, { type, data: { by: request.by, reason: request.reason }, metadata: { now: request.now } }, {
    causationKey: `${type}:${normalizeIdentity(request.by)}:${request.now.toISOString()}`,
    recordedBy: `human:${request.by}`,
  });
  return result.state;
}

/** Whether execution is paused now: the engine's reading of the kill switch, for the CLI, the API and the console. */
export { executionControlState } from '@optex/engine';
