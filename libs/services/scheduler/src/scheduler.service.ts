import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  NEEDS_OPERATOR_STATUSES,
  OPTIMIZATION_STREAM_PREFIX,
  batchGuardDecider,
  batchHalt,
  batchRoom,
  batchStream,
  batchWindowClosesAt,
  byPriority,
  eventIdFor,
  CONTROL_STREAM,
  controlDecider,
  rollbackRefusal,
  optimizationDecider,
  optimizationStream,
  parseStoredEvent,
  soakUntil,
  stageGate,
  stageName,
  stageSizes,
  type BatchCompleted,
  type BatchEvent,
  type BatchGuardState,
  type BatchPlanned,
  type ExecutionDeferred,
  type DeferralHold,
  type StartVerdict,
  type OptimizationStatus,
  type Policy,
  type QueuedItem,
} from '@optex/domain';
import { outsideTrace, type Clock, type EventStore, type IntegrationEvent, type Logger } from '@optex/ports';
import {
  CLOCK,
  ENGINE_OPTIONS,
  EVENT_STORE,
  LOGGER,
  OPTEX_METRICS,
  POLICY,
  OptimizationProjection,
  appendOnce,
  executionControlState,
  handleCommand,
  handleCommandAt,
  inStreamSpan,
  type EngineOptions,
  type OptexMetrics,
  READ_MODEL,
  readModelOf,
  type SharedReadModel,
  startVerdictOf,
} from '@optex/engine';
import { DailyTally } from './daily-tally';
import { SchedulerQueue, queuedItemOf, type QueuedBatch } from './scheduler-queue';

/** Whether a batch member may start now, and when it may not, what holds it (what its `ExecutionDeferred` records). */
type DeferralVerdict = { readonly allowed: true } | { readonly allowed: false; readonly hold: DeferralHold; readonly until: string; readonly reason: string };

const RECORDED_BY = 'scheduler';

