import {
  DUPLICATES_STREAM,
  OPTIMIZATION_STREAM_PREFIX,
  REJECTED_STREAM,
  TERMINAL_STATUSES,
  WAITING_FOR_PEOPLE_STATUSES,
  accountForRecords,
  defaultIntakeLimits,
  intakeRecord,
  isPreviewRejection,
  parseStoredEvent,
  resourceHeldWait,
  summarize,
  viewOf,
  type IntakeLimits,
  type OptimizationStatus,
  type ResourceHolder,
  type OptimizationView,
  type RecordAccount,
  type RecommendationDuplicated,
  type RecommendationDifference,
  type RecommendationRejected,
  type Summary,
  type FieldError,
} from '@optex/domain';
import { HEADERS, InfrastructureError, TOPICS, isOutage, submitterHeader, type Bus, type BusMessage, type Consumer, type EventStore } from '@optex/ports';
import { DLQ_HEADERS } from '@optex/messaging';
import { OptimizationProjection, SERVICE_GROUPS, resourceKeyOf, type EngineAdapters, type KnownOptimization } from '@optex/engine';
import type { InputRecord, InputRecords } from './input';
import { executionControlState } from '@optex/approval';
import { ALL_SERVICES, deadLetterTopicOf, startEngine, type EngineHandle } from './engine-app';
import { QuiescenceTracker, isQuiescent } from './quiescence';
import { DEFAULT_INTAKE_WINDOW, IntakeWindow } from './intake-window';

export interface RejectedRow {
  readonly index: number | null;
  readonly recommendationId: string | null;
  readonly errors: readonly string[];
}

/** A changed resubmission (ResubmissionConflicted): the record, the optimization it names, and what it changed. */
export interface ConflictRow {
  /** The record's index in this run's input; `null` for one from elsewhere (another input, Kafka). */
  readonly index: number | null;
  readonly optimizationId: string;
  readonly recommendationId: string;
  readonly deliveryId: string;
  readonly at: string;
  readonly differences: readonly RecommendationDifference[];
}

export interface RunReport {
  readonly summary: Summary;
  readonly optimizations: OptimizationView[];
  readonly rejected: RejectedRow[];
  /** Resubmissions with other content than the recommendation recorded first, each recorded as a conflict. */
  readonly conflicts: ConflictRow[];
  /**
   * Set when work waits for a time: the earliest of a start held (a change window, a freeze, a cool-down, the daily
   * limit, `--not-before`; by the scheduler before its dispatch, or by the executor at a delayed start), a
   * validation's soak, a rollback waiting out EC2's cool-down. Run `resume` after it.
   */
  readonly waitingUntil?: string;
  /** Batches halted by a blast-radius limit or a stage's gate: their waiting members wait for `optex continue-batch`. */
  readonly haltedBatches?: readonly { readonly batchId: string; readonly rule: string; readonly reason: string; readonly waiting: number }[];
  /** Set when the kill switch is on at the end of the run: nothing starts until `optex resume-execution`. */
  readonly paused?: { readonly by: string; readonly reason: string; readonly since: string };
  /**
   * Messages a service of this process gave up on (dead-lettered: a bug, a message that fails every time) during the
   * run, with the group, the optimization (the message's subject) and why; their optimizations stopped where they were.
   * Only on a bus local to the process (the embedded default); the recommendations' own dead letters are not here:
   * a record without an outcome is reported apart.
   */
  readonly deadLettered?: readonly DeadLetterRow[];
  /**
   * Approved optimizations of the report that wait for their resource, held by another optimization (`rollback-failed`
   * or `reconciliation-needed`: until an operator acts; else until that one is over), each with the holder and why.
   */
  readonly waitingOnResource?: readonly ResourceWaitRow[];
  /**
   * Set when the run was asked to stop before it took in its whole input (SIGINT, SIGTERM): how many records were
   * never read into the log, from index `firstIndex` on. Running the same input again takes them in (the records
   * taken in before are duplicates then).
   */
  readonly notTakenIn?: { readonly count: number; readonly firstIndex: number };
  /**
   * Optimizations of the report the run left mid-way with nothing recorded to wait for ({@link stalledOf}): neither
   * settled, nor waiting for a person, a held resource, a time, a halted batch, the kill switch or a dead letter's fix.
   * Nothing more happens to them in this run (a bug, or a message lost on its way); `resume` looks at them again.
   */
  readonly stalled?: readonly StalledRow[];
}

/** An optimization a run left mid-way with nothing to wait for. */
export interface StalledRow {
  readonly optimizationId: string;
  readonly status: OptimizationStatus;
}

