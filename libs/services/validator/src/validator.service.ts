import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { OPTIMIZATION_STREAM_PREFIX, moverOf, nextMove, optimizationDecider, optimizationStream, type PriceBook, type Policy } from '@optex/domain';
import type { Clock, Ec2Gateway, EventStore, IntegrationEvent, Logger, MetricsSource } from '@optex/ports';
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
  handleCommandAt,
  loadStream,
  observeResource,
  refOf,
  resourceKeyOf,
  sweepAfterMsOf,
  type EngineOptions,
  type KnownOptimization,
  type OptexMetrics,
} from '@optex/engine';

const RECORDED_BY = 'validator';

/**
 * Post-validation of each executed optimization: observes the resource after the change and its performance
 * (CPU p95, status checks; "no data" is unknown) and hands them to the decider, which judges whether the resource is
 * in the state asked for, prices the actual monthly savings and their accuracy (price book) and rates the
 * performance (policy). A failed validation starts the rollback (the decider records both). A {@link StallSweeper}
 * validates what is left `validating` with no event seen for `sweepAfterMs` (its message gone).
 */
@Injectable()
export class ValidatorService implements OnApplicationBootstrap, OnModuleDestroy {
  /** Every optimization's state, to know which wait for a validation (the sweeper's candidates). */
  private projection = new OptimizationProjection();
  private readonly locks = new KeyedMutex();
  private readonly sweeper: StallSweeper;
  private sweeps = 0;

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
  ) {
    this.sweeper = new StallSweeper({
      everyMs: options.sweepEveryMs,
      afterMs: sweepAfterMsOf(options),
      now: () => Date.now(),
      logger: logger.child({ component: 'validator-sweeper' }),
      candidates: () => this.mustValidate(),
      resume: (id) => this.validate(id, `sweep:${id}:${++this.sweeps}`),
    });
  }

  private *mustValidate(): Iterable<string> {
    const now = this.clock.now();
    for (const id of this.projection.idsByStatus('validating')) {
      const state = this.projection.get(id);
      if (state && moverOf(state, { now }) === 'validator') yield id;
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    this.projection = await OptimizationProjection.load(this.store);
    this.sweeper.start();
    if (!this.options.recoverOnStart) return;
    for (const s of this.projection.all()) if (s.status === 'validating') await this.validate(s.optimizationId, `recover:${s.optimizationId}`);
  }

  async onModuleDestroy(): Promise<void> {
    await this.sweeper.stop();
  }

  /** Validates now what waits for a validation and made no progress for `sweepAfterMs` (the timer does this every `sweepEveryMs`). */
  sweep(): Promise<readonly string[]> {
    return this.sweeper.sweep();
  }

  async onEvent(event: IntegrationEvent): Promise<void> {
    const known = this.projection.applyRelayed(event);
    if (known) this.sweeper.progressed(known.optimizationId);
    if (event.type !== 'ExecutionSucceeded' || !event.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) return;
    const { revision } = await loadStream(this.store, event.stream, optimizationDecider);
    if (revision !== event.revision) return;
    await this.validate(event.stream.slice(OPTIMIZATION_STREAM_PREFIX.length), event.id);
  }

  /** Validates one optimization if the process manager says so now; one validation at a time per optimization. */
  validate(optimizationId: string, causationKey: string): Promise<void> {
    return this.locks.run(optimizationId, () => this.validateNow(optimizationId, causationKey));
  }

  private async validateNow(optimizationId: string, causationKey: string): Promise<void> {
    const stream = optimizationStream(optimizationId);
    const { state, revision } = await loadStream(this.store, stream, optimizationDecider);
    const now = this.clock.now();
    if (state.status === 'initial' || nextMove(state, { now }).kind !== 'validate') return;
    const s = state as KnownOptimization;
    const rec = s.recommendation;
    const before = s.execution?.observed;
    const window = { from: new Date(now.getTime() - this.options.validationWindowMs), to: now };
    const after = await observeResource(this.gateway, this.metricsSource, rec, window);
    const statusChecksPassed = rec.resource.type === 'ec2:instance' && after ? await this.metricsSource.statusChecksPassed(refOf(rec, rec.resource.id), window) : undefined;
    // Observations only: the decider judges the outcome, prices the savings and rates the performance.
    const sample = {
      ...(before?.kind === 'instance' && before.cpuP95 !== undefined ? { cpuP95Before: before.cpuP95 } : {}),
      ...(after?.kind === 'instance' && after.cpuP95 !== undefined ? { cpuP95After: after.cpuP95 } : {}),
      ...(statusChecksPassed === undefined ? {} : { statusChecksPassed }),
    };
    const result = await handleCommandAt(
      this.store,
      stream,
      optimizationDecider,
      { state, revision },
      { type: 'RecordValidation', data: { ...(after ? { observedAfter: after } : {}), sample, policy: this.policy, priceBook: this.priceBook }, metadata: { now } },
      { causationKey, recordedBy: RECORDED_BY, metadata: { resourceKey: resourceKeyOf(rec) } },
    );
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
}
