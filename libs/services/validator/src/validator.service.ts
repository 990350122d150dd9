import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { OPTIMIZATION_STREAM_PREFIX, executionEndedAt, moverOf, nextMove, optimizationDecider, optimizationStream, validationDueAt, type PerformanceFigures, type PerformanceSample, type PriceBook, type Policy } from '@optex/domain';
import { ec2Refusal, isOutage, type Clock, type Ec2Gateway, type EventStore, type IntegrationEvent, type Logger, type MetricsSource } from '@optex/ports';
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
  StallSweeper,
  OWNS_EVERY_RESOURCE,
  ownsOptimization,
  type ResourceOwnership,
  lastLoggedAt,
  handleCommandAt,
  loadStream,
  describeResource,
  refOf,
  resourceKeyOf,
  sweepAfterMsOf,
  type EngineOptions,
  type KnownOptimization,
  type OptexMetrics,
  READ_MODEL,
  readModelOf,
  type SharedReadModel,
  WakeUps,
} from '@optex/engine';
import { handleThroughOutage, recoverEach, type RecoverOptions } from '@optex/executor';

const RECORDED_BY = 'validator';
/** Waits of a millisecond each for the clock to pass the end of a change before its "after" window is sampled. */
const CLOCK_WAITS = 3;

/**
 * Post-validation of each executed optimization: once the policy's soak (`validation.soakMinutes`) after the change is
 * over, observes the resource and, for an instance, its performance — CPU p95, memory used, network in and out, status
 * checks — over a window that ends when the execution started (before) and one that starts when it ended (after);
 * "no data" is unknown. It hands them to the decider, which judges whether the resource is in the state asked for,
 * prices the actual monthly savings and their accuracy (price book) and compares the performance (policy). A failed
 * validation starts the rollback (the decider records both). A soaking optimization is validated by a timer when its
 * soak ends; a {@link StallSweeper} validates what is left `validating` with no event seen for `sweepAfterMs`.
 */