/**
 * The optimizations of a finished run's report that stopped mid-way with nothing recorded to wait for: not terminal,
 * not waiting for a person (approval, reconciliation) and not approved behind a resource another one holds — when the
 * run has no other reason to leave work undone: no time it waits until, no halted batch, no pause, no dead letter.
 * Those reasons are the run's, not an optimization's (a run does not know whose wait `waitingUntil` is), so with any of
 * them nothing is called stalled: the report names the reason instead.
 */
export function stalledOf(report: RunReport): StalledRow[] {
  if (report.waitingUntil || report.haltedBatches?.length || report.paused || report.deadLettered?.length) return [];
  const held = new Set((report.waitingOnResource ?? []).map((w) => w.optimizationId));
  return report.optimizations
    .filter((o) => !TERMINAL_STATUSES.includes(o.status) && !WAITING_FOR_PEOPLE_STATUSES.includes(o.status) && !held.has(o.optimizationId))
    .map((o) => ({ optimizationId: o.optimizationId, status: o.status }));
}

/** An approved optimization whose resource another optimization holds ({@link resourceHeldWait}). */
export interface ResourceWaitRow {
  readonly optimizationId: string;
  readonly resourceId: string;
  readonly heldBy: ResourceHolder;
  readonly reason: string;
}

/** One message a service gave up on during a run. */
export interface DeadLetterRow {
  readonly group: string;
  readonly optimizationId: string | null;
  readonly reason: string;
}

export interface ProcessOptions {
  /**
   * The records to take in. The run spends them: once a record's message is built, its slot in `input.records` keeps
   * only its size (empty bytes), so the input's bytes are freed as the run goes (the message keeps them until it is
   * consumed) instead of staying whole until the end (~33 MB for 100,000 recommendations).
   */
  readonly input?: InputRecords;
  readonly dryRun: boolean;
  /** Progress lines for long runs: the first after `progressAfterMs`, then about every `progressEveryMs`. */
  readonly progress?: (line: string) => void;
  /** @defaultValue 1000 */
  readonly progressAfterMs?: number;
  /** @defaultValue 1000 */
  readonly progressEveryMs?: number;
  /** How long nothing may happen before unsettled optimizations count as stuck (see {@link isQuiescent}). @defaultValue 250 */
  readonly stallMs?: number;
  /** Records of the input in flight at once (see {@link IntakeWindow}). @defaultValue {@link DEFAULT_INTAKE_WINDOW} */
  readonly intakeWindow?: number;
  /**
   * Asks the run to stop (the CLI's SIGINT/SIGTERM): no more records of the input are taken in, what was taken in goes
   * on until quiescent, and the report says how many records were not (`notTakenIn`).
   */
  readonly stop?: AbortSignal;
  /**
   * How long every append to the store may fail before the run stops ({@link StoreWriteError}): a local store that
   * cannot be written (a full disk, a read-only or damaged file) does not mend itself, and the services would retry for
   * ever. A store that reports no such failures (EventStoreDB: its outages are waited out) is never stopped for.
   * @defaultValue 30000
   */
  readonly storeWriteTimeoutMs?: number;
}

/**
 * The run stopped because the store could not be written for {@link ProcessOptions.storeWriteTimeoutMs}: what was
 * recorded is safe, and `resume` carries the rest on once the store can be written again.
 */
export class StoreWriteError extends InfrastructureError {}

/**
 * Runs the five services in this process until the work is quiescent: every optimization is
 * terminal, awaiting approval, or waiting for a later `notBefore`, nothing is in flight on the bus
 * and the relay has published everything recorded. It knows from a {@link QuiescenceTracker}
 * signalled by the relay's published events and counting over the scheduler's read model (no
 * polling of the store), and builds the report from that same read model.
 */
