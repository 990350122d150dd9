import { batchStream, parseStoredEvent, whyWaiting, type BatchEvent, type KnownOptimizationState, type RecordedDeferral, type RecordedHalt, type WaitReason } from '@optex/domain';
import type { EventStore } from '@optex/ports';
import { executionControlState } from '@optex/approval';
import { OptimizationProjection, resourceKeyOf } from '@optex/engine';

/**
 * From the batch streams (an optimization may not be scheduled, so its batch is not in its state): the scheduler's
 * latest `ExecutionDeferred` of an optimization, and the halt of a batch holding it (a `BatchHalted` of a batch that
 * planned it, not followed by a `BatchContinued`). Reads every batch stream: O(batch events).
 */
export async function batchHolds(store: EventStore, optimizationId: string): Promise<{ deferral?: RecordedDeferral; halt?: RecordedHalt }> {
  let deferral: RecordedDeferral | undefined;
  const halts = new Map<string, RecordedHalt | undefined>();
  for await (const e of store.readAll({ filter: { kind: 'streamName', prefixes: [batchStream('')] } })) {
    if (e.type !== 'ExecutionDeferred' && e.type !== 'BatchPlanned' && e.type !== 'BatchHalted' && e.type !== 'BatchContinued') continue;
    const event = parseStoredEvent(e) as BatchEvent;
    if (event.type === 'ExecutionDeferred' && event.data.optimizationId === optimizationId) deferral = event.data;
    else if (event.type === 'BatchPlanned' && event.data.optimizationIds.includes(optimizationId)) halts.set(event.data.batchId, undefined);
    else if (event.type === 'BatchHalted' && halts.has(event.data.batchId)) halts.set(event.data.batchId, { batchId: event.data.batchId, reason: event.data.reason });
    else if (event.type === 'BatchContinued' && halts.has(event.data.batchId)) halts.set(event.data.batchId, undefined);
  }
  const halt = [...halts.values()].filter((h) => h !== undefined).at(-1);
  return { ...(deferral ? { deferral } : {}), ...(halt ? { halt } : {}) };
}

/**
 * Why `state` waits now ({@link whyWaiting}), from what the store recorded: the kill switch, its batch's halt and the
 * scheduler's last deferral of it, and — for an approved one — the optimizations holding its resource, from
 * `projection` (a read model kept up to date; without it, one is folded from the whole log, only for an approved one).
 */
export async function waitingOf(
  store: EventStore,
  state: KnownOptimizationState,
  options: { readonly now: Date; readonly soakMinutes: number; readonly projection?: OptimizationProjection },
): Promise<WaitReason | undefined> {
  const { deferral, halt } = await batchHolds(store, state.optimizationId);
  let holders: { optimizationId: string; status: KnownOptimizationState['status'] }[] = [];
  if (state.status === 'approved') {
    const projection = options.projection ?? (await OptimizationProjection.load(store));
    holders = projection.activeOnResource(resourceKeyOf(state.recommendation)).map((s) => ({ optimizationId: s.optimizationId, status: s.status }));
  }
  return whyWaiting(state, {
    now: options.now,
    control: await executionControlState(store),
    ...(halt ? { halt } : {}),
    ...(deferral ? { deferral } : {}),
    holders,
    soakMinutes: options.soakMinutes,
  });
}
