import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import {
  OPTIMIZATION_STREAM_PREFIX,
  accuracyPct,
  actualMonthlySavings,
  expectedOutcomeProblems,
  optimizationDecider,
  optimizationStream,
  performanceImpact,
  type PriceBook,
  type Policy,
  type StepOutputs,
} from '@optex/domain';
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
  handleCommand,
  loadStream,
  observeResource,
  refOf,
  resourceKeyOf,
  type EngineOptions,
  type KnownOptimization,
  type OptexMetrics,
} from '@optex/engine';

const RECORDED_BY = 'validator';

/**
 * Post-validation of each executed optimization: the resource is in the state asked for, the
 * actual monthly savings and their accuracy against the estimate (price book), and performance
 * before vs after (CPU p95, status checks; "no data" is unknown, never a pass or a fail by
 * accident). A failed validation starts the rollback (the decider records both).
 */
@Injectable()
export class ValidatorService implements OnApplicationBootstrap {
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
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.recoverOnStart) return;
    const projection = await OptimizationProjection.load(this.store);
    for (const s of projection.all()) if (s.status === 'validating') await this.validate(s.optimizationId, `recover:${s.optimizationId}`);
  }

  async onEvent(event: IntegrationEvent): Promise<void> {
    if (event.type !== 'ExecutionSucceeded' || !event.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) return;
    const { revision } = await loadStream(this.store, event.stream, optimizationDecider);
    if (revision !== event.revision) return;
    await this.validate(event.stream.slice(OPTIMIZATION_STREAM_PREFIX.length), event.id);
  }

  async validate(optimizationId: string, causationKey: string): Promise<void> {
    const stream = optimizationStream(optimizationId);
    const { state } = await loadStream(this.store, stream, optimizationDecider);
    if (state.status !== 'validating') return;
    const s = state as KnownOptimization;
    const rec = s.recommendation;
    const before = s.execution?.observed;
    const now = this.clock.now();
    const window = { from: new Date(now.getTime() - this.options.validationWindowMs), to: now };
    const after = await observeResource(this.gateway, this.metricsSource, rec, window);
    // The decider adds the performance verdict's reason itself; only the outcome problems go here.
    const problems = before ? expectedOutcomeProblems(rec, before, after) : ['nothing was observed before the execution'];
    const outputs = Object.assign({}, ...(s.execution?.completedSteps ?? []).map((c) => c.outputs)) as StepOutputs;
    const actual = before ? actualMonthlySavings(rec, before, after, rec.region, this.priceBook, outputs) : undefined;
    const accuracy = actual === undefined ? undefined : accuracyPct(actual, rec.estimatedMonthlySavings);
    const isInstance = rec.resource.type === 'ec2:instance';
    const statusChecksPassed = isInstance && after ? await this.metricsSource.statusChecksPassed(refOf(rec, rec.resource.id), window) : undefined;
    const performance = performanceImpact(
      rec,
      {
        ...(before?.kind === 'instance' && before.cpuP95 !== undefined ? { cpuP95Before: before.cpuP95 } : {}),
        ...(after?.kind === 'instance' && after.cpuP95 !== undefined ? { cpuP95After: after.cpuP95 } : {}),
        ...(statusChecksPassed === undefined ? {} : { statusChecksPassed }),
      },
      this.policy,
    );
    const result = await handleCommand(
      this.store,
      stream,
      optimizationDecider,
      {
        type: 'RecordValidation',
        data: {
          problems,
          ...(actual === undefined ? {} : { actualMonthlySavings: actual }),
          ...(accuracy === undefined ? {} : { accuracyPct: accuracy }),
          performance,
        },
        metadata: { now },
      },
      { causationKey, recordedBy: RECORDED_BY, metadata: { resourceKey: resourceKeyOf(rec) } },
    );
    for (const e of result.events) {
      if (e.type === 'ValidationPassed') {
        this.metrics.validations.inc({ action: rec.action.type, result: 'passed' });
        this.metrics.realizedSavings.inc({ action: rec.action.type }, Math.max(0, e.data.actualMonthlySavings ?? 0));
        this.logger.info({ optimizationId, actualMonthlySavings: e.data.actualMonthlySavings, accuracyPct: e.data.accuracyPct }, 'validation passed');
      } else if (e.type === 'ValidationFailed') {
        this.metrics.validations.inc({ action: rec.action.type, result: 'failed' });
        this.logger.warn({ optimizationId, reasons: e.data.reasons }, 'validation failed; rolling back');
      }
    }
  }
}