export async function processUntilQuiescent(adapters: EngineAdapters, options: ProcessOptions): Promise<RunReport> {
  const tracker = QuiescenceTracker.empty();
  const deadLettered = adapters.bus.local ? await watchDeadLetters(adapters.bus) : undefined;
  let intake: IntakeWindow | undefined;
  const engine = await startEngine(adapters, {
    services: ALL_SERVICES,
    onPublished: (event) => {
      tracker.observe(event);
      intake?.pump();
    },
  });
  try {
    if (engine.scheduler) tracker.countOver(engine.scheduler.readModel);
    else throw new Error('processUntilQuiescent needs the scheduler in this process');
    if (options.input) {
      // In flight: records published whose optimization has not settled since the run began.
      const settledBefore = tracker.counts().settled;
      let published = 0;
      const input = options.input;
      const limits = adapters.options?.intakeLimits;
      const window = new IntakeWindow(
        { publish: (batch) => ((published += batch.length), adapters.bus.publish(batch)) },
        input.records.length,
        (index) => {
          const message = recommendationMessage(input, index, options.dryRun, limits);
          (input.records as InputRecord[])[index] = spent(input.records[index]!);
          return message;
        },
        () => published - (tracker.counts().settled - settledBefore),
        options.intakeWindow ?? DEFAULT_INTAKE_WINDOW,
      );
      intake = window;
      if (options.stop?.aborted) window.stop();
      else options.stop?.addEventListener('abort', () => window.stop(), { once: true });
      await window.start();
    }
    await unlessUnwritable(adapters.store, options.storeWriteTimeoutMs ?? 30_000, untilQuiescent(engine, tracker, options, intake));
    const waitingUntil = earliest(engine.scheduler?.waitingUntil(), engine.validator?.soakingUntil(), engine.executor?.coolingUntil());
    const halted = engine.scheduler?.haltedBatches() ?? [];
    const control = await executionControlState(adapters.store);
    const gaveUp = deadLettered?.rows ?? [];
    const result: RunReport = {
      ...(await report(adapters.store, options.input, tracker.projection, intake?.takenIn)),
      ...(waitingUntil ? { waitingUntil: waitingUntil.toISOString() } : {}),
      ...(halted.length > 0 ? { haltedBatches: halted } : {}),
      ...(control.paused ? { paused: { by: control.by, reason: control.reason, since: control.since } } : {}),
      ...(gaveUp.length > 0 ? { deadLettered: gaveUp } : {}),
    };
    // A run asked to stop (SIGINT, SIGTERM) leaves work under way on purpose: the report says what was not taken in.
    const stalled = options.stop?.aborted ? [] : stalledOf(result);
    return stalled.length > 0 ? { ...result, stalled } : result;
  } finally {
    await engine.stop();
    await deadLettered?.consumer.stop();
  }
}

/**
 * `work`, unless every append to `store` fails for `timeoutMs` first: then {@link StoreWriteError}. Looked at every
 * second beside the work, not inside it: the services wait out a failing store, so the bus is never idle meanwhile.
 */
async function unlessUnwritable<T>(store: EventStore, timeoutMs: number, work: Promise<T>): Promise<T> {
  if (store.appendsFailing === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const unwritable = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      const failing = store.appendsFailing?.();
      if (failing !== undefined && Date.now() - failing.since.getTime() >= timeoutMs) reject(storeWriteError(failing));
    }, Math.min(1000, timeoutMs));
  });
  try {
    return await Promise.race([work, unwritable]);
  } finally {
    clearInterval(timer);
    work.catch(() => undefined); // it ends with the engine, which the caller stops
  }
}

function storeWriteError(failing: { readonly since: Date; readonly error: string }): StoreWriteError {
  return new StoreWriteError(
    `the event store could not be written for ${Math.round((Date.now() - failing.since.getTime()) / 1000)} s (${failing.error}); stopped: what was recorded is safe, and optex resume carries on once the store can be written again (free the disk, fix the file's permissions)`,
  );
}

/** The groups whose dead letters a run reports: every service's but the risk-assessor's (a record without an outcome is reported apart). */
const WATCHED_GROUPS = [SERVICE_GROUPS.approval, SERVICE_GROUPS.scheduler, SERVICE_GROUPS.executor, SERVICE_GROUPS.validator];

/** Collects what the services dead-letter on `bus` from now on. */
async function watchDeadLetters(bus: Bus): Promise<{ rows: DeadLetterRow[]; consumer: Consumer }> {
  const rows: DeadLetterRow[] = [];
  const topics = new Map(WATCHED_GROUPS.map((group) => [deadLetterTopicOf(group), group]));
  const consumer = await bus.subscribe({ groupId: 'optex-run-dead-letters', topics: [...topics.keys()] }, async (delivery) => {
    const subject = delivery.headers['ce_subject'];
    const optimizationId = subject?.startsWith(OPTIMIZATION_STREAM_PREFIX) ? subject.slice(OPTIMIZATION_STREAM_PREFIX.length) : null;
    rows.push({ group: topics.get(delivery.topic) ?? delivery.topic, optimizationId, reason: delivery.headers[DLQ_HEADERS.reason] ?? 'no reason given' });
    return { kind: 'ack' };
  });
  return { rows, consumer };
}

const NO_BYTES = new Uint8Array(0);
/** A record whose message went out: its size stays, its bytes go. */
const spent = (record: InputRecord): InputRecord => ({ bytes: NO_BYTES, size: record.size });

