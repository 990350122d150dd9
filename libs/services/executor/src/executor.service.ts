import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import {
  ACTIVE_EXECUTION_STATUSES,
  OPTIMIZATION_STREAM_PREFIX,
  executionPlan,
  preValidationProblems,
  type Step,
  optimizationDecider,
  optimizationStream,
  type OptimizationCommand,
  type OptimizationEvent,
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
  OptimizationProjection,
  KeyedMutex,
  handleCommand,
  loadStream,
  observeResource,
  resourceKeyOf,
  type EngineOptions,
  type KnownOptimization,
  type OptexMetrics,
} from '@optex/engine';
import { StepRunner } from './step-runner';

const RECORDED_BY = 'executor';

/** Events after which the executor has the next move. */
const DRIVES_EXECUTION = new Set([
  'ExecutionScheduled',
  'ExecutionStarted',
  'RollbackPlanRecorded',
  'ExecutionStepCompleted',
  'RollbackStarted',
  'RollbackStepCompleted',
]);

/**
 * Executes scheduled optimizations one recorded step at a time: start, pre-validation against the
 * live resource (rollback plan recorded before the first mutation), each step through EC2 with
 * timeouts and retries, success or failure (failure after a mutation starts the rollback), and the
 * rollback steps. It acts only on the latest event of a stream, so a redelivered or replayed
 * event never performs a step twice; after a crash the unacknowledged event is redelivered and
 * the execution continues where the log says it stopped.
 */
