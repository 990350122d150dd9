import {
  DUPLICATES_STREAM,
  REJECTED_STREAM,
  summarize,
  viewOf,
  optimizationIdFor,
  type OptimizationView,
  type RecommendationDuplicated,
  type RecommendationRejected,
  type Summary,
  type FieldError,
} from '@optex/domain';
import { HEADERS, TOPICS, type BusMessage, type EventStore } from '@optex/ports';
import { OptimizationProjection, type EngineAdapters } from '@optex/engine';
import { ALL_SERVICES, startEngine, type EngineHandle } from './engine-app';

/** Recommendations read from one input (a file, stdin). */
export interface InputRecords {
  /** Each record as raw text, in input order (may be invalid JSON: it is then rejected, not fatal). */
  readonly records: readonly string[];
  /** Stable per input content: the prefix of every record's delivery id. */
  readonly deliveryPrefix: string;
  readonly name: string;
}

export interface RejectedRow {
  readonly index: number | null;
  readonly recommendationId: string | null;
  readonly errors: readonly string[];
}

export interface RunReport {
  readonly summary: Summary;
  readonly optimizations: OptimizationView[];
  readonly rejected: RejectedRow[];
  /** Set when approved work waits for a later `--not-before`: run `resume` after it. */
  readonly waitingUntil?: string;
}

export interface ProcessOptions {
  readonly input?: InputRecords;
  readonly dryRun: boolean;
  /** Progress lines (stderr) for long runs. */
  readonly progress?: (line: string) => void;
}

/**
 * Runs the five services in this process until the work is quiescent: every optimization is
 * terminal, awaiting approval, or waiting for a later `notBefore`.
 */
export async function processUntilQuiescent(adapters: EngineAdapters, options: ProcessOptions): Promise<RunReport> {
  const engine = await startEngine(adapters, { services: ALL_SERVICES });
  try {
    if (options.input) {
      await adapters.bus.publish(recommendationMessages(options.input, options.dryRun));
    }
    await untilQuiescent(engine, options.progress);
    const waitingUntil = engine.scheduler?.waitingUntil();
    return { ...(await report(adapters.store, options.input)), ...(waitingUntil ? { waitingUntil: waitingUntil.toISOString() } : {}) };
  } finally {
    await engine.stop();
  }
}

/**
 * The input topic's messages for an input: keyed per resource, each with its delivery id
 * (`<input hash>:<index>`, so re-submitting the same content is a redelivery), index and dry-run flag.
 */
export function recommendationMessages(input: InputRecords, dryRun: boolean): BusMessage[] {
  return input.records.map((raw, index) => ({
    topic: TOPICS.recommendations,
    key: recordKey(raw, index),
    value: Buffer.from(raw),
    headers: { [HEADERS.deliveryId]: `${input.deliveryPrefix}:${index}`, [HEADERS.index]: String(index), [HEADERS.dryRun]: String(dryRun) },
  }));
}

/** Per-resource key of a raw record when it has one (ordering), else its index. */
export function recordKey(raw: string, index: number): string {
  try {
    const r = JSON.parse(raw) as { accountId?: unknown; region?: unknown; resource?: { id?: unknown } };
    if (typeof r.accountId === 'string' && typeof r.region === 'string' && typeof r.resource?.id === 'string') return `${r.accountId}/${r.region}/${r.resource.id}`;
  } catch {
    // an unparseable record is keyed by its position; it will be rejected
  }
  return `record-${index}`;
}

async function untilQuiescent(engine: EngineHandle, progress?: (line: string) => void): Promise<void> {
  const { bus, store } = engine.adapters;
  const started = Date.now();
  let lastReport = started;
  let stable = 0;
  let lastHead = -1n;
  for (;;) {
    await bus.idle?.();
    await new Promise((r) => setTimeout(r, 15));
    const head = await headPosition(store);
    const caughtUp = (await engine.relay?.caughtUp()) ?? true;
    const schedulerBusy = engine.scheduler?.busy() ?? false;
    stable = caughtUp && !schedulerBusy && head === lastHead ? stable + 1 : 0;
    lastHead = head;
    if (stable >= 3) return;
    if (progress && Date.now() - lastReport > 2000) {
      lastReport = Date.now();
      const states = (await OptimizationProjection.load(store)).all();
      const done = states.filter((s) => ['completed', 'dry-run-completed', 'denied', 'expired', 'cancelled', 'failed', 'rolled-back', 'rollback-failed', 'awaiting-approval'].includes(s.status)).length;
      progress(`… ${done}/${states.length} optimizations settled after ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
  }
}

async function headPosition(store: EventStore): Promise<bigint> {
  for await (const e of store.readAll({ direction: 'backwards', maxCount: 1 })) return e.position.commit;
  return -1n;
}

/** The report of a run (`input` given: that input's optimizations) or of the whole store. */
export async function report(store: EventStore, input?: InputRecords): Promise<RunReport> {
  const projection = await OptimizationProjection.load(store);
  const inRun = (deliveryId: string) => !input || deliveryId.startsWith(`${input.deliveryPrefix}:`);
  const rejectedEvents = (await store.readStream(REJECTED_STREAM)).map((e) => e.data as RecommendationRejected['data']).filter((d) => inRun(d.deliveryId));
  const duplicates = (await store.readStream(DUPLICATES_STREAM)).map((e) => e.data as RecommendationDuplicated['data']).filter((d) => inRun(d.deliveryId));
  let states = projection.all();
  if (input) {
    const ids: string[] = [];
    for (const raw of input.records) {
      const id = idOf(raw);
      if (id && !ids.includes(id)) ids.push(id);
    }
    states = ids.map((id) => projection.get(id)).filter((s) => s !== undefined);
  }
  const optimizations = states.map(viewOf);
  const summary = summarize(optimizations, { rejected: rejectedEvents.length, duplicates: duplicates.length });
  return {
    summary: input ? { ...summary, received: input.records.length } : summary,
    optimizations,
    rejected: rejectedEvents
      .map((r) => ({ index: r.index ?? null, recommendationId: r.recommendationId ?? null, errors: r.errors.map(formatError) }))
      .sort((a, b) => (a.index ?? 0) - (b.index ?? 0)),
  };
}

function idOf(raw: string): string | undefined {
  try {
    const r = JSON.parse(raw) as { source?: unknown; recommendationId?: unknown };
    return typeof r.source === 'string' && typeof r.recommendationId === 'string' ? optimizationIdFor(r.source, r.recommendationId) : undefined;
  } catch {
    return undefined;
  }
}

const formatError = (e: FieldError): string => `${e.path}: ${e.message}`;
