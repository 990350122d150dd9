// The append workload of bench:store, shared with bench:engine (which measures the store's own append rate in the
// same run with exactly this pattern): 1–3 events per append, random streams, expected revisions.
import { randomUUID } from 'node:crypto';
import type { EventStore, ExpectedRevision, NewEvent } from '@optex/ports';
import { seededRandom } from '@optex/testing';

const TYPES = ['OptimizationReceived', 'RiskAssessed', 'ApprovalGranted', 'ExecutionScheduled', 'ExecutionStarted', 'ExecutionStepCompleted', 'ExecutionSucceeded', 'ValidationPassed'];

/** An event shaped like optex's: a few hundred bytes of JSON data, the usual metadata. */
function sampleEvent(stream: number, revision: number, random: () => number, recordedBy: string): NewEvent {
  return {
    id: randomUUID(),
    type: TYPES[revision % TYPES.length]!,
    data: {
      optimizationId: `opt-${stream}`,
      recommendationId: `rec-${stream}`,
      accountId: '123456789012',
      region: 'us-east-1',
      resourceId: `i-${(stream * 7919).toString(16).padStart(17, '0')}`,
      action: { type: 'rightsize', currentInstanceType: 'm5.2xlarge', targetInstanceType: 'm5.xlarge' },
      estimatedMonthlySavings: Math.round(random() * 50_000) / 100,
      at: new Date(Date.UTC(2026, 0, 1) + revision * 60_000).toISOString(),
      note: 'step completed within the maintenance window',
    },
    metadata: { schemaVersion: 1, causationId: randomUUID(), correlationId: `corr-${stream}`, recordedBy },
  };
}

export interface AppendWorkloadResult {
  readonly appended: number;
  readonly appendCalls: number;
  /** Last revision of each stream written. */
  readonly revisions: ReadonlyMap<number, number>;
  readonly ms: number;
}

/** Appends `events` events over `streams` streams (seed 42), each append with the stream's expected revision. */
export async function appendWorkload(store: EventStore, options: { events: number; streams: number; recordedBy: string }): Promise<AppendWorkloadResult> {
  const random = seededRandom(42);
  const revisions = new Map<number, number>();
  let appended = 0;
  let appendCalls = 0;
  const started = performance.now();
  while (appended < options.events) {
    const stream = Math.floor(random() * options.streams);
    const count = Math.min(1 + Math.floor(random() * 3), options.events - appended);
    const last = revisions.get(stream);
    const expected: ExpectedRevision = last === undefined ? 'no_stream' : BigInt(last);
    const first = last === undefined ? 0 : last + 1;
    const batch = Array.from({ length: count }, (_, i) => sampleEvent(stream, first + i, random, options.recordedBy));
    const result = await store.appendToStream(`optimization-${stream}`, batch, expected);
    revisions.set(stream, Number(result.nextExpectedRevision));
    appended += count;
    appendCalls++;
  }
  return { appended, appendCalls, revisions, ms: performance.now() - started };
}
