import {
  DUPLICATES_STREAM,
  REJECTED_STREAM,
  parseStoredEvent,
  summarize,
  viewOf,
  optimizationIdFor,
  type OptimizationView,
  type RecommendationDuplicated,
  type RecommendationRejected,
  type Summary,
  type FieldError,
} from '@optex/domain';
import { HEADERS, TOPICS, isOutage, type BusMessage, type EventStore } from '@optex/ports';
import { OptimizationProjection, type EngineAdapters } from '@optex/engine';
import { ALL_SERVICES, startEngine, type EngineHandle } from './engine-app';
import { QuiescenceTracker, isQuiescent } from './quiescence';

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
  /** Progress lines (stderr) for long runs, about every `progressEveryMs`. */
  readonly progress?: (line: string) => void;
  /** @defaultValue 2000 */
  readonly progressEveryMs?: number;
  /** How long nothing may happen before unsettled optimizations count as stuck (see {@link isQuiescent}). @defaultValue 250 */
  readonly stallMs?: number;
}

/**
 * Runs the five services in this process until the work is quiescent: every optimization is
 * terminal, awaiting approval, or waiting for a later `notBefore`, nothing is in flight on the bus
 * and the relay has published everything recorded. It knows from a {@link QuiescenceTracker}
 * signalled by the relay's published events and counting over the scheduler's read model (no
 * polling of the store), and builds the report from that same read model.
 */
export async function processUntilQuiescent(adapters: EngineAdapters, options: ProcessOptions): Promise<RunReport> {
  const tracker = QuiescenceTracker.empty();
  const engine = await startEngine(adapters, { services: ALL_SERVICES, onPublished: (event) => tracker.observe(event) });
  try {
    if (engine.scheduler) tracker.countOver(engine.scheduler.readModel);
    else throw new Error('processUntilQuiescent needs the scheduler in this process');
    if (options.input) {
      await adapters.bus.publish(recommendationMessages(options.input, options.dryRun));
    }
    await untilQuiescent(engine, tracker, options);
    const waitingUntil = engine.scheduler?.waitingUntil();
    return { ...(await report(adapters.store, options.input, tracker.projection)), ...(waitingUntil ? { waitingUntil: waitingUntil.toISOString() } : {}) };
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

/**
 * Waits for a fixed point: the bus idle, the relay caught up, the scheduler's tick done, the bus idle
 * again and no event observed in between; then asks {@link isQuiescent}. Otherwise waits for the
 * next observed event (or 50 ms) and looks again. Progress lines come from a timer reading its counters.
 */
async function untilQuiescent(engine: EngineHandle, tracker: QuiescenceTracker, options: ProcessOptions): Promise<void> {
  const { bus } = engine.adapters;
  const started = Date.now();
  const stallMs = options.stallMs ?? 250;
  // The store unreachable (an outage): not caught up, look again later; the handlings wait it out meanwhile.
  const caughtUp = async () => {
    try {
      return (await engine.relay?.caughtUp()) ?? true;
    } catch (error) {
      if (isOutage(error)) return false;
      throw error;
    }
  };
  const progress = options.progress;
  const timer = progress ? setInterval(() => progress(tracker.progressLine(Date.now() - started)), options.progressEveryMs ?? 2000) : undefined;
  try {
    for (;;) {
      await bus.idle?.();
      const before = tracker.counts().events;
      let relayCaughtUp = await caughtUp();
      if (relayCaughtUp) {
        await engine.scheduler?.settled();
        await bus.idle?.();
        relayCaughtUp = tracker.counts().events === before && (await caughtUp());
      }
      const counts = tracker.counts();
      const unsettled = counts.total - counts.settled;
      const signals = {
        relayCaughtUp,
        schedulerBusy: engine.scheduler?.busy() ?? false,
        // Only asked when it can matter (it looks at every open batch).
        waitingForLater: relayCaughtUp && unsettled > 0 && unsettled === counts.approved && engine.scheduler?.waitingUntil() !== undefined,
        quietMs: tracker.quietMs,
      };
      if (isQuiescent(counts, signals, stallMs)) return;
      await tracker.changed(50);
    }
  } finally {
    if (timer) clearInterval(timer);
  }
}

/**
 * The report of a run (`input` given: that input's optimizations) or of the whole store. `projection`
 * is a read model already up to date with the store (else it is rebuilt from the log).
 */
export async function report(store: EventStore, input?: InputRecords, projection?: OptimizationProjection): Promise<RunReport> {
  projection ??= await OptimizationProjection.load(store);
  const inRun = (deliveryId: string) => !input || deliveryId.startsWith(`${input.deliveryPrefix}:`);
  const rejectedEvents = (await store.readStream(REJECTED_STREAM)).map((e) => (parseStoredEvent(e) as RecommendationRejected).data).filter((d) => inRun(d.deliveryId));
  const duplicates = (await store.readStream(DUPLICATES_STREAM)).map((e) => (parseStoredEvent(e) as RecommendationDuplicated).data).filter((d) => inRun(d.deliveryId));
  let states = projection.all();
  if (input) {
    const ids = new Set<string>();
    for (const raw of input.records) {
      const id = idOf(raw);
      if (id) ids.add(id);
    }
    const known = projection;
    states = [...ids].map((id) => known.get(id)).filter((s) => s !== undefined);
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