/** The earliest of the times given (undefined ones left out), if any. */
const earliest = (...times: (Date | undefined)[]): Date | undefined => times.reduce<Date | undefined>((a, b) => (a === undefined ? b : b === undefined || a <= b ? a : b), undefined);

/**
 * The input topic's messages for an input: keyed per resource, each with its delivery id
 * (`input:<input hash>:<index>`, so re-submitting the same content is a redelivery), index, dry-run flag and, when the
 * input says who submits it, the submitter (`x-optex-submitted-by`); the bytes
 * go unchanged (the risk-assessor's intake checks them), with the full size of a record cut to a prefix.
 */
export function recommendationMessages(input: InputRecords, dryRun: boolean, limits: IntakeLimits = defaultIntakeLimits): BusMessage[] {
  return input.records.map((_, index) => recommendationMessage(input, index, dryRun, limits));
}

/** The input topic's message of the record at `index` (see {@link recommendationMessages}). */
export function recommendationMessage(input: InputRecords, index: number, dryRun: boolean, limits: IntakeLimits = defaultIntakeLimits): BusMessage {
  const record = input.records[index];
  if (record === undefined) throw new RangeError(`index ${index} is outside the input's ${input.records.length} records`);
  return {
    topic: TOPICS.recommendations,
    key: recordKey(record, index, limits),
    value: Buffer.from(record.bytes.buffer, record.bytes.byteOffset, record.bytes.length),
    headers: {
      [HEADERS.deliveryId]: `${input.deliveryPrefix}:${index}`,
      [HEADERS.index]: String(index),
      [HEADERS.dryRun]: String(dryRun),
      ...(record.size > record.bytes.length ? { [HEADERS.recordBytes]: String(record.size) } : {}),
      ...(input.submittedBy ? { [HEADERS.submittedBy]: submitterHeader(input.submittedBy) } : {}),
    },
  };
}

/** Per-resource key of a record that passes the intake (ordering), else its index (it will be rejected). */
export function recordKey(record: InputRecord, index: number, limits: IntakeLimits = defaultIntakeLimits): string {
  const outcome = intakeRecord(record.bytes, limits, record.size);
  return outcome.ok ? resourceKeyOf(outcome.recommendation) : `record-${index}`;
}

/**
 * Waits for a fixed point: the bus idle, the relay caught up, the scheduler's tick done, the bus idle
 * again and no event observed in between; then asks {@link isQuiescent}. Otherwise waits for the
 * next observed event (or 50 ms) and looks again. Progress lines come from a timer reading its counters.
 */
async function untilQuiescent(engine: EngineHandle, tracker: QuiescenceTracker, options: ProcessOptions, intake?: IntakeWindow): Promise<void> {
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
  let timer: NodeJS.Timeout | undefined;
  if (progress) {
    const show = () => progress(tracker.progressLine(Date.now() - started));
    timer = setTimeout(() => {
      show();
      timer = setInterval(show, options.progressEveryMs ?? 1000);
    }, options.progressAfterMs ?? 1000);
  }
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
      if (intake && intake.remaining > 0) {
        // Records are left: when nothing moves (those in flight settled without a counted optimization, or wait for
        // something), the next window goes out; otherwise the window refills itself as optimizations settle.
        if (relayCaughtUp && !(engine.scheduler?.busy() ?? false)) await intake.forceNext();
        else await tracker.changed(50);
        continue;
      }
      const counts = tracker.counts();
      const unsettled = counts.total - counts.settled;
      const signals = {
        relayCaughtUp,
        schedulerBusy: engine.scheduler?.busy() ?? false,
        // Only asked when it can matter (it looks at every open batch).
        waitingForLater:
          relayCaughtUp && unsettled > 0 && unsettled === counts.approved && (engine.scheduler?.waitingUntil() !== undefined || (engine.scheduler?.haltedBatches().length ?? 0) > 0),
        quietMs: tracker.quietMs,
      };
      if (isQuiescent(counts, signals, stallMs)) return;
      await tracker.changed(50);
    }
  } finally {
    // clearTimeout and clearInterval clear either kind of timer.
    clearTimeout(timer);
  }
}

/**
 * The report of a run (`input` given: that input's optimizations and the rejections and duplicates of its records)
 * or of the whole store. `projection` is a read model already up to date with the store (else it is rebuilt from
 * the log). For an input, what became of each record is read from the log (an optimization received with its
 * delivery id, a rejection, a duplicate) and {@link accountForRecords} checks that each ended exactly once: a
 * record that did not is an {@link IntakeInvariantError}, never a silently smaller report. `at`: the instant a read
 * command looks (its real time; {@link viewOf}): approval requests past their expiry read `expired` before it is
 * recorded. A run's own report leaves it out (its clock may not be the real one; the run records expiries itself).
 */
