import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import {
  CONTROL_STREAM,
  parseControlEvent,
  pauseHolds,
  isIntent,
  joinsOutcome,
  restoredTags,
  OPTIMIZATION_STREAM_PREFIX,
  moverOf,
  nextMove,
  optimizationDecider,
  optimizationStream,
  type Move,
  type ObservedResource,
  type OptimizationCommand,
  type OptimizationEvent,
  type OptimizationState,
  type Policy,
  type PriceBook,
} from '@optex/domain';
import { CallHeldError, ConcurrencyError, ec2Refusal, InfrastructureError, isOutage, type Clock, type Ec2Gateway, type EventStore, type IntegrationEvent, type Logger, type MetricsSource } from '@optex/ports';
import {
  CLOCK,
  EC2_GATEWAY,
  ENGINE_OPTIONS,
  EVENT_STORE,
  LOGGER,
  METRICS_SOURCE,
  OPTEX_METRICS,
  POLICY,
  PRICE_BOOK,
  OptimizationProjection,
  KeyedMutex,
  executionControlState,
  ResumeWatch,
  OWNS_EVERY_RESOURCE,
  ownsOptimization,
  type ResourceOwnership,
  StallSweeper,
  lastLoggedAt,
  PendingDecisions,
  type CommandContext,
  type CommandResult,
  handleCommand,
  loadStream,
  observeResource,
  resourceKeyOf,
  sweepAfterMsOf,
  type EngineOptions,
  type KnownOptimization,
  type OptexMetrics,
  READ_MODEL,
  readModelOf,
  type SharedReadModel,
  WakeUps,
  startVerdictOf,
} from '@optex/engine';
import { StepRunner } from './step-runner';
import { lookUpEffect } from './effect-lookup';
import { LookupFailures } from './lookup-failures';
import { handleThroughOutage, recoverEach, type RecoverOptions } from './outage-retry';

const RECORDED_BY = 'executor';

/** Events that hand an optimization to the executor: dispatched by the scheduler, a rollback the validator started, or one an operator retries. */
const DRIVES_EXECUTION = new Set(['ExecutionScheduled', 'RollbackStarted', 'RollbackRetried']);

/** A safety bound on the moves of one handling (the longest plan and its rollback take far fewer). */
const MAX_MOVES_PER_HANDLING = 200;

/**
 * Executes scheduled optimizations: a thin loop around the domain's process manager ({@link nextMove}) — observe,
 * decide, append, perform — that carries one optimization as far as it can go within one handling (start,
 * pre-validation, every step of the plan, success or failure and rollback). Decisions between EC2 calls that change
 * nothing (observing the resource, dry-run calls) are appended together ({@link PendingDecisions}): a dry run appends
 * once. Before every EC2 call that may change something, what is pending is appended, the step's intent with its
 * client token among it, and the call's outcome is appended as soon as it returns; a step found started but
 * without outcome (a crash, or another process) is reconciled by looking its effect up, never blindly called again;
 * a look-up EC2 refuses, or that still fails `reconcileLookupTimeoutMs` after the intent, leaves the optimization in
 * `reconciliation-needed` for an operator ({@link LookupFailures}).
 * After a crash, the unacknowledged event is redelivered (or `recoverOnStart` re-drives) and the loop continues
 * from where the log says it stopped. A {@link StallSweeper} resumes what the executor must move (the domain's
 * `moverOf`) and in which no event was seen for `sweepAfterMs`: an execution or rollback whose message is gone.
 */