@Injectable()
export class ExecutorService implements OnApplicationBootstrap {
  private readonly runner: StepRunner;
  private readonly locks = new KeyedMutex();
  private projection = new OptimizationProjection();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(EC2_GATEWAY) private readonly gateway: Ec2Gateway,
    @Inject(METRICS_SOURCE) private readonly metricsSource: MetricsSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(OPTEX_METRICS) private readonly metrics: OptexMetrics,
    @Inject(ENGINE_OPTIONS) private readonly options: EngineOptions,
  ) {
    this.runner = new StepRunner(gateway, {
      callTimeoutMs: options.callTimeoutMs,
      waitTimeoutMs: options.waitTimeoutMs,
      attempts: options.stepAttempts,
      backoffMs: options.stepBackoffMs,
      onRetry: (error, attempt) => this.logger.warn({ err: String(error), attempt }, 'transient EC2 error; retrying step'),
    });
  }

  /**
   * Loads the read model of every optimization (pre-validation checks that no other optimization is
   * active on the same resource) and, in embedded mode, re-drives executions left mid-way.
   */
  async onApplicationBootstrap(): Promise<void> {
    this.projection = await OptimizationProjection.load(this.store);
    if (!this.options.recoverOnStart) return;
    for (const s of this.projection.all()) {
      if (s.status === 'scheduled' || s.status === 'executing' || s.status === 'rolling-back') await this.drive(s.optimizationId, `recover:${s.optimizationId}`);
    }
  }

  async onEvent(event: IntegrationEvent): Promise<void> {
    this.projection.apply(event);
    if (!DRIVES_EXECUTION.has(event.type) || !event.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) return;
    await this.drive(event.stream.slice(OPTIMIZATION_STREAM_PREFIX.length), event.id, event.revision);
  }

  /**
   * Makes the next move of one optimization and records it; one move at a time per optimization.
   * With `ifRevision`, only when the stream is still at that revision (the triggering event is the latest).
   */
  drive(optimizationId: string, causationKey: string, ifRevision?: bigint): Promise<void> {
    return this.locks.run(optimizationId, () => this.move(optimizationId, causationKey, ifRevision));
  }

  private async move(optimizationId: string, causationKey: string, ifRevision?: bigint): Promise<void> {
    const stream = optimizationStream(optimizationId);
    const { state, revision } = await loadStream(this.store, stream, optimizationDecider);
    if (state.status === 'initial') return;
    if (ifRevision !== undefined && revision !== ifRevision) return; // a later event drives the next move
    const command = await this.nextMove(state as KnownOptimization);
    if (!command) return;
    const result = await handleCommand(this.store, stream, optimizationDecider, command, {
      causationKey: `${causationKey}@${revision}`,
      recordedBy: RECORDED_BY,
      metadata: { resourceKey: resourceKeyOf(state.recommendation) },
    });
    this.observe(state as KnownOptimization, result.events);
  }

  private async nextMove(s: KnownOptimization): Promise<OptimizationCommand | undefined> {
    const now = this.clock.now();
    const meta = { now };
    switch (s.status) {
      case 'scheduled':
        if (s.schedule && Date.parse(s.schedule.notBefore) > now.getTime()) return undefined;
        return { type: 'StartExecution', data: {}, metadata: meta };
      case 'executing': {
        const ex = s.execution;
        if (!ex) return undefined;
        if (!ex.observed) {
          const windowEnd = now;
          const observed = await observeResource(this.gateway, this.metricsSource, s.recommendation, { from: new Date(windowEnd.getTime() - this.options.validationWindowMs), to: windowEnd });
          const problems = [...preValidationProblems(s.recommendation, observed, now), ...this.othersActiveOn(s)];
          return { type: 'RecordPreValidation', data: { ...(observed ? { observed } : {}), problems }, metadata: meta };
        }
        const plan = executionPlanOf(s);
        const index = ex.completedSteps.length;
        if (index >= plan.length) return { type: 'SucceedExecution', data: {}, metadata: meta };
        const step = plan[index];
        const result = await this.runner.run(step, { recommendation: s.recommendation, dryRun: s.dryRun, outputs: mergedOutputs(ex.completedSteps) });
        if (result.ok) return { type: 'CompleteExecutionStep', data: { index, step, outputs: result.outputs }, metadata: meta };
        this.logger.warn({ optimizationId: s.optimizationId, step: step.kind, error: result.error }, 'execution step failed');
        return { type: 'FailExecution', data: { error: result.error, failedStepIndex: index }, metadata: meta };
      }
      case 'rolling-back': {
        const rb = s.rollback;
        if (!rb) return undefined;
        const index = rb.completedSteps.length;
        if (index >= rb.steps.length) return { type: 'CompleteRollback', data: {}, metadata: meta };
        const step = rb.steps[index];
        const outputs = { ...mergedOutputs(s.execution?.completedSteps ?? []), ...mergedOutputs(rb.completedSteps) };
        const result = await this.runner.run(step, { recommendation: s.recommendation, dryRun: false, outputs });
        if (result.ok) return { type: 'CompleteRollbackStep', data: { index, step, outputs: result.outputs }, metadata: meta };
        this.logger.error({ optimizationId: s.optimizationId, step: step.kind, error: result.error }, 'rollback step failed');
        return { type: 'FailRollback', data: { error: result.error, failedStepIndex: index }, metadata: meta };
      }
      default:
        return undefined;
    }
  }

  /** Other optimizations scheduled or running on the same resource (the scheduler prevents it; this is the safety net). */
  private othersActiveOn(s: KnownOptimization): string[] {
    const key = resourceKeyOf(s.recommendation);
    return this.projection
      .all()
      .filter((o) => o.optimizationId !== s.optimizationId && ACTIVE_EXECUTION_STATUSES.includes(o.status) && resourceKeyOf(o.recommendation) === key)
      .map((o) => `optimization ${o.optimizationId} (${o.recommendation.action.type}) is ${o.status} on ${s.recommendation.resource.id}`);
  }

  private observe(before: KnownOptimization, events: readonly OptimizationEvent[]): void {
    const action = before.recommendation.action.type;
    for (const e of events) {
      switch (e.type) {
        case 'ExecutionStarted':
          this.logger.info({ optimizationId: e.data.optimizationId, action, dryRun: e.data.dryRun }, 'execution started');
          break;
        case 'PreValidationFailed':
          this.metrics.executions.inc({ action, result: 'failed' });
          this.logger.warn({ optimizationId: e.data.optimizationId, reasons: e.data.reasons }, 'pre-validation failed');
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
        default:
          break;
      }
    }
  }
}

function mergedOutputs(steps: readonly { outputs: StepOutputs }[]): StepOutputs {
  return Object.assign({}, ...steps.map((s) => s.outputs)) as StepOutputs;
}

/** The execution plan the domain derives from what pre-validation observed. */
function executionPlanOf(s: KnownOptimization): Step[] {
  const observed = s.execution?.observed;
  return observed ? executionPlan(s.recommendation, observed, s.optimizationId) : [];
}