export async function report(store: EventStore, input?: InputRecords, projection?: OptimizationProjection, takenIn?: number, at?: Date): Promise<RunReport> {
  projection ??= await OptimizationProjection.load(store);
  const prefix = input ? `${input.deliveryPrefix}:` : undefined;
  const inRun = (deliveryId: string) => prefix === undefined || deliveryId.startsWith(prefix);
  const rejectedEvents = (await store.readStream(REJECTED_STREAM)).map((e) => (parseStoredEvent(e) as RecommendationRejected).data).filter((d) => inRun(d.deliveryId));
  const duplicates = (await store.readStream(DUPLICATES_STREAM)).map((e) => (parseStoredEvent(e) as RecommendationDuplicated).data).filter((d) => inRun(d.deliveryId));
  // One state at a time (settled ones are held packed by the projection): keep the small view and the conflicts.
  const optimizations: OptimizationView[] = [];
  const conflicts: RunReport['conflicts'][number][] = [];
  const waitingOnResource: ResourceWaitRow[] = [];
  const take = (s: KnownOptimization): void => {
    optimizations.push(viewOf(s, at));
    const key = s.status === 'approved' ? projection.resourceKeyOf(s.optimizationId) : undefined;
    const held = key === undefined ? undefined : resourceHeldWait(s, projection.activeOnResource(key));
    if (held) waitingOnResource.push({ optimizationId: s.optimizationId, resourceId: s.recommendation.resource.id, heldBy: held.heldBy, reason: held.reason });
    for (const c of s.conflicts ?? []) {
      if (!inRun(c.deliveryId)) continue;
      conflicts.push({
        index: prefix === undefined ? null : Number(c.deliveryId.slice(prefix.length)),
        optimizationId: s.optimizationId,
        recommendationId: s.recommendation.recommendationId,
        deliveryId: c.deliveryId,
        at: c.at,
        differences: c.differences,
      });
    }
  };
  let account: RecordAccount | undefined;
  if (input && prefix !== undefined) {
    // This input's optimizations (received with its delivery ids), then those only its duplicates named.
    const indexOf = (deliveryId: string) => Number(deliveryId.slice(prefix.length));
    const outcomes: (readonly [number, 'processed' | 'rejected' | 'duplicate'])[] = [];
    const taken = new Set<string>();
    for (const s of projection.states()) {
      if (!s.deliveryId.startsWith(prefix)) continue;
      outcomes.push([indexOf(s.deliveryId), 'processed']);
      taken.add(s.optimizationId);
      take(s);
    }
    for (const r of rejectedEvents) outcomes.push([indexOf(r.deliveryId), 'rejected']);
    for (const d of duplicates) outcomes.push([indexOf(d.deliveryId), 'duplicate']);
    // A run asked to stop took in only its first records: those are accounted for, the rest reported as not taken in.
    account = accountForRecords(takenIn ?? input.records.length, outcomes);
    for (const d of duplicates) {
      if (taken.has(d.optimizationId)) continue;
      taken.add(d.optimizationId);
      const s = projection.get(d.optimizationId);
      if (s) take(s);
    }
  } else for (const s of projection.states()) take(s);
  conflicts.sort((a, b) => (a.index ?? 0) - (b.index ?? 0) || a.at.localeCompare(b.at));
  // An input's conflicts are its records'; a store's are the ones its optimizations hold (previews' left out with them).
  const previews = { rejected: rejectedEvents.filter(isPreviewRejection).length, duplicates: duplicates.filter((d) => projection.get(d.optimizationId)?.dryRun === true).length };
  const summary = summarize(optimizations, { rejected: rejectedEvents.length, duplicates: duplicates.length, previews, ...(account ? { conflicts: conflicts.length } : {}) });
  return {
    summary: account ? { ...summary, received: account.received } : summary,
    optimizations,
    conflicts,
    rejected: rejectedEvents
      .map((r) => ({ index: r.index ?? null, recommendationId: r.recommendationId ?? null, errors: r.errors.map(formatError) }))
      .sort((a, b) => (a.index ?? 0) - (b.index ?? 0)),
    ...(waitingOnResource.length > 0 ? { waitingOnResource } : {}),
    ...(input && takenIn !== undefined && takenIn < input.records.length ? { notTakenIn: { count: input.records.length - takenIn, firstIndex: takenIn } } : {}),
  };
}

const formatError = (e: FieldError): string => `${e.path}: ${e.message}`;
