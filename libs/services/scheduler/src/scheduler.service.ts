import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { batchStream, eventIdFor, startVerdict, optimizationDecider, optimizationStream, parseStoredEvent, type BatchCompleted, type BatchPlanned, type ExecutionDeferred, type Policy, type QueuedItem } from '@optex/domain';
import type { Clock, EventStore, IntegrationEvent, Logger } from '@optex/ports';
import {
  CLOCK,
  ENGINE_OPTIONS,
  EVENT_STORE,
  LOGGER,
  OPTEX_METRICS,
  POLICY,
  OptimizationProjection,
  appendOnce,
  handleCommand,
  type EngineOptions,
  type OptexMetrics,
} from '@optex/engine';
import { SchedulerQueue } from './scheduler-queue';

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
  private windowClosed = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(OPTEX_METRICS) private readonly metrics: OptexMetrics,
    @Inject(ENGINE_OPTIONS) private readonly options: EngineOptions,
    @Inject(POLICY) private readonly policy: Policy,
  ) {}

  /** Members waiting for a change window, the end of a freeze or of a cool-down: optimization id → until when (ISO). */
  private readonly deferred = new Map<string, string>();

  /**
   * Whether the policy's cool-down, change windows and freezes hold `item` now (the domain's `startVerdict`); the first time (and whenever `until` changes)
   * an `ExecutionDeferred` is recorded in the batch's stream, so history says why it waited.
   */
  private holds(batchId: string, now: Date): { held: (item: QueuedItem) => boolean; record: () => Promise<void> } {
    const holds: { item: QueuedItem; hold: ExecutionDeferred['data']['hold']; until: string; reason: string }[] = [];
    const held = (item: QueuedItem): boolean => {
      const state = this.projection.get(item.optimizationId);
      if (!state) return false;
      const verdict = startVerdict(this.policy, state.recommendation, now, this.projection.lastChangeOn(item.resourceKey));
      if (verdict.allowed) {
        this.deferred.delete(item.optimizationId);
        return false;
      }
      if (this.deferred.get(item.optimizationId) !== verdict.until) holds.push({ item, hold: verdict.hold, until: verdict.until, reason: verdict.reason });
      this.deferred.set(item.optimizationId, verdict.until);
      return true;
    };
    const record = async (): Promise<void> => {
      for (const { item, hold, until, reason } of holds.splice(0)) {
        const data: ExecutionDeferred['data'] = { batchId, optimizationId: item.optimizationId, hold, until, reason, at: now.toISOString() };
        await appendOnce(this.store, batchStream(batchId), { type: 'ExecutionDeferred', data }, { key: `deferred:${item.optimizationId}:${until}`, causationId: batchId, recordedBy: RECORDED_BY });
        this.logger.info({ batchId, optimizationId: item.optimizationId, until, reason }, 'execution deferred');
      }
    };
    return { held, record };
  }

  async onApplicationBootstrap(): Promise<void> {
    this.projection = await OptimizationProjection.load(this.store);
    this.queue = new SchedulerQueue(this.projection);
    for await (const e of this.store.readAll({ filter: { kind: 'streamName', prefixes: ['batch-'] } })) {
      const event = parseStoredEvent(e);
      if (event.type === 'BatchPlanned') this.queue.addBatch(event.data);
      else if (event.type === 'BatchCompleted') this.queue.removeBatch(event.data.batchId);
    }
    await this.tick();
    this.timer = setInterval(() => void this.tick().catch((err) => this.logger.error({ err: String(err) }, 'scheduler tick failed')), this.options.schedulerTickMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.windowTimer) clearTimeout(this.windowTimer);
  }

  /**
   * The scheduler's read model of every optimization (fed by every lifecycle event it consumes and by
   * its own dispatches), for read-only use by the process that runs it (e.g. to know when work is done).
   */
  get readModel(): OptimizationProjection {
    return this.projection;
  }

  /** True while approvals are being collected into the next batch (work is about to be planned). */
  busy(): boolean {
    return this.windowTimer !== undefined;
  }

  async onEvent(event: IntegrationEvent): Promise<void> {
    if (!this.projection.applyRelayed(event)) return;
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
    const now = this.clock.now();
    let earliest = this.queue.waitingUntil(now)?.getTime();
    for (const [id, until] of this.deferred) {
      const t = Date.parse(until);
      if (t > now.getTime() && this.projection.get(id)?.status === 'approved' && (earliest === undefined || t < earliest)) earliest = t;
    }
    return earliest === undefined ? undefined : new Date(earliest);
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
    } else if (this.queue.unbatchedCount > 0 && !this.windowTimer) {
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

    for (const batchId of this.queue.takeCompletable()) await this.completeBatch(batchId, now);
    let capacity = this.options.maxParallel - this.projection.activeCount();
    for (const batch of this.queue.openBatches()) {
      if (capacity <= 0) break;
      if (batch.waiting.size === 0) continue;
      const { held, record } = this.holds(batch.plan.batchId, now);
      const chosen = this.queue.select(batch, now, capacity, (key) => this.projection.isResourceBusy(key), held);
      await record();
      for (const item of chosen) {
        if (!this.projection.get(item.optimizationId)) continue;
        const result = await handleCommand(
          this.store,
          optimizationStream(item.optimizationId),
          optimizationDecider,
          { type: 'ScheduleExecution', data: { batchId: batch.plan.batchId, notBefore: new Date(batch.plan.notBefore) }, metadata: { now } },
          { causationKey: `schedule:${batch.plan.batchId}`, recordedBy: RECORDED_BY, metadata: { resourceKey: item.resourceKey } },
        );
        this.projection.set(item.optimizationId, result.state, result.revision);
        capacity--;
      }
    }
    this.metrics.queueDepth.set(this.projection.countByStatus('approved'));
    this.metrics.activeExecutions.set(this.projection.activeCount());
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
    await appendOnce(this.store, batchStream(batchId), { type: 'BatchPlanned', data: plan }, { key: 'planned', causationId: batchId, recordedBy: RECORDED_BY });
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