@Injectable()
export class ExecutorService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly runner: StepRunner;
  /** Set when the process shuts down: loops stop between moves (the log says where; the next handling continues). */
  private stopping = false;
  /** Aborted when the process shuts down: ends the waits for EC2 (a throttle, an outage at start-up) at once. */
  private readonly stopped = new AbortController();
  private readonly locks = new KeyedMutex();
  private projection = new OptimizationProjection();
  private readonly sweeper: StallSweeper;
  private sweeps = 0;
  /** Drives what waited once execution resumes, whether or not this instance is delivered the resume. */
  private readonly resumes: ResumeWatch;
  /** Which optimizations' messages this instance owns ({@link ownResourcesBy}). */
  private ownsResource: ResourceOwnership = OWNS_EVERY_RESOURCE;
  /** Timers that drive a rollback again when EC2's volume modification cool-down it waits for is over. */
  private readonly coolingDown = new WakeUps();
  /** The bound on looking up the effect of a step whose outcome is unknown (`reconcileLookupTimeoutMs`). */
  private readonly lookupFailures: LookupFailures;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(EC2_GATEWAY) private readonly gateway: Ec2Gateway,
    @Inject(METRICS_SOURCE) private readonly metricsSource: MetricsSource,
    @Inject(POLICY) private readonly policy: Policy,
    @Inject(PRICE_BOOK) private readonly priceBook: PriceBook,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(OPTEX_METRICS) private readonly metrics: OptexMetrics,
    @Inject(ENGINE_OPTIONS) private readonly options: EngineOptions,
    /** The read model this process's services share (absent when a service is built on its own, as in unit specs). */
    @Optional() @Inject(READ_MODEL) private readonly sharedReadModel?: SharedReadModel,
  ) {
    this.runner = new StepRunner(gateway, {
      callTimeoutMs: options.callTimeoutMs,
      waitTimeoutMs: options.waitTimeoutMs,
      attempts: options.stepAttempts,
      backoffMs: options.stepBackoffMs,
      onRetry: (error, attempt) => this.logger.warn({ err: String(error), attempt }, 'transient EC2 error; retrying step'),
      onThrottled: (error, round, delayMs) => this.logger.warn({ err: String(error), round, delayMs }, 'EC2 still throttles the step after its attempts (nothing was carried out); waiting it out'),
      signal: this.stopped.signal,
    });
    this.lookupFailures = new LookupFailures(options.reconcileLookupTimeoutMs);
    this.sweeper = new StallSweeper({
      everyMs: options.sweepEveryMs,
      afterMs: sweepAfterMsOf(options),
      now: () => Date.now(),
      logger: logger.child({ component: 'executor-sweeper' }),
      candidates: () => this.mustMove(),
      resume: (id) => this.drive(id, `sweep:${id}:${++this.sweeps}`),
      lastLoggedAt: (id) => lastLoggedAt(this.store, id),
      owns: (id) => ownsOptimization(this.projection, this.ownsResource, id),
    });
    this.resumes = new ResumeWatch(store, {
      everyMs: options.resumeWatchMs,
      logger: logger.child({ component: 'executor-resume-watch' }),
      onResumed: (eventId) => this.driveResumed(eventId),
    });
  }

  /**
   * Binds which resources' messages this instance owns (its consumer's partitions of the executor's topic): the
   * sweeper and a kill-switch resume then drive only those, and leave the rest to the instances that own them.
   */
  ownResourcesBy(ownership: ResourceOwnership): void {
    this.ownsResource = ownership;
  }

  /** What the executor must move now (scheduled and due, executing, rolling back; not waiting for an operator). */
  private *mustMove(): Iterable<string> {
    const now = this.clock.now();
    for (const status of ['scheduled', 'executing', 'rolling-back'] as const) {
      for (const id of this.projection.idsByStatus(status)) {
        const state = this.projection.get(id);
        if (state && moverOf(state, { now }) === 'executor') yield id;
      }
    }
  }

  /** Resumes now what the executor must move and made no progress for `sweepAfterMs` (the timer does this every `sweepEveryMs`). */
  sweep(): Promise<readonly string[]> {
    return this.sweeper.sweep();
  }

  /**
   * Loads the read model of every optimization (pre-validation observes which others are active on the same
   * resource) and, in embedded mode, re-drives executions left mid-way.
   */
  async onApplicationBootstrap(): Promise<void> {
    this.projection = await readModelOf(this.store, this.sharedReadModel);
    this.sweeper.start();
    await this.resumes.start();
    if (!this.options.recoverOnStart) return;
    // By status, so that no settled optimization is unpacked; executions under way before those not yet started.
    const ids = [...this.projection.idsByStatus('executing'), ...this.projection.idsByStatus('rolling-back'), ...this.projection.idsByStatus('scheduled')];
    // An outage (EC2 throttling or unavailable, the store unreachable) is waited out as a delivery's is: that
    // optimization is driven again with backoff while the others are recovered, and the start-up ends once every one
    // went through (so `run`/`resume` do not report before) or the process stops. Any other error fails it, as before.
    await recoverEach(ids, (id) => this.drive(id, `recover:${id}`), this.recovery);
  }

  /** Drives the optimization again with backoff for as long as an outage lasts, until it goes through or the process stops. */
  private driveThroughOutage(optimizationId: string, causationKey: string, first: unknown): Promise<void> {
    return handleThroughOutage(optimizationId, () => this.drive(optimizationId, causationKey), first, this.recovery);
  }

  private get recovery(): RecoverOptions {
    return { signal: this.stopped.signal, initialDelayMs: this.options.stepBackoffMs, logger: this.logger, doing: 'driving', concurrency: this.options.maxParallel };
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    this.coolingDown.clear();
    await this.sweeper.stop();
    await this.resumes.stop();
  }

  /**
   * The earliest time a move of this executor waits for, if any: the end of EC2's cool-down a rollback waits out, or
   * the start of a scheduled one the policy holds at its start (a freeze, outside its windows, its cool-down).
   */
  coolingUntil(): Date | undefined {
    return this.coolingDown.earliest((id) => {
      const status = this.projection.statusOf(id);
      return status === 'rolling-back' || status === 'scheduled';
    });
  }

  /** Drives the optimization again at `until` (a time the process manager said it waits for), once per optimization. */
  private driveLater(optimizationId: string, until: string, reason: string): void {
    const key = `until:${optimizationId}:${until}`;
    // An outage then is waited out (driven again with backoff), as at start-up.
    const drive = () =>
      void this.drive(optimizationId, key)
        .catch((err: unknown) => {
          if (isOutage(err) && !this.stopping) return this.driveThroughOutage(optimizationId, key, err);
          throw err;
        })
        .catch((err) => this.logger.error({ optimizationId, err: String(err) }, 'driving after the wait failed'));
    if (this.coolingDown.set(optimizationId, Date.parse(until), this.clock.now().getTime(), drive)) this.logger.info({ optimizationId, until, reason }, 'waiting before the next move');
  }

  async onEvent(event: IntegrationEvent): Promise<void> {
    if (event.stream === CONTROL_STREAM) return this.onControl(event);
    if (!event.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) return;
    this.projection.applyRelayed(event);
    this.store.rememberDelivered?.(event);
    this.sweeper.progressed(event.stream.slice(OPTIMIZATION_STREAM_PREFIX.length));
    if (!DRIVES_EXECUTION.has(event.type)) return;
    await this.drive(event.stream.slice(OPTIMIZATION_STREAM_PREFIX.length), event.id, event.revision);
  }

  /** Pause: held moves stop at their next turn. Resume: everything this instance must move is driven again. */
  private async onControl(event: IntegrationEvent): Promise<void> {
    const control = parseControlEvent(event);
    this.logger.warn({ control: control.data }, control.type === 'ExecutionPaused' ? 'execution paused: no execution or execution step starts' : 'execution resumed');
    if (control.type === 'ExecutionResumed') await this.resumes.delivered(event.id);
  }

  /** After the resume `eventId`: drives everything the executor must move whose messages this instance owns. */
  private async driveResumed(eventId: string): Promise<void> {
    const ids = [...this.mustMove()].filter((id) => ownsOptimization(this.projection, this.ownsResource, id));
    await Promise.all(ids.map((id) => this.drive(id, `resumed:${eventId}:${id}`)));
  }

  /**
   * Carries one optimization as far as it can go now; one handling at a time per optimization. With `atRevision` (the
   * delivered event's), it starts from the read model's state when that is the last event the read model folded, and
   * reads the stream otherwise. Either way, every EC2 call that may change something follows an append that names the
   * revision its decision was taken at, so a stream that moved on is read again before any such call.
   */
  drive(optimizationId: string, causationKey: string, atRevision?: bigint): Promise<void> {
    return this.locks.run(optimizationId, () => this.carry(optimizationId, causationKey, atRevision));
  }

  private async carry(optimizationId: string, causationKey: string, atRevision?: bigint): Promise<void> {
    const stream = optimizationStream(optimizationId);
    const reload = async () => new PendingDecisions(this.store, stream, optimizationDecider, await loadStream(this.store, stream, optimizationDecider));
    const folded = atRevision === undefined ? undefined : this.projection.knownAt(optimizationId, atRevision);
    let decisions = folded ? new PendingDecisions<OptimizationCommand, OptimizationEvent, OptimizationState>(this.store, stream, optimizationDecider, folded) : await reload();
    // What this handling appended is folded at once: a redelivery of the same event then reads the stream.
    const remember = () => this.projection.set(optimizationId, decisions.state, decisions.revision);
    let justStarted: string | undefined;
    /**
     * True from this handling's pre-validation (it described the resource) until anything else touches the resource or
     * the stream is read again: the first step's call then need not describe the resource once more.
     */
    let observedJustBefore = false;
    /** Appends what is pending; false when the stream moved on meanwhile (then read again: decide anew from the log). */
    const flush = async (): Promise<boolean> => {
      try {
        this.observe(decisions.state as KnownOptimization, await decisions.flush()); // observe reads only the action
        remember();
        return true;
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
        decisions = await reload();
        justStarted = undefined;
        observedJustBefore = false;
        return false;
      }
    };
    for (let moves = 0; moves < MAX_MOVES_PER_HANDLING; moves++) {
      const state = decisions.state;
      if (state.status === 'initial') return;
      // Not acknowledged: the message is handled again after the restart, from where the log says this loop stopped.
      if (this.stopping) throw new InfrastructureError(`executor shutting down before ${optimizationId} is done; handled again after the restart`);
      const now = this.clock.now();
      // A scheduled one is judged again at its start (windows, freezes, cool-down): its dispatch may be long past.
      const verdict = state.status === 'scheduled' ? startVerdictOf(this.policy, state, now, (key) => this.projection.lastChangeOn(key)) : undefined;
      const move = nextMove(state, { now, ...(justStarted ? { justStarted } : {}), ...(verdict ? { startVerdict: verdict } : {}) });
      if (move.kind === 'idle' && move.until !== undefined) this.driveLater(optimizationId, move.until, move.reason);
      // An EC2 call that may change something (or the look-up of one cut short) runs with everything before it
      // appended (its intent among them) and has its outcome appended at once, with the decisions that follow it and
      // that no pause holds (the last step's completion and ExecutionSucceeded go together); observing, dry runs and
      // the other decisions in between are appended together at the next such call or when the handling ends.
      const changesEc2 = (move.kind === 'perform' && !move.dryRun) || move.kind === 'reconcile';
      if (changesEc2 && !(await flush())) continue;
      // The kill switch as the log says now, read before every move a pause would hold: a pause takes effect at the
      // next such move whatever the bus is busy with (its message may queue behind this very handling).
      if (pauseHolds(move) && (await this.paused())) {
        if (await flush()) return; // resumed by ExecutionResumed (or the sweeper, once resumed)
        continue;
      }
      // The revision the decision was taken at makes the event ids deterministic: a redelivery appends nothing new.
      const resourceKey = resourceKeyOf(state.recommendation);
      const contextAt = (revision: bigint) => ({ causationKey: `${causationKey}@${revision}`, recordedBy: RECORDED_BY, metadata: { resourceKey } });
      let command: OptimizationCommand | undefined;
      try {
        command = await this.commandFor(state as KnownOptimization, move, now, observedJustBefore);
      } catch (error) {
        if (!(error instanceof CallHeldError)) throw error;
        // No call of the step was carried out and none is in flight (the kill switch held it, or EC2 throttled it and
        // this process is stopping): its intent is closed as not carried out, and the step is started again later —
        // by ExecutionResumed, the sweeper or the redelivery after the restart — instead of being looked up, which for
        // a reservation purchase cannot tell "not bought" from "not visible yet" and would call an operator.
        this.logger.warn({ optimizationId, error: error.message }, 'execution step not carried out: its intent is closed, the step starts again later');
        if (move.kind === 'perform' && move.clientToken !== undefined) {
          const evidence = { kind: 'not-carried-out', reason: error.message } as const;
          decisions.decide({ type: 'ReconcileStep', data: { phase: move.phase, index: move.index, evidence }, metadata: { now: this.clock.now() } }, contextAt(decisions.revision));
        }
        await flush();
        if (this.stopping) throw new InfrastructureError(`executor shutting down before ${optimizationId} is done; handled again after the restart`, { cause: error });
        return;
      }
      observedJustBefore = move.kind === 'pre-validate' || (observedJustBefore && move.kind === 'decide');
      const context = contextAt(decisions.revision);
      if (command && changesEc2) {
        // Nothing is pending here; a conflict re-decides this outcome alone on the stream as it is now.
        const result = await this.recordOutcome(stream, { state, revision: decisions.revision }, command, contextAt);
        this.observe(state as KnownOptimization, result.events);
        if (result.events.length === 0) return; // nothing changed: another handling made this move already
        justStarted = intentOf(result.events);
        decisions = new PendingDecisions(this.store, stream, optimizationDecider, result);
        remember();
        continue;
      }
      // No command, or one that changes nothing (another handling made this move already): this handling ends here.
      const events = command ? decisions.decide(command, context) : [];
      if (events.length === 0) {
        if (await flush()) return;
        continue;
      }
      justStarted = intentOf(events);
    }
    await flush();
    this.logger.error({ optimizationId, moves: MAX_MOVES_PER_HANDLING }, 'execution loop stopped: too many moves in one handling');
  }

  /**
   * Appends the outcome of an EC2 call that may have changed something together with the decisions that follow it on
   * their own (the domain's `joinsOutcome`: e.g. the last step's completion and `ExecutionSucceeded`, a failure and the
   * rollback's first intent), in one append: durable at once, in one round trip instead of two. Each event gets the id
   * it would have had appended alone (`contextAt` the revision it was decided at). When the stream moved on meanwhile,
   * the outcome alone is decided again on the stream as it is now (`handleCommand` reads it) and the loop decides what
   * follows.
   */
  private async recordOutcome(
    stream: string,
    known: { readonly state: OptimizationState; readonly revision: bigint },
    outcome: OptimizationCommand,
    contextAt: (revision: bigint) => CommandContext,
  ): Promise<CommandResult<OptimizationEvent, OptimizationState>> {
    const together = new PendingDecisions<OptimizationCommand, OptimizationEvent, OptimizationState>(this.store, stream, optimizationDecider, known);
    const decided = together.decide(outcome, contextAt(known.revision));
    if (decided.length === 0) return { state: known.state, events: [], revision: known.revision };
    let justStarted = intentOf(decided);
    for (let moves = 0; moves < MAX_MOVES_PER_HANDLING; moves++) {
      const move = nextMove(together.state, { now: this.clock.now(), ...(justStarted ? { justStarted } : {}) });
      if (!joinsOutcome(move)) break;
      const more = together.decide(move.command, contextAt(together.revision));
      if (more.length === 0) break;
      justStarted = intentOf(more) ?? justStarted;
    }
    try {
      const events = await together.flush();
      return { state: together.state, events, revision: together.revision };
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      return handleCommand(this.store, stream, optimizationDecider, outcome, contextAt(known.revision));
    }
  }

  /**
   * The resource as pre-validation sees it; a refusal to describe it that retrying would not change (a missing
   * permission, say) is returned for the decider to fail on, naming the code. Throttling, EC2's own failures and
   * outages are thrown, so the delivery is retried.
   */
  private async observeForPreValidation(s: KnownOptimization, now: Date): Promise<{ observed?: ObservedResource; describeError?: { code: string; message: string } }> {
    try {
      const observed = await observeResource(this.gateway, this.metricsSource, s.recommendation, { from: new Date(now.getTime() - this.options.validationWindowMs), to: now });
      return observed ? { observed } : {};
    } catch (error) {
      const refusal = ec2Refusal(error);
      if (!refusal) throw error;
      return { describeError: refusal };
    }
  }

  /** The command that records the outcome of a move, after performing what the move asks (observe, call, look up). */
  private async commandFor(s: KnownOptimization, move: Move, now: Date, observedJustBefore: boolean): Promise<OptimizationCommand | undefined> {
    const meta = { now };
    switch (move.kind) {
      case 'idle':
      case 'validate':
        return undefined;
      case 'decide':
        return move.command;
      case 'pre-validate': {
        const seen = await this.observeForPreValidation(s, now);
        const activeOnResource = this.projection
          .activeOnResource(resourceKeyOf(s.recommendation))
          .map((o) => ({ optimizationId: o.optimizationId, action: o.recommendation.action.type, status: o.status }));
        const reassess = { policy: this.policy, priceBook: this.priceBook };
        return { type: 'RecordPreValidation', data: { ...seen, activeOnResource, scope: this.policy.scope, ...reassess }, metadata: meta };
      }
      case 'perform': {
        const result = await this.runner.run(move.step, {
          recommendation: s.recommendation,
          dryRun: move.dryRun,
          outputs: move.outputs,
          ...(move.clientToken ? { clientToken: move.clientToken } : {}),
          observedJustBefore: observedJustBefore && move.phase === 'execution' && move.index === 0,
          // An execution step's call that waited for its turn (the EC2 request budget) is not sent if the kill switch
          // engaged meanwhile: its intent stays open, and it is sent when execution resumes. Rollbacks are never held,
          // nor are the steps of an execution that has stopped an instance it starts again (the domain's pauseHolds).
          ...(move.phase === 'execution' && move.instanceStopped === undefined ? { beforeSend: () => this.unlessPaused(s.optimizationId, move.step.kind) } : {}),
        });
        const at = { now: this.clock.now() };
        if (move.phase === 'execution') {
          if (result.ok) return { type: 'CompleteExecutionStep', data: { index: move.index, step: move.step, outputs: result.outputs }, metadata: at };
          this.logger.warn({ optimizationId: s.optimizationId, step: move.step.kind, error: result.error }, 'execution step failed');
          return { type: 'FailExecution', data: { error: result.error, failedStepIndex: move.index }, metadata: at };
        }
        if (result.ok) {
          if (move.step.kind === 'create-volume-from-snapshot') this.tagsLeftOut(s, result.outputs['restoredVolumeId']);
          if (move.step.kind === 'allocate-address') this.tagsLeftOut(s, result.outputs['allocationId']);
          return { type: 'CompleteRollbackStep', data: { index: move.index, step: move.step, outputs: result.outputs }, metadata: at };
        }
        this.logger.error({ optimizationId: s.optimizationId, step: move.step.kind, error: result.error }, 'rollback step failed');
        return { type: 'FailRollback', data: { error: result.error, failedStepIndex: move.index }, metadata: at };
      }
      case 'reconcile': {
        this.logger.warn({ optimizationId: s.optimizationId, phase: move.phase, index: move.index, step: move.step.kind, lookup: move.lookup.kind }, 'step started without outcome; looking for its effect');
        try {
          const evidence = await lookUpEffect(this.gateway, s.recommendation, move.lookup, move.clientToken);
          this.lookupFailures.answered(move.clientToken);
          return { type: 'ReconcileStep', data: { phase: move.phase, index: move.index, evidence }, metadata: meta };
        } catch (error) {
          // EC2 unavailable (or refusing) to say whether the step took effect: looked up again on redelivery, as an
          // outage is, until the bound after the intent; then recorded for an operator, never repeated.
          const intentAt = (move.phase === 'execution' ? s.execution : s.rollback)?.startedStep?.at;
          const lookupFailure = this.lookupFailures.failed({ step: move.step, lookup: move.lookup, clientToken: move.clientToken, intentAt, error, now: this.clock.now() });
          if (lookupFailure === undefined) throw error;
          return { type: 'ReconcileStep', data: { phase: move.phase, index: move.index, evidence: { kind: 'unanswered', reason: lookupFailure } }, metadata: meta };
        }
      }
      default: {
        const _exhaustive: never = move;
        return _exhaustive;
      }
    }
  }

  /** Whether the kill switch is engaged: the log's last control event is a pause (read from the log each time). */
  private async paused(): Promise<boolean> {
    return (await executionControlState(this.store)).paused;
  }

  /** Throws {@link CallHeldError} when the kill switch is engaged ({@link paused}). */
  private async unlessPaused(optimizationId: string, step: string): Promise<void> {
    if (await this.paused()) throw new CallHeldError(`${step} of ${optimizationId} not sent: execution was paused while the call waited for its turn; it is sent when execution resumes`);
  }

  /**
   * Says which of the deleted volume's (released address's) tags the volume (address) a rollback restored did not get:
   * EC2 allows 50 per resource and the restore's client token takes one (the domain's `restoredTags`; the step records
   * the tags it gave).
   */
  private tagsLeftOut(s: KnownOptimization, restoredId: string | undefined): void {
    const observed = s.execution?.observed;
    if (observed?.kind === 'volume') {
      const { leftOut } = restoredTags(observed.tags);
      if (leftOut.length === 0) return;
      this.logger.warn({ optimizationId: s.optimizationId, volumeId: observed.id, restoredVolumeId: restoredId, tagsLeftOut: leftOut }, "restored the volume without some of its tags: EC2 allows 50 per resource, optex's client token among them");
    } else if (observed?.kind === 'address') {
      const { leftOut } = restoredTags(observed.tags ?? {});
      if (leftOut.length === 0) return;
      this.logger.warn(
        { optimizationId: s.optimizationId, allocationId: observed.allocationId, restoredAllocationId: restoredId, tagsLeftOut: leftOut },
        "allocated the address again without some of its tags: EC2 allows 50 per resource, optex's client token among them",
      );
    }
  }

  private observe(before: KnownOptimization, events: readonly OptimizationEvent[]): void {
    const action = before.recommendation.action.type;
    for (const e of events) {
      switch (e.type) {
        case 'ExecutionStarted':
          this.logger.info({ optimizationId: e.data.optimizationId, action, dryRun: e.data.dryRun }, 'execution started');
          break;
        case 'RiskReassessed':
          this.logger.warn(
            { optimizationId: e.data.optimizationId, from: e.data.previousLevel, to: e.data.level, factors: e.data.factors.map((f) => f.factor), returnedForApproval: e.data.returnedForApproval },
            e.data.returnedForApproval ? 'the live resource is riskier than when approved: back for approval, nothing executed' : 'the live resource is riskier than when assessed; still approved by the policy',
          );
          break;
        case 'PreValidationFailed':
          this.metrics.executions.inc({ action, result: 'failed' });
          this.logger.warn({ optimizationId: e.data.optimizationId, reasons: e.data.reasons }, 'pre-validation failed');
          break;
        case 'OptimizationOutOfScope':
          for (const v of e.data.violations) this.metrics.scopeRefusals.inc({ stage: e.data.stage, rule: v.rule });
          this.logger.warn({ optimizationId: e.data.optimizationId, reasons: e.data.violations.map((v) => v.reason) }, 'out of scope at pre-validation: nothing changed');
          break;
        case 'ExecutionSucceeded':
          this.metrics.executions.inc({ action, result: e.data.dryRun ? 'dry-run' : 'succeeded' });
          this.metrics.executionDuration.observe({ action }, e.data.durationMs / 1000);
          break;
        case 'ExecutionFailed':
          this.metrics.executions.inc({ action, result: 'failed' });
          this.metrics.executionDuration.observe({ action }, e.data.durationMs / 1000);
          break;
        case 'RollbackCompleted':
          this.metrics.rollbacks.inc({ action, result: 'completed' });
          this.logger.info({ optimizationId: e.data.optimizationId }, 'rolled back');
          break;
        case 'RollbackFailed':
          this.metrics.rollbacks.inc({ action, result: 'failed' });
          break;
        case 'ReconciliationRequired':
          this.logger.error({ optimizationId: e.data.optimizationId, step: e.data.step.kind, reason: e.data.reason }, 'reconciliation needed: an operator must check this step');
          break;
        case 'StepEffectNotFound':
          this.logger.warn({ optimizationId: e.data.optimizationId, index: e.data.index, evidence: e.data.evidence }, 'the started step had no effect; performing it again with the same client token');
          break;
        default:
          break;
      }
    }
  }
}

/** The client token of the intent among `events`, if the move recorded one. */
function intentOf(events: readonly OptimizationEvent[]): string | undefined {
  for (const e of events) if (isIntent(e)) return e.data.clientToken;
  return undefined;
}
