import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  ACTIVE_EXECUTION_STATUSES,
  batchStream,
  eventIdFor,
  isTerminal,
  optimizationDecider,
  optimizationStream,
  selectDispatches,
  type BatchCompleted,
  type BatchPlanned,
  type QueuedItem,
} from '@optex/domain';
import type { Clock, EventStore, IntegrationEvent, Logger } from '@optex/ports';
import {
  CLOCK,
  ENGINE_OPTIONS,
  EVENT_STORE,
  LOGGER,
  OPTEX_METRICS,
  OptimizationProjection,
  appendOnce,
  handleCommand,
  resourceKeyOf,
  type EngineOptions,
  type KnownOptimization,
  type OptexMetrics,
} from '@optex/engine';

const RECORDED_BY = 'scheduler';

interface OpenBatch {
  readonly plan: BatchPlanned['data'];
  readonly members: ReadonlySet<string>;
}

/**
 * Schedules approved optimizations: groups the approved ones into a batch (`BatchPlanned` in
 * `batch-<id>`, with the configured mode, maximum parallelism and `notBefore`), then dispatches
 * them (`ExecutionScheduled`) by priority and time, never more than `maxParallel` at once and
 * never two on one resource. Its state is a projection of the log, rebuilt on start.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private projection = new OptimizationProjection();
  private readonly batches = new Map<string, OpenBatch>();
  private timer?: NodeJS.Timeout;
  /** Set while the batch window is open: approvals are being collected into one batch. */
  private windowTimer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();
  private windowClosed = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(OPTEX_METRICS) private readonly metrics: OptexMetrics,
    @Inject(ENGINE_OPTIONS) private readonly options: EngineOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.projection = await OptimizationProjection.load(this.store);
    for await (const e of this.store.readAll({ filter: { kind: 'streamName', prefixes: ['batch-'] } })) {
      if (e.type === 'BatchPlanned') {
        const plan = e.data as BatchPlanned['data'];
        this.batches.set(plan.batchId, { plan, members: new Set(plan.optimizationIds) });
      } else if (e.type === 'BatchCompleted') this.batches.delete((e.data as BatchCompleted['data']).batchId);
    }
    await this.tick();
    this.timer = setInterval(() => void this.tick().catch((err) => this.logger.error({ err: String(err) }, 'scheduler tick failed')), this.options.schedulerTickMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.windowTimer) clearTimeout(this.windowTimer);
  }

  /** True while approvals are being collected into the next batch (work is about to be planned). */
  busy(): boolean {
    return this.windowTimer !== undefined;
  }

  async onEvent(event: IntegrationEvent): Promise<void> {
    if (!this.projection.apply(event)) return;
    await this.tick();
  }

  /** Plans a batch for newly approved optimizations and dispatches what may start now. Serialized. */
  tick(): Promise<void> {
    const next = this.running.then(() => this.plan());
    this.running = next.catch(() => undefined);
    return next;
  }

  /** Earliest `notBefore` of a batch that still has items waiting for it, if any is in the future. */
  waitingUntil(): Date | undefined {
    const now = this.clock.now().getTime();
    const times = [...this.batches.values()]
      .filter((b) => Date.parse(b.plan.notBefore) > now && [...b.members].some((id) => this.projection.get(id)?.status === 'approved'))
      .map((b) => Date.parse(b.plan.notBefore));
    return times.length ? new Date(Math.min(...times)) : undefined;
  }

  private async plan(): Promise<void> {
    const now = this.clock.now();
    const all = this.projection.all();
    const batched = new Set([...this.batches.values()].flatMap((b) => [...b.members]));
    const fresh = all.filter((s) => s.status === 'approved' && !batched.has(s.optimizationId));
    if (fresh.length > 0 && this.windowClosed) {
      this.windowClosed = false;
      await this.openBatch(fresh, now);
    } else if (fresh.length > 0 && !this.windowTimer) {
      // Collect what is approved within the window into one batch.
      this.windowTimer = setTimeout(() => {
        this.windowClosed = true;
        void this.tick()
          .catch((err) => this.logger.error({ err: String(err) }, 'scheduler tick failed'))
          .finally(() => {
            this.windowTimer = undefined;
            this.windowClosed = false;
          });
      }, this.options.batchWindowMs);
    }

    const active = all.filter((s) => ACTIVE_EXECUTION_STATUSES.includes(s.status));
    const busy = new Set(active.map((s) => resourceKeyOf(s.recommendation)));
    let capacity = this.options.maxParallel - active.length;
    for (const batch of [...this.batches.values()].sort((a, b) => a.plan.at.localeCompare(b.plan.at))) {
      const members = [...batch.members].map((id) => this.projection.get(id)).filter((s): s is KnownOptimization => s !== undefined);
      if (members.every((s) => isTerminal(s.status))) {
        await this.completeBatch(batch.plan.batchId, now);
        continue;
      }
      const queued = members.filter((s) => s.status === 'approved').map(toQueued);
      const inBatchActive = members.filter((s) => ACTIVE_EXECUTION_STATUSES.includes(s.status)).map(toQueued);
      const chosen = selectDispatches({ ...batch.plan, queued, active: inBatchActive }, now, busy, Math.max(0, capacity));
      for (const item of chosen) {
        const state = this.projection.get(item.optimizationId);
        if (!state) continue;
        const result = await handleCommand(
          this.store,
          optimizationStream(item.optimizationId),
          optimizationDecider,
          { type: 'ScheduleExecution', data: { batchId: batch.plan.batchId, notBefore: new Date(batch.plan.notBefore) }, metadata: { now } },
          { causationKey: `schedule:${batch.plan.batchId}`, recordedBy: RECORDED_BY, metadata: { resourceKey: item.resourceKey } },
        );
        this.projection.set(item.optimizationId, result.state, result.revision);
        busy.add(item.resourceKey);
        capacity--;
      }
    }
    const after = this.projection.all();
    this.metrics.queueDepth.set(after.filter((s) => s.status === 'approved').length);
    this.metrics.activeExecutions.set(after.filter((s) => ACTIVE_EXECUTION_STATUSES.includes(s.status)).length);
  }

  private async openBatch(items: readonly KnownOptimization[], now: Date): Promise<void> {
    const ids = items.map((s) => s.optimizationId).sort();
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
    await appendOnce(this.store, batchStream(batchId), { type: 'BatchPlanned', data: plan }, { key: 'planned', causationId: batchId, recordedBy: RECORDED_BY });
    this.batches.set(batchId, { plan, members: new Set(ids) });
    this.logger.info({ batchId, mode: plan.mode, maxParallel: plan.maxParallel, notBefore: plan.notBefore, size: ids.length }, 'batch planned');
  }

  private async completeBatch(batchId: string, now: Date): Promise<void> {
    const data: BatchCompleted['data'] = { batchId, at: now.toISOString() };
    await appendOnce(this.store, batchStream(batchId), { type: 'BatchCompleted', data }, { key: 'completed', causationId: batchId, recordedBy: RECORDED_BY });
    this.batches.delete(batchId);
    this.logger.info({ batchId }, 'batch completed');
  }
}

function toQueued(s: KnownOptimization): QueuedItem {
  const rec = s.recommendation;
  return {
    optimizationId: s.optimizationId,
    resourceKey: resourceKeyOf(rec),
    resourceType: rec.resource.type,
    regionKey: `${rec.accountId}/${rec.region}`,
    priority: rec.priority ?? 'MEDIUM',
    approvedAt: s.approval.grantedAt ?? s.receivedAt,
  };
}
