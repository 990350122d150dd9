import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { OPTIMIZATION_STREAM_PREFIX, optimizationDecider, optimizationStream, type OptimizationCommand, type OptimizationEvent, type Policy, type PriceBook } from '@optex/domain';
import type { Clock, EventStore, IntegrationEvent, Logger } from '@optex/ports';
import {
  CLOCK,
  ENGINE_OPTIONS,
  EVENT_STORE,
  LOGGER,
  OPTEX_METRICS,
  POLICY,
  PRICE_BOOK,
  OptimizationProjection,
  OWNS_EVERY_RESOURCE,
  ownsOptimization,
  type ResourceOwnership,
  handleCommand,
  lastEventOf,
  handleCommandAt,
  loadStream,
  resourceKeyOf,
  type EngineOptions,
  type OptexMetrics,
  READ_MODEL,
  readModelOf,
  type SharedReadModel,
} from '@optex/engine';

const RECORDED_BY = 'approval';

/**
 * Decides approvals: automatic when the policy allows it, otherwise a request to the right
 * authority; expires requests nobody decided in time. Human decisions come in through
 * {@link recordApproval} / {@link recordDenial} (the CLI, the API), straight into the log; this service counts them
 * in `optex_approvals_total` as it receives them.
 */
@Injectable()
export class ApprovalService implements OnApplicationBootstrap, OnApplicationShutdown {
  private sweepTimer?: NodeJS.Timeout;
  private projection = new OptimizationProjection();
  /** Which optimizations' messages this instance owns ({@link ownResourcesBy}). */
  private ownsResource: ResourceOwnership = OWNS_EVERY_RESOURCE;
  /** Optimizations awaiting approval a sweep found owned by another instance ({@link readNewlyOwned}). */
  private readonly ownedElsewhere = new Set<string>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(POLICY) private readonly policy: Policy,
    @Inject(PRICE_BOOK) private readonly priceBook: PriceBook,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(OPTEX_METRICS) private readonly metrics: OptexMetrics,
    @Inject(ENGINE_OPTIONS) private readonly options: EngineOptions,
    /** The read model this process's services share (absent when a service is built on its own, as in unit specs). */
    @Optional() @Inject(READ_MODEL) private readonly sharedReadModel?: SharedReadModel,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.projection = await readModelOf(this.store, this.sharedReadModel);
    this.metrics.countPendingApprovalsBy(() => this.pendingApprovals());
    if (this.options.recoverOnStart) await this.recover();
    this.sweepTimer = setInterval(() => void this.sweep().catch((err) => this.logger.error({ err: String(err) }, 'approval sweep failed')), this.options.approvalSweepMs);
    this.sweepTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }

  async onEvent(event: IntegrationEvent): Promise<void> {
    this.projection.applyRelayed(event);
    this.store.rememberDelivered?.(event);
    if (!event.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) return;
    this.countHumanDecision(event);
    if (event.type !== 'RiskAssessed') return;
    const id = event.stream.slice(OPTIMIZATION_STREAM_PREFIX.length);
    // Behind this delivery (events another replica handled, before a rebalance gave this one the partition): the
    // read model did not fold it, so the stream is read. It may also be ahead (shared with the process's other
    // services): either way, decide only what still waits for a decision.
    if ((this.projection.known(id)?.revision ?? -1n) < event.revision) {
      const { state: read, revision } = await loadStream(this.store, event.stream, optimizationDecider);
      this.projection.set(id, read, revision);
    }
    const state = this.projection.get(id);
    if (state?.status === 'received' && state.risk && !state.approval.mode) await this.decide(state.optimizationId, event.id, event.revision);
  }

  /** Decides every assessed-but-undecided optimization and expires overdue requests (after a restart). */
  async recover(): Promise<void> {
    for (const id of [...this.projection.idsByStatus('received')]) {
      const s = this.projection.get(id);
      if (s?.status === 'received' && s.risk && !s.approval.mode) await this.decide(s.optimizationId, `recover:${s.optimizationId}`);
    }
    await this.sweep();
  }

  /**
   * Expires approval requests past their deadline. Looks only at the optimizations awaiting approval (the projection's
   * index). First reads from the log those this instance newly owns ({@link readNewlyOwned}).
   */
  async sweep(): Promise<void> {
    await this.readNewlyOwned();
    const now = this.clock.now();
    const overdue: string[] = [];
    for (const id of this.projection.idsByStatus('awaiting-approval')) {
      const expiresAt = this.projection.get(id)?.approval.expiresAt;
      if (expiresAt && Date.parse(expiresAt) <= now.getTime()) overdue.push(id);
    }
    for (const id of overdue) {
      const s = this.projection.get(id);
      if (!s || s.status !== 'awaiting-approval' || !s.approval.expiresAt) continue;
      const result = await handleCommand(this.store, optimizationStream(s.optimizationId), optimizationDecider, { type: 'ExpireApproval', data: {}, metadata: { now } }, this.context(`expire:${s.approval.expiresAt}`, s.recommendation));
      this.track(result.events);
      this.projection.set(s.optimizationId, result.state, result.revision);
    }
  }

  /**
   * Decides on the state the read model folded when it is at `atRevision` (the delivered event is still the last one
   * it folded: no read of the stream), else on the stream read again.
   */
  private async decide(optimizationId: string, causationKey: string, atRevision?: bigint): Promise<void> {
    const now = this.clock.now();
    const known = atRevision === undefined ? undefined : this.projection.knownAt(optimizationId, atRevision);
    const state = known?.state ?? this.projection.get(optimizationId);
    if (!state) return;
    const command: OptimizationCommand = { type: 'DecideApproval', data: { policy: this.policy, priceBook: this.priceBook }, metadata: { now } };
    const result = await handleCommandAt(this.store, optimizationStream(optimizationId), optimizationDecider, known, command, this.context(causationKey, state.recommendation));
    this.track(result.events);
    this.projection.set(optimizationId, result.state, result.revision);
  }

  /**
   * A person's approval or denial, recorded straight into the log (the CLI, the API), counted in
   * `optex_approvals_total` when the approval service receives it — at least once, as its deliveries are: a message
   * redelivered after a rebalance counts again. What this service decides itself is counted as it appends it ({@link track}).
   */
  private countHumanDecision(event: IntegrationEvent): void {
    if (event.type === 'ApprovalGranted' && (event.data as { mode?: unknown }).mode === 'manual') this.metrics.approvals.inc({ mode: 'manual', decision: 'granted' });
    else if (event.type === 'ApprovalDenied') this.metrics.approvals.inc({ mode: 'manual', decision: 'denied' });
  }

  private track(events: readonly OptimizationEvent[]): void {
    for (const e of events) {
      if (e.type === 'ApprovalGranted' && e.data.mode === 'auto') this.metrics.approvals.inc({ mode: 'auto', decision: 'granted' });
      if (e.type === 'ApprovalRequested') {
        this.metrics.approvals.inc({ mode: 'manual', decision: 'requested' });
        this.logger.info({ optimizationId: e.data.optimizationId, authority: e.data.authority, expiresAt: e.data.expiresAt }, 'approval requested');
      }
      if (e.type === 'ApprovalExpired') this.metrics.approvals.inc({ mode: 'manual', decision: 'expired' });
    }
  }

  /**
   * Binds which resources' messages this instance owns (its consumer's partitions): `optex_pending_approvals` counts
   * only those, so the sum over several instances counts each approval once.
   */
  ownResourcesBy(ownership: ResourceOwnership): void {
    this.ownsResource = ownership;
  }

  /**
   * Reads from the log the optimizations awaiting approval that a sweep found owned by another instance and that this
   * one owns now: while the other owned their partition (until a rebalance gave it here) their events went there, and
   * one may have been decided meanwhile, which this read model would count as pending for ever. One event read each
   * (its stream's last), the stream only when that is not what the read model folded. The one instance of a service
   * owns everything and reads nothing here.
   */
  private async readNewlyOwned(): Promise<void> {
    for (const id of [...this.projection.idsByStatus('awaiting-approval')]) {
      if (!ownsOptimization(this.projection, this.ownsResource, id)) {
        this.ownedElsewhere.add(id);
        continue;
      }
      if (!this.ownedElsewhere.delete(id)) continue;
      const stream = optimizationStream(id);
      const last = await lastEventOf(this.store, stream);
      if (last && last.revision !== this.projection.known(id)?.revision) {
        const { state, revision } = await loadStream(this.store, stream, optimizationDecider);
        this.projection.set(id, state, revision);
      }
    }
    for (const id of this.ownedElsewhere) if (this.projection.statusOf(id) !== 'awaiting-approval') this.ownedElsewhere.delete(id);
  }

  /** The optimizations awaiting approval whose messages this instance owns (all of them for the one instance). */
  private pendingApprovals(): number {
    if (this.ownsResource === OWNS_EVERY_RESOURCE) return this.projection.countByStatus('awaiting-approval');
    let count = 0;
    for (const id of this.projection.idsByStatus('awaiting-approval')) if (ownsOptimization(this.projection, this.ownsResource, id)) count++;
    return count;
  }

  private context(causationKey: string, rec: Parameters<typeof resourceKeyOf>[0]) {
    return { causationKey, recordedBy: RECORDED_BY, metadata: { resourceKey: resourceKeyOf(rec) } };
  }
}