/**
 * Schedules approved optimizations: groups the approved ones into a batch (`BatchPlanned` in
 * `batch-<id>`, with the configured mode, maximum parallelism and `notBefore`), then dispatches
 * them (`ExecutionScheduled`) by priority and time, never more than `maxParallel` at once and
 * never two on one resource. Its state is a projection of the log, rebuilt on start, with the queue
 * kept incrementally ({@link SchedulerQueue}): an event costs O(1) plus the dispatches it allows.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private projection = new OptimizationProjection();
  private queue = new SchedulerQueue(this.projection);
  private timer?: NodeJS.Timeout;
  /** Set while the batch window is open: approvals are being collected into one batch. */
  private windowTimer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();
  /** Whether the kill switch is pulled (ExecutionPaused last in the control stream): nothing is dispatched meanwhile. */
  private paused = false;
  private windowClosed = false;
  /** The open window: when it opened and last gathered an approval (`performance.now()`), and how many it holds. */
  private window?: { readonly openedAt: number; readonly lastApprovalAt: number; readonly unbatched: number; closing: boolean };

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(OPTEX_METRICS) private readonly metrics: OptexMetrics,
    @Inject(ENGINE_OPTIONS) private readonly options: EngineOptions,
    @Inject(POLICY) private readonly policy: Policy,
    /** The read model this process's services share (absent when a service is built on its own, as in unit specs). */
    @Optional() @Inject(READ_MODEL) private readonly sharedReadModel?: SharedReadModel,
  ) {}

  /** Members waiting for a change window, a freeze, a cool-down, the daily blast-radius limit or a stage's soak: optimization id → until when (ISO). */
  private readonly deferred = new Map<string, string>();
  /** Each open batch's guards, folded from its stream (see batch-guard.ts), and the batch events already folded. */
  private readonly guards = new Map<string, BatchGuardState>();
  private readonly folded = new Set<string>();
  /** Staged batches whose current stage waits for its gate (the only ones a tick judges). */
  private readonly judging = new Set<string>();
  private tally = new DailyTally(this.projection);

  /**
   * Whether `item` waits now: its cool-down, outside its change windows or in a freeze (the domain's `startVerdict`), over
   * the daily blast-radius limit of its account, region and action, or (`soakUntil`) in the soak of a staged batch. The
   * first time (and whenever `until` changes) an `ExecutionDeferred` is recorded in the batch's stream, so history says
   * why it waited.
   */
  private holds(batchId: string, now: Date, soak?: { until: string; reason: string }): { held: (item: QueuedItem) => boolean; record: () => Promise<void> } {
    const holds: { item: QueuedItem; hold: DeferralHold; until: string; reason: string }[] = [];
    const tentative = new Map<string, number>();
    const held = (item: QueuedItem): boolean => {
      const state = this.projection.get(item.optimizationId);
      if (!state) return false;
      const lastChangeOn = (key: string) => this.projection.lastChangeOn(key);
      let verdict: StartVerdict | DeferralVerdict = soak ? { allowed: false, hold: 'stage-soak', ...soak } : startVerdictOf(this.policy, state, now, lastChangeOn, item.resourceKey);
      if (verdict.allowed && !state.dryRun) {
        const limit = this.tally.verdict(this.policy.blastRadius.perDay, state, now, tentative);
        verdict = limit.allowed ? limit : { ...limit, hold: 'daily-limit' };
      }
      if (!verdict.allowed && (verdict.hold === 'daily-limit' || verdict.hold === 'stage-soak')) {
        // Its end may fall in a freeze or outside the windows: until is the first instant those allow too.
        const then = startVerdictOf(this.policy, state, new Date(verdict.until), lastChangeOn, item.resourceKey);
        if (!then.allowed) verdict = { ...verdict, until: then.until, reason: `${verdict.reason}; then ${then.reason}` };
      }
      if (verdict.allowed) {
        this.deferred.delete(item.optimizationId);
        if (!state.dryRun) {
          const key = `${state.recommendation.accountId}/${state.recommendation.region}/${state.recommendation.action.type}`;
          tentative.set(key, (tentative.get(key) ?? 0) + 1);
        }
        return false;
      }
      if (this.deferred.get(item.optimizationId) !== verdict.until) holds.push({ item, hold: verdict.hold, until: verdict.until, reason: verdict.reason });
      this.deferred.set(item.optimizationId, verdict.until);
      return true;
    };
    const record = async (): Promise<void> => {
      for (const { item, hold, until, reason } of holds.splice(0)) {
        const data: ExecutionDeferred['data'] = { batchId, optimizationId: item.optimizationId, hold, until, reason, at: now.toISOString() };
        await this.appendBatchEvent(batchId, { type: 'ExecutionDeferred', data }, `deferred:${item.optimizationId}:${until}`);
        this.logger.info({ batchId, optimizationId: item.optimizationId, until, reason }, 'execution deferred');
      }
    };
    return { held, record };
  }

  /** Appends a batch event once (its id derives from the key) and folds it into the batch's guards. */
  private async appendBatchEvent(batchId: string, event: BatchEvent, key: string): Promise<void> {
    const stream = batchStream(batchId);
    await appendOnce(this.store, stream, event, { key, causationId: batchId, recordedBy: RECORDED_BY });
    this.fold(batchId, eventIdFor(stream, key, 0), event);
  }

  private fold(batchId: string, eventId: string, event: BatchEvent): void {
    if (this.folded.has(eventId)) return;
    this.folded.add(eventId);
    const guard = batchGuardDecider.evolve(this.guards.get(batchId) ?? batchGuardDecider.initialState(), event);
    this.guards.set(batchId, guard);
    const stage = guard.stages.at(-1);
    if (stage && !stage.passedAt && !stage.failed) this.judging.add(batchId);
    else this.judging.delete(batchId);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.projection = await readModelOf(this.store, this.sharedReadModel);
    this.queue = new SchedulerQueue(this.projection);
    this.tally = new DailyTally(this.projection);
    for await (const e of this.store.readAll({ filter: { kind: 'streamName', prefixes: ['batch-'] } })) this.onBatchEvent(e.id, parseStoredEvent(e) as BatchEvent);
    this.metrics.countHaltedBatchesBy(() => this.haltedBatches());
    this.metrics.countAwaitingOperatorBy(() => Object.fromEntries(NEEDS_OPERATOR_STATUSES.map((status) => [status, this.projection.countByStatus(status)])));
    // The kill switch as the log has it now; deliveries of the control stream keep it current.
    this.paused = (await executionControlState(this.store)).paused;
    await this.tick();
    this.timer = setInterval(() => void this.tickInBackground(), this.options.schedulerTickMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.window = undefined;
  }

  /**
   * The scheduler's read model of every optimization — the process's shared one when the app provides it — fed by every
   * lifecycle event consumed there and by the commands its services append, for read-only use by the process that runs
   * it (e.g. to know when work is done).
   */
  get readModel(): OptimizationProjection {
    return this.projection;
  }

  /** True while approvals are being collected into the next batch (work is about to be planned). */
  busy(): boolean {
    return this.window !== undefined;
  }

  async onEvent(event: IntegrationEvent): Promise<void> {
    // Each delivery is its stream's last event as the log had it, a batch's as well as an optimization's: the next
    // append after it reads no tip.
    this.store.rememberDelivered?.(event);
    if (event.stream === CONTROL_STREAM) {
      this.paused = controlDecider.evolve(controlDecider.initialState(), controlDecider.parse(event)).paused;
      if (!this.paused) await this.tick(); // what waited is judged now: its windows, freezes and the daily limit as they are at the resume
      return;
    }
    if (event.stream.startsWith('batch-')) {
      // An operator's BatchContinued (the scheduler's own batch events are folded when it appends them).
      if (event.type !== 'BatchContinued' || this.folded.has(event.id)) return;
      this.onBatchEvent(event.id, parseStoredEvent(event) as BatchEvent);
      await this.tick();
      return;
    }
    if (!event.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) return;
    // Ticks for every optimization event delivered, whether or not another service of the process folded it first.
    this.projection.applyRelayed(event);
    await this.tick();
  }

  private onBatchEvent(eventId: string, event: BatchEvent): void {
    if (event.type === 'BatchPlanned') this.queue.addBatch(event.data);
    else if (event.type === 'BatchCompleted') {
      this.queue.removeBatch(event.data.batchId);
      this.guards.delete(event.data.batchId);
      return;
    }
    this.fold(event.data.batchId, eventId, event);
  }

  /** Plans a batch for newly approved optimizations and dispatches what may start now. Serialized. */
  tick(): Promise<void> {
    // Outside the trace of whichever delivery triggered it: a tick plans batches and dispatches other optimizations,
    // each in a span of its own trace (inStreamSpan).
    const next = this.running.then(() => outsideTrace(() => this.plan()));
    this.running = next.catch(() => undefined);
    return next;
  }

  /** A tick nobody awaits (a timer's): its failure is logged. */
  private tickInBackground(): Promise<void> {
    return this.tick().catch((err) => this.logger.error({ err: String(err) }, 'scheduler tick failed'));
  }

  /**
   * The earliest future time something waiting may start: a batch's `notBefore` while it has members waiting for it,
   * or the end of an approved member's deferral (a change window, a freeze, a cool-down, the daily limit, a soak).
   */
  waitingUntil(): Date | undefined {
    const now = this.clock.now();
    let earliest = this.queue.waitingUntil(now)?.getTime();
    const flag = this.options.notBefore?.getTime();
    if (flag !== undefined && flag > now.getTime() && this.queue.openBatches().some((b) => b.waiting.size > 0) && (earliest === undefined || flag < earliest)) earliest = flag;
    for (const [id, until] of this.deferred) {
      const t = Date.parse(until);
      if (t > now.getTime() && this.projection.statusOf(id) === 'approved' && (earliest === undefined || t < earliest)) earliest = t;
    }
    return earliest === undefined ? undefined : new Date(earliest);
  }

  /** Open batches halted by a blast-radius limit or a stage's gate, with members waiting for an operator (`optex continue-batch`). */
  haltedBatches(): { batchId: string; rule: string; reason: string; waiting: number }[] {
    const halted: { batchId: string; rule: string; reason: string; waiting: number }[] = [];
    for (const batch of this.queue.openBatches()) {
      const h = this.guards.get(batch.plan.batchId)?.halted;
      if (h && batch.waiting.size > 0) halted.push({ batchId: batch.plan.batchId, rule: h.rule, reason: h.reason, waiting: batch.waiting.size });
    }
    return halted;
  }

  /** Resolves when the tick running now (if any) has finished. */
  async settled(): Promise<void> {
    await this.running;
  }

  private async plan(): Promise<void> {
    const now = this.clock.now();
    if (this.queue.unbatchedCount > 0 && this.windowClosed) {
      this.windowClosed = false;
      await this.openBatch(this.queue.unbatchedIds(), now);
    } else if (this.queue.unbatchedCount > 0) this.gather();

    if (this.judging.size > 0) for (const batch of this.queue.openBatches()) if (this.judging.has(batch.plan.batchId)) await this.judgeStage(batch, now);
    for (const batchId of this.queue.takeCompletable()) await this.completeBatch(batchId, now);
    // Paused: nothing is dispatched, so the holds (windows, freezes, the daily limit, cool-downs) are judged when
    // execution resumes, not now — a schedule taken inside a window would otherwise start after the pause, outside it.
    // This process's --not-before holds every dispatch it makes until then, of batches planned before it too (planned
    // by an earlier run without it, or waiting for a window): a resume given --not-before does not start work earlier.
    const held = this.paused || (this.options.notBefore !== undefined && this.options.notBefore > now);
    let capacity = held ? 0 : this.options.maxParallel - this.projection.activeCount();
    for (const batch of this.queue.openBatches()) {
      if (capacity <= 0) break;
      if (batch.waiting.size === 0) continue;
      const guard = this.guards.get(batch.plan.batchId) ?? batchGuardDecider.initialState();
      if (guard.halted || (await this.halt(batch, guard, now))) continue;
      const stage = await this.currentStage(batch, guard, now);
      if (stage === 'waiting') continue;
      const room = Math.min(capacity, batchRoom(this.policy.blastRadius.perBatch, batch.members.size, batch.dispatched.size - guard.baseline.dispatched));
      const { held, record } = this.holds(batch.plan.batchId, now, stage.soak);
      const chosen = stage.members ? this.queue.selectAmong(batch, stage.members, now, room, (key) => this.projection.isResourceBusy(key), held) : this.queue.select(batch, now, room, (key) => this.projection.isResourceBusy(key), held);
      await record();
      for (const item of chosen) {
        // Decided on the read model's state (no read of the stream); a stream that moved on past it is read after all.
        const known = this.projection.known(item.optimizationId);
        if (!known) continue;
        const stream = optimizationStream(item.optimizationId);
        const result = await inStreamSpan(this.store, stream, 'scheduler dispatch', { 'optex.service': RECORDED_BY, 'optex.optimization_id': item.optimizationId, 'optex.batch_id': batch.plan.batchId }, () =>
          handleCommandAt(
            this.store,
            stream,
            optimizationDecider,
            known,
            { type: 'ScheduleExecution', data: { batchId: batch.plan.batchId, notBefore: new Date(batch.plan.notBefore) }, metadata: { now } },
            // Keyed by the batch and the revision decided at: an optimization approved again (after its plan drifted)
            // is scheduled again in its batch, and that schedule must not take the first one's event id.
            { causationKey: `schedule:${batch.plan.batchId}@${known.revision}`, recordedBy: RECORDED_BY, metadata: { resourceKey: item.resourceKey } },
          ),
        );
        this.projection.set(item.optimizationId, result.state, result.revision);
        capacity--;
      }
    }
    this.metrics.queueDepth.set(this.projection.countByStatus('approved'));
    this.metrics.activeExecutions.set(this.projection.activeCount());
  }

  /**
   * Collects what is approved within the batch window into one batch: opens the window at the first approval and, on
   * each later one, moves its closing as `batchWindowClosesAt` says (at most `batchWindowMs` after the opening, or
   * `batchQuietMs` after the last approval). Wall-clock: the window groups arrivals, it is not a scheduled time.
   */
  private gather(): void {
    const at = performance.now();
    const unbatched = this.queue.unbatchedCount;
    const open = this.window;
    if (open && (open.closing || unbatched <= open.unbatched)) return;
    const window = open ? { ...open, lastApprovalAt: at, unbatched } : { openedAt: at, lastApprovalAt: at, unbatched, closing: false };
    this.window = window;
    const closesAt = batchWindowClosesAt(window.openedAt, window.lastApprovalAt, { windowMs: this.options.batchWindowMs, quietMs: this.options.batchQuietMs });
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = setTimeout(() => {
      window.closing = true;
      this.windowClosed = true;
      void this.tickInBackground().finally(() => {
        if (this.window !== window) return;
        this.window = undefined;
        this.windowTimer = undefined;
        this.windowClosed = false;
        // Approvals that came while the window was closing open the next one now, not at the next periodic tick.
        if (this.queue.unbatchedCount > 0) void this.tickInBackground();
      });
    }, Math.max(0, closesAt - at));
  }

  /**
   * The blast-radius check of a batch with waiting members: the error threshold and the per-batch limit, counted since
   * the last continue. When one trips, `BatchHalted` records why and the rest of the batch waits for an operator.
   */
  private async halt(batch: QueuedBatch, guard: BatchGuardState, now: Date): Promise<boolean> {
    const dispatched = batch.dispatched.size;
    const errors = batch.errors.size;
    // After a continue, only the failures of members dispatched since count: one in flight at the halt that failed
    // after it is not a new error (it re-halted the batch at once, and a second continue was needed).
    const since = guard.baseline.since;
    const newErrors = since === undefined ? errors : [...batch.errors].filter((id) => (this.projection.get(id)?.schedule?.scheduledAt ?? '') > since).length;
    const verdict = batchHalt(this.policy.blastRadius, {
      members: batch.members.size,
      dispatched: dispatched - guard.baseline.dispatched,
      errors: newErrors,
      waiting: batch.waiting.size,
      continued: since !== undefined,
    });
    if (!verdict) return false;
    const { batchId } = batch.plan;
    await this.appendBatchEvent(batchId, { type: 'BatchHalted', data: { batchId, rule: verdict.rule, reason: verdict.reason, dispatched, errors, at: now.toISOString() } }, `halted:${verdict.rule}:${dispatched}:${errors}`);
    this.logger.warn({ batchId, rule: verdict.rule, reason: verdict.reason }, 'batch halted: the rest waits for an operator');
    return true;
  }

  /** The status of each member of a stage, as the scheduler's projection has it. */
  private statusesOf(ids: readonly string[]): Map<string, OptimizationStatus> {
    const statuses = new Map<string, OptimizationStatus>();
    for (const id of ids) {
      const status = this.projection.statusOf(id);
      if (status) statuses.set(id, status);
    }
    return statuses;
  }

  /**
   * A staged batch's gate: once every member of its current stage ended, `StagePassed`, or `StageFailed` then
   * `BatchHalted` (rule `stage-gate`) and, as the policy says, the completed members of the stage rolled back.
   */
  private async judgeStage(batch: QueuedBatch, now: Date): Promise<void> {
    const { batchId } = batch.plan;
    const stage = this.guards.get(batchId)?.stages.at(-1);
    if (!stage || stage.passedAt || stage.failed) return;
    const gate = stageGate(this.statusesOf(stage.optimizationIds));
    if (gate.kind === 'running') return;
    const at = now.toISOString();
    if (gate.kind === 'passed') {
      await this.appendBatchEvent(batchId, { type: 'StagePassed', data: { batchId, stage: stage.stage, of: stage.of, at } }, `stage-passed:${stage.stage}`);
      this.logger.info({ batchId, stage: stage.stage, of: stage.of }, 'stage passed its gate');
      return;
    }
    const rollBack = this.policy.stagedRollout.onGateFailure === 'roll-back-stage';
    // A member whose backup snapshot expired can no longer be undone (rollbackRefusal): it is left as it is.
    const completed = rollBack ? stage.optimizationIds.filter((id) => this.projection.statusOf(id) === 'completed') : [];
    const irreversible = completed.filter((id) => rollbackRefusal(this.projection.get(id)!) !== undefined);
    if (irreversible.length > 0) this.logger.warn({ batchId, stage: stage.stage, irreversible }, 'stage failed its gate: members whose backup expired are not rolled back');
    const rolledBack = completed.filter((id) => !irreversible.includes(id)).sort();
    const name = stageName(stage.stage, stage.of);
    const reason = `${name} failed its gate: ${gate.failed.join(', ')} went wrong${rolledBack.length > 0 ? `; rolling back ${rolledBack.join(', ')}` : ''}`;
    await this.appendBatchEvent(batchId, { type: 'StageFailed', data: { batchId, stage: stage.stage, of: stage.of, failed: gate.failed, rolledBack, at } }, `stage-failed:${stage.stage}`);
    await this.appendBatchEvent(
      batchId,
      { type: 'BatchHalted', data: { batchId, rule: 'stage-gate', reason, dispatched: batch.dispatched.size, errors: batch.errors.size, stage: stage.stage, at } },
      `halted:stage-gate:${stage.stage}`,
    );
    this.logger.warn({ batchId, stage: stage.stage, failed: gate.failed, rolledBack }, 'stage failed its gate: batch halted');
    for (const id of rolledBack) {
      const result = await handleCommand(
        this.store,
        optimizationStream(id),
        optimizationDecider,
        { type: 'RollBackStage', data: { batchId, stage: stage.stage, reason: `${gate.failed.join(', ')} went wrong` }, metadata: { now } },
        { causationKey: `stage-rollback:${batchId}:${stage.stage}`, recordedBy: RECORDED_BY, metadata: { resourceKey: this.projection.resourceKeyOf(id) } },
      );
      this.projection.set(id, result.state, result.revision);
    }
  }

  /**
   * What of a batch may be dispatched under staged rollout: without staging, anything (`{}`); the current stage's
   * members; the next stage's, started (`StageStarted`) once the previous one passed and soaked; during the soak,
   * nothing, each waiting member deferred until it ends (`soak`). `'waiting'`: the current stage still runs with
   * nothing of it left to dispatch.
   */
  private async currentStage(batch: QueuedBatch, guard: BatchGuardState, now: Date): Promise<{ members?: ReadonlySet<string>; soak?: { until: string; reason: string } } | 'waiting'> {
    const sizes = stageSizes(this.policy.stagedRollout, batch.members.size);
    if (!this.policy.stagedRollout.enabled || sizes.length === 1) return {};
    const { batchId } = batch.plan;
    const last = guard.stages.at(-1);
    if (last && last.stage === last.of) return {};
    if (last && !last.passedAt && !last.failed) {
      const open = last.optimizationIds.filter((id) => batch.waiting.has(id));
      return open.length > 0 ? { members: new Set(open) } : 'waiting';
    }
    if (last?.passedAt) {
      const until = soakUntil(this.policy.stagedRollout, last.passedAt);
      if (Date.parse(until) > now.getTime()) return { soak: { until, reason: `staged rollout: ${stageName(last.stage, last.of)} passed; soaking until ${until}` } };
    }
    const next = (last?.stage ?? 0) + 1;
    const waiting = [...batch.waiting].map((id) => this.projection.get(id)).filter((s) => s !== undefined).map((s) => queuedItemOf(s, this.projection.resourceKeyOf(s.optimizationId))).sort(byPriority);
    const ids = (next === sizes.length ? waiting : waiting.slice(0, sizes[next - 1])).map((i) => i.optimizationId);
    await this.appendBatchEvent(batchId, { type: 'StageStarted', data: { batchId, stage: next, of: sizes.length, optimizationIds: ids, at: now.toISOString() } }, `stage-started:${next}`);
    this.logger.info({ batchId, stage: next, of: sizes.length, size: ids.length }, 'stage started');
    return next === sizes.length ? {} : { members: new Set(ids) };
  }

  private async openBatch(unbatched: readonly string[], now: Date): Promise<void> {
    const ids = [...unbatched].sort();
    const batchId = eventIdFor('batch', ids.join(','), 0);
    const notBefore = this.options.notBefore && this.options.notBefore > now ? this.options.notBefore : now;
    const plan: BatchPlanned['data'] = {
      batchId,
      mode: this.options.batchMode,
      maxParallel: this.options.maxParallel,
      notBefore: notBefore.toISOString(),
      optimizationIds: ids,
      at: now.toISOString(),
    };
    // The batch's first event (its id is its members'; planned again after a crash, the same event is already there).
    await appendOnce(this.store, batchStream(batchId), { type: 'BatchPlanned', data: plan }, { key: 'planned', causationId: batchId, recordedBy: RECORDED_BY }, 'no_stream');
    this.queue.addBatch(plan);
    this.logger.info({ batchId, mode: plan.mode, maxParallel: plan.maxParallel, notBefore: plan.notBefore, size: ids.length }, 'batch planned');
  }

  private async completeBatch(batchId: string, now: Date): Promise<void> {
    const data: BatchCompleted['data'] = { batchId, at: now.toISOString() };
    await appendOnce(this.store, batchStream(batchId), { type: 'BatchCompleted', data }, { key: 'completed', causationId: batchId, recordedBy: RECORDED_BY });
    this.queue.removeBatch(batchId);
    this.logger.info({ batchId }, 'batch completed');
  }
}
