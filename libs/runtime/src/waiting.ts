import {
  OPTIMIZATION_STREAM_PREFIX,
  batchStream,
  parseStoredEvent,
  whyWaiting,
  type BatchEvent,
  type KnownOptimizationState,
  type OptimizationReceived,
  type Policy,
  type RecordedDeferral,
  type RecordedHalt,
  type WaitReason,
} from '@optex/domain';
import type { EventStore } from '@optex/ports';
import { executionControlState } from '@optex/approval';
import { OptimizationProjection, resourceKeyOf, startVerdictOf } from '@optex/engine';

/**
 * From the batch streams (an optimization may not be scheduled, so its batch is not in its state): the scheduler's
 * latest `ExecutionDeferred` of an optimization, and the halt of a batch holding it (a `BatchHalted` of a batch that
 * planned it, not followed by a `BatchContinued`), and the `notBefore` of the latest batch that planned it. Reads every
 * batch stream: O(batch events).
 */
export async function batchHolds(store: EventStore, optimizationId: string): Promise<{ deferral?: RecordedDeferral; halt?: RecordedHalt; notBefore?: string }> {
  let deferral: RecordedDeferral | undefined;
  let notBefore: string | undefined;
  const halts = new Map<string, RecordedHalt | undefined>();
  for await (const e of store.readAll({ filter: { kind: 'streamName', prefixes: [batchStream('')] } })) {
    if (e.type !== 'ExecutionDeferred' && e.type !== 'BatchPlanned' && e.type !== 'BatchHalted' && e.type !== 'BatchContinued') continue;
    const event = parseStoredEvent(e) as BatchEvent;
    if (event.type === 'ExecutionDeferred' && event.data.optimizationId === optimizationId) deferral = event.data;
    else if (event.type === 'BatchPlanned' && event.data.optimizationIds.includes(optimizationId)) {
      halts.set(event.data.batchId, undefined);
      notBefore = event.data.notBefore;
    }
    else if (event.type === 'BatchHalted' && halts.has(event.data.batchId)) halts.set(event.data.batchId, { batchId: event.data.batchId, reason: event.data.reason });
    else if (event.type === 'BatchContinued' && halts.has(event.data.batchId)) halts.set(event.data.batchId, undefined);
  }
  const halt = [...halts.values()].filter((h) => h !== undefined).at(-1);
  return { ...(deferral ? { deferral } : {}), ...(halt ? { halt } : {}), ...(notBefore ? { notBefore } : {}) };
}

/**
 * A read model of the optimizations on one resource (`resourceKey`), folded from their streams alone: they are found
 * by their `OptimizationReceived` (its metadata's `resourceKey`, else its recommendation's), so one event per
 * optimization is read and only those on the resource are folded: what the holders of a resource and its last change
 * need, without folding every event of the log.
 */
export async function projectionOfResource(store: EventStore, resourceKey: string): Promise<OptimizationProjection> {
  const streams: string[] = [];
  for await (const e of store.readAll({ filter: { kind: 'eventType', prefixes: ['OptimizationReceived'] } })) {
    if (e.type !== 'OptimizationReceived' || !e.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) continue;
    const stated = e.metadata['resourceKey'];
    const key = typeof stated === 'string' && stated.length > 0 ? stated : resourceKeyOf((parseStoredEvent(e) as OptimizationReceived).data.recommendation);
    if (key === resourceKey) streams.push(e.stream);
  }
  const projection = new OptimizationProjection();
  for (const stream of streams) for (const e of await store.readStream(stream)) projection.apply(e);
  return projection;
}

/**
 * Why `state` waits now ({@link whyWaiting}), from what the store recorded: the kill switch, its batch's halt, the
 * `notBefore` of the batch that planned it and the scheduler's last deferral of it; for an approved one, the optimizations holding its resource; for a scheduled one,
 * the policy's verdict on its start now (as the executor judges it); the soak by the policy. The read model is
 * `projection` (kept up to date) or, only for an approved or scheduled one, one of the optimizations on its resource
 * ({@link projectionOfResource}).
 */
export async function waitingOf(
  store: EventStore,
  state: KnownOptimizationState,
  options: { readonly now: Date; readonly policy: Pick<Policy, 'coolDown' | 'changeWindows' | 'validation'>; readonly projection?: OptimizationProjection },
): Promise<WaitReason | undefined> {
  const { deferral, halt, notBefore } = await batchHolds(store, state.optimizationId);
  const needsProjection = state.status === 'approved' || state.status === 'scheduled';
  const key = resourceKeyOf(state.recommendation);
  const projection = needsProjection ? (options.projection ?? (await projectionOfResource(store, key))) : undefined;
  const holders = state.status === 'approved' && projection ? projection.activeOnResource(key).map((s) => ({ optimizationId: s.optimizationId, status: s.status })) : [];
  const start =
    state.status === 'scheduled' && projection ? startVerdictOf(options.policy, state, options.now, (k) => projection.lastChangeOn(k), key) : undefined;
  return whyWaiting(state, {
    now: options.now,
    control: await executionControlState(store),
    ...(halt ? { halt } : {}),
    ...(deferral ? { deferral } : {}),
    holders,
    ...(notBefore ? { notBefore } : {}),
    ...(start ? { startVerdict: start } : {}),
    soakMinutes: options.policy.validation.soakMinutes,
  });
}