@Injectable()
export class ValidatorService implements OnApplicationBootstrap, OnModuleDestroy {
  /** Every optimization's state, to know which wait for a validation (the sweeper's candidates). */
  private projection = new OptimizationProjection();
  private readonly locks = new KeyedMutex();
  private readonly sweeper: StallSweeper;
  private sweeps = 0;
  /** Which optimizations' messages this instance owns ({@link ownResourcesBy}). */
  private ownsResource: ResourceOwnership = OWNS_EVERY_RESOURCE;
  /** Timers that validate an optimization when its soak ends. */
  private readonly soaking = new WakeUps();
  /** Aborted when the process shuts down: ends the waits for an outage to pass at once. */
  private readonly stopped = new AbortController();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(EC2_GATEWAY) private readonly gateway: Ec2Gateway,
    @Inject(METRICS_SOURCE) private readonly metricsSource: MetricsSource,
    @Inject(PRICE_BOOK) private readonly priceBook: PriceBook,
    @Inject(POLICY) private readonly policy: Policy,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(OPTEX_METRICS) private readonly metrics: OptexMetrics,
    @Inject(ENGINE_OPTIONS) private readonly options: EngineOptions,
    /** The read model this process's services share (absent when a service is built on its own, as in unit specs). */
    @Optional() @Inject(READ_MODEL) private readonly sharedReadModel?: SharedReadModel,
  ) {
    this.sweeper = new StallSweeper({
      everyMs: options.sweepEveryMs,
      afterMs: sweepAfterMsOf(options),
      now: () => Date.now(),
      logger: logger.child({ component: 'validator-sweeper' }),
      candidates: () => this.mustValidate(),
      resume: (id) => this.validate(id, `sweep:${id}:${++this.sweeps}`),
      lastLoggedAt: (id) => lastLoggedAt(this.store, id),
      owns: (id) => ownsOptimization(this.projection, this.ownsResource, id),
    });
  }

  /** Binds which resources' messages this instance owns (its consumer's partitions): the sweeper resumes only those. */
  ownResourcesBy(ownership: ResourceOwnership): void {
    this.ownsResource = ownership;
  }

  private *mustValidate(): Iterable<string> {
    const now = this.clock.now();
    for (const id of this.projection.idsByStatus('validating')) {
      const state = this.projection.get(id);
      if (state && moverOf(state, { now, soakMinutes: this.policy.validation.soakMinutes }) === 'validator') yield id;
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    this.projection = await readModelOf(this.store, this.sharedReadModel);
    this.sweeper.start();
    if (!this.options.recoverOnStart) return;
    // An outage (EC2 throttling or unavailable, the store unreachable) is waited out as a delivery's is: that
    // validation is made again with backoff while the others go on, and the start-up ends once every one went through
    // (so `run`/`resume` do not report before) or the process stops. Any other error fails it, as before.
    await recoverEach([...this.projection.idsByStatus('validating')], (id) => this.validate(id, `recover:${id}`), this.recovery);
  }

  /** Validates again with backoff for as long as an outage lasts, until it goes through or the process stops. */
  private validateThroughOutage(optimizationId: string, causationKey: string, first: unknown): Promise<void> {
    return handleThroughOutage(optimizationId, () => this.validate(optimizationId, causationKey), first, this.recovery);
  }

  private get recovery(): RecoverOptions {
    return { signal: this.stopped.signal, initialDelayMs: this.options.stepBackoffMs, logger: this.logger, doing: 'validating', concurrency: this.options.maxParallel };
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped.abort();
    this.soaking.clear();
    await this.sweeper.stop();
  }

  /** The earliest end of a soak still awaited (an optimization validating once it is over), if any. */
  soakingUntil(): Date | undefined {
    return this.soaking.earliest((id) => this.projection.statusOf(id) === 'validating');
  }

  /** Validates now what waits for a validation and made no progress for `sweepAfterMs` (the timer does this every `sweepEveryMs`). */
  sweep(): Promise<readonly string[]> {
    return this.sweeper.sweep();
  }

  async onEvent(event: IntegrationEvent): Promise<void> {
    if (!event.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) return;
    this.projection.applyRelayed(event);
    this.store.rememberDelivered?.(event);
    this.sweeper.progressed(event.stream.slice(OPTIMIZATION_STREAM_PREFIX.length));
    if (event.type !== 'ExecutionSucceeded') return;
    // Only while it is the stream's last event: the validation's event ids derive from it.
    await this.validate(event.stream.slice(OPTIMIZATION_STREAM_PREFIX.length), event.id, event.revision);
  }

  /**
   * Validates one optimization if the process manager says so now; one validation at a time per optimization. With
   * `onlyAt`, only if the stream's last revision is still that one (the event that asked for it is the last).
   */
  validate(optimizationId: string, causationKey: string, onlyAt?: bigint): Promise<void> {
    return this.locks.run(optimizationId, () => this.validateNow(optimizationId, causationKey, onlyAt));
  }

  private async validateNow(optimizationId: string, causationKey: string, onlyAt?: bigint): Promise<void> {
    const stream = optimizationStream(optimizationId);
    // The read model's state when it is at `onlyAt` (the delivered event is the last it folded), else the stream's:
    // a stream that moved on meanwhile makes the append conflict, and the decision is taken again on the stream read.
    const { state, revision } = (onlyAt !== undefined ? this.projection.knownAt(optimizationId, onlyAt) : undefined) ?? (await loadStream(this.store, stream, optimizationDecider));
    if (onlyAt !== undefined && revision !== onlyAt) return;
    const now = this.clock.now();
    if (state.status !== 'validating') return;
    const soakMinutes = this.policy.validation.soakMinutes;
    const move = nextMove(state, { now, soakMinutes });
    if (move.kind === 'idle') return this.validateLater(optimizationId, validationDueAt(state, soakMinutes), now);
    if (move.kind !== 'validate') return;
    const s = state as KnownOptimization;
    const rec = s.recommendation;
    let after: Awaited<ReturnType<typeof describeResource>>;
    let describeError: { code: string; message: string } | undefined;
    try {
      after = await describeResource(this.gateway, rec);
    } catch (error) {
      // A refusal retrying would not change (a missing permission): the decider fails the validation naming it.
      // Throttling and outages are thrown on, and the delivery comes again.
      describeError = ec2Refusal(error);
      if (!describeError) throw error;
    }
    const { sample, at } = await this.performanceSample(s, after !== undefined, now);
    const result = await handleCommandAt(
      this.store,
      stream,
      optimizationDecider,
      { state, revision },
      { type: 'RecordValidation', data: { ...(after ? { observedAfter: after } : {}), ...(describeError ? { describeError } : {}), sample, policy: this.policy, priceBook: this.priceBook }, metadata: { now: at } },
      { causationKey, recordedBy: RECORDED_BY, metadata: { resourceKey: resourceKeyOf(rec) } },
    );
    // Folded at once: a redelivery of the event that asked for this validation finds the read model past it.
    this.projection.set(optimizationId, result.state, result.revision);
    for (const e of result.events) {
      if (e.type === 'ValidationPassed') {
        this.metrics.validations.inc({ action: rec.action.type, result: 'passed' });
        this.metrics.realizedSavings.inc({ action: rec.action.type }, Math.max(0, e.data.actualMonthlySavings ?? 0));
        this.logger.info({ optimizationId, actualMonthlySavings: e.data.actualMonthlySavings, accuracyPct: e.data.accuracyPct, unpriced: e.data.unpriced }, 'validation passed');
      } else if (e.type === 'ValidationFailed') {
        this.metrics.validations.inc({ action: rec.action.type, result: 'failed' });
        this.logger.warn({ optimizationId, reasons: e.data.reasons }, 'validation failed; rolling back');
      }
    }
  }

  /**
   * Observations only (the decider compares them), and the time they were taken at: for an instance that still exists,
   * its performance over the window before the execution started (`validationWindowMs` long) and over the window from
   * the end of the change until then ({@link pastTheChange}). An empty "after" window (no time has passed on the clock)
   * is not asked: no data, unknown.
   */
  private async performanceSample(s: KnownOptimization, exists: boolean, now: Date): Promise<{ sample: PerformanceSample; at: Date }> {
    const soakMinutes = this.policy.validation.soakMinutes;
    const execution = s.execution;
    const ended = execution ? executionEndedAt(execution) : undefined;
    if (s.recommendation.resource.type !== 'ec2:instance' || !exists || !execution || ended === undefined) return { sample: { soakMinutes }, at: now };
    const ref = refOf(s.recommendation, s.recommendation.resource.id);
    const startedAt = new Date(execution.startedAt);
    const before = await this.metricsSource.performance(ref, { from: new Date(startedAt.getTime() - this.options.validationWindowMs), to: startedAt });
    const from = new Date(ended);
    const at = await this.pastTheChange(from, now);
    const after: PerformanceFigures = from < at ? await this.metricsSource.performance(ref, { from, to: at }) : {};
    return { sample: { before, after, afterWindow: { from: from.toISOString(), to: at.toISOString() }, soakMinutes }, at };
  }

  /**
   * `now`, unless the change ended at `end` in this very millisecond (or later, by a clock a little behind the
   * executor's): the "after" window would be empty — no data, unknown, which does not block — and a validator quick
   * enough (the embedded engine's, in the same turn) would pass a change whose figures are there a millisecond later.
   * Then the clock is read again after a millisecond, up to {@link CLOCK_WAITS} times; one that does not move (a test's
   * fixed clock) leaves the window empty, as before.
   */
  private async pastTheChange(end: Date, now: Date): Promise<Date> {
    let at = now;
    for (let wait = 0; wait < CLOCK_WAITS && at <= end; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      at = this.clock.now();
    }
    return at;
  }

  /** Validates the optimization when its soak ends (one timer per optimization; the sweeper is the fallback). */
  private validateLater(optimizationId: string, due: Date, now: Date): void {
    const key = `soak:${optimizationId}:${due.toISOString()}`;
    // An outage then is waited out (validated again with backoff), as at start-up.
    const validate = () =>
      void this.validate(optimizationId, key)
        .catch((err: unknown) => {
          if (isOutage(err) && !this.stopped.signal.aborted) return this.validateThroughOutage(optimizationId, key, err);
          throw err;
        })
        .catch((err) => this.logger.error({ optimizationId, err: String(err) }, 'validation after the soak failed'));
    if (this.soaking.set(optimizationId, due.getTime(), now.getTime(), validate)) this.logger.info({ optimizationId, until: due.toISOString() }, 'soaking before validation');
  }
}
