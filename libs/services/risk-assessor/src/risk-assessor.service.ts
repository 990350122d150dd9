import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import {
  analyzerFormatOfCloudEventType,
  type AnalyzerFormat,
  DUPLICATES_STREAM,
  REJECTED_STREAM,
  assessmentScopeViolations,
  optimizationDecider,
  optimizationIdFor,
  previewIdFor,
  optimizationStream,
  type AssessRisk,
  intakeRecord,
  type IntakeOutcome,
  type OptimizationCommand,
  type OptimizationEvent,
  type OptimizationState,
  type Policy,
  type PriceBook,
  type ObservedResource,
  type LiveResource,
  type Recommendation,
  type ReceiveRecommendation,
  type RecommendationDuplicated,
  type RecommendationRejected,
} from '@optex/domain';
import { ConcurrencyError, ec2Refusal, type Clock, type CloudIdentity, type Ec2Gateway, type EventStore, type HandlerOutcome, type IncomingRecommendation, type Logger } from '@optex/ports';
import {
  CLOCK,
  CLOUD_IDENTITY,
  EC2_GATEWAY,
  ENGINE_OPTIONS,
  EVENT_STORE,
  LOGGER,
  OPTEX_METRICS,
  POLICY,
  PRICE_BOOK,
  OptimizationProjection,
  appendOnce,
  describeResource,
  PendingDecisions,
  handleCommand,
  handleCommandAt,
  loadStream,
  resourceKeyOf,
  type EngineOptions,
  type OptexMetrics,
} from '@optex/engine';
import { expandNativeMessage } from './native-messages';

const RECORDED_BY = 'risk-assessor';

/** The live resource as described: absent `observed` when EC2 does not know it. */
const liveResource = (observed: ObservedResource | undefined): LiveResource => (observed ? { observed } : {});

/**
 * Ingests raw recommendations: checks and validates their bytes with the domain's `intakeRecord` and the
 * configured intake limits (an invalid one becomes `RecommendationRejected`
 * with the raw payload and every error, and goes to the dead-letter topic — it never stops the
 * others), opens the optimization (a known one is a duplicate: recorded for auditors, nothing
 * else changes) and assesses it: the scope guard first (policy `scope` and the account of the
 * cloud credentials; out of scope → `OptimizationOutOfScope`), then its risk with every factor recorded (a rightsize
 * to a dearer type, by the price book, is the `costs-more` factor), on what the recommendation says and on the live
 * resource as EC2 describes it (its tags, type and, by the price book, monthly cost).
 */
@Injectable()
export class RiskAssessorService implements OnApplicationBootstrap {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(POLICY) private readonly policy: Policy,
    @Inject(CLOUD_IDENTITY) private readonly identity: CloudIdentity,
    @Inject(EC2_GATEWAY) private readonly gateway: Ec2Gateway,
    @Inject(PRICE_BOOK) private readonly priceBook: PriceBook,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(OPTEX_METRICS) private readonly metrics: OptexMetrics,
    @Inject(ENGINE_OPTIONS) private readonly options: EngineOptions,
  ) {}

  /** Assesses optimizations received but not assessed: a receipt appended alone (describing the resource failed and the delivery was not handled again before a crash), or by an optex that appended the two apart. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.recoverOnStart) return;
    const projection = await OptimizationProjection.load(this.store);
    const now = this.clock.now();
    for (const id of [...projection.idsByStatus('received')]) {
      const s = projection.get(id);
      if (s?.status !== 'received' || s.risk) continue;
      await handleCommand(this.store, optimizationStream(s.optimizationId), optimizationDecider, await this.assessRisk(s.recommendation, now), {
        causationKey: s.deliveryId,
        recordedBy: RECORDED_BY,
        metadata: { resourceKey: resourceKeyOf(s.recommendation) },
      });
    }
  }

  async ingest(message: IncomingRecommendation): Promise<HandlerOutcome> {
    const native = analyzerFormatOfCloudEventType(message.cloudEventType);
    if (native) return this.ingestNative(native, message);
    const now = this.clock.now();
    const outcome = intakeRecord(message.bytes, this.options.intakeLimits, message.receivedBytes);
    if (!outcome.ok) {
      await this.reject(message, outcome, now);
      return { kind: 'dead-letter', reason: outcome.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
    }
    const rec = outcome.recommendation;
    // A dry run is a preview with a stream of its own: it never uses the recommendation up.
    const optimizationId = message.dryRun ? previewIdFor(rec.source, rec.recommendationId) : optimizationIdFor(rec.source, rec.recommendationId);
    const stream = optimizationStream(optimizationId);
    const context = { causationKey: message.deliveryId, recordedBy: RECORDED_BY, metadata: { resourceKey: resourceKeyOf(rec), ...(message.submittedBy ? { via: message.submittedBy } : {}) } };
    const receive: ReceiveRecommendation = { type: 'ReceiveRecommendation', data: { optimizationId, recommendation: rec, dryRun: message.dryRun, deliveryId: message.deliveryId }, metadata: { now } };
    const loaded = await loadStream(this.store, stream, optimizationDecider);
    if (loaded.state.status === 'initial') {
      // A new optimization: received and assessed in one append, once the live resource is described. When that fails
      // (an outage), the receipt alone is appended and the delivery fails: it is assessed when handled again.
      const decisions = new PendingDecisions(this.store, stream, optimizationDecider, loaded);
      decisions.decide(receive, context);
      let assess: AssessRisk;
      try {
        assess = await this.assessRisk(rec, now);
      } catch (error) {
        if ((await this.flushOpened(decisions)) !== undefined) this.metrics.recommendations.inc({ result: 'accepted' });
        throw error;
      }
      decisions.decide(assess, context);
      const events = await this.flushOpened(decisions);
      if (events !== undefined) {
        this.metrics.recommendations.inc({ result: 'accepted' });
        this.observeAssessment(optimizationId, events);
        return { kind: 'ack' };
      }
      // Someone else opened it meanwhile (the same recommendation twice in one batch): as a delivery of a known one.
    }
    let before: OptimizationState | undefined;
    const received = await handleCommand(
      this.store,
      stream,
      optimizationDecider,
      (state) => {
        before = state;
        return receive;
      },
      context,
    );
    if (before && before.status !== 'initial' && before.deliveryId !== message.deliveryId) {
      // A duplicate for the intake's accounting; one with other content is also a conflict on the optimization.
      const conflict = received.events.find((e) => e.type === 'ResubmissionConflicted');
      if (conflict) this.logger.warn({ optimizationId, deliveryId: message.deliveryId, changed: conflict.data.differences.map((d) => d.path) }, 'resubmitted with other content: conflict recorded, the first recommendation stands');
      await this.recordDuplicate(message, optimizationId, rec.recommendationId, now, conflict !== undefined);
      return { kind: 'ack' };
    }
    if (before?.status === 'initial') this.metrics.recommendations.inc({ result: 'accepted' });
    // Decided on the state the receipt left (no second read); a stream that moved on meanwhile is read again.
    const assessed = await handleCommandAt(this.store, stream, optimizationDecider, received, await this.assessRisk(rec, now), context);
    this.observeAssessment(optimizationId, assessed.events);
    return { kind: 'ack' };
  }

  /** Appends the opening decisions; `undefined` when the stream was opened meanwhile by another delivery. */
  private async flushOpened(decisions: PendingDecisions<OptimizationCommand, OptimizationEvent, OptimizationState>): Promise<readonly OptimizationEvent[] | undefined> {
    try {
      return await decisions.flush();
    } catch (error) {
      if (error instanceof ConcurrencyError) return undefined;
      throw error;
    }
  }

  private observeAssessment(optimizationId: string, events: readonly OptimizationEvent[]): void {
    for (const e of events) {
      if (e.type === 'RiskAssessed') {
        this.metrics.riskAssessments.inc({ level: e.data.level });
        this.logger.info({ optimizationId, riskLevel: e.data.level, factors: e.data.factors.map((f) => f.factor) }, 'risk assessed');
      }
      if (e.type === 'OptimizationOutOfScope') {
        for (const v of e.data.violations) this.metrics.scopeRefusals.inc({ stage: e.data.stage, rule: v.rule });
        this.logger.warn({ optimizationId, rules: e.data.violations.map((v) => v.rule), reasons: e.data.violations.map((v) => v.reason) }, 'out of scope: not assessed, never executed');
      }
    }
  }

  /**
   * A message in an analyzer's own format (its CloudEvents type says which): each translated recommendation is
   * ingested as a record of its own, each skipped item is recorded as rejected with its reason. Dead-lettered when
   * the message cannot be read as that format or one of its records fails the intake.
   */
  private async ingestNative(format: AnalyzerFormat, message: IncomingRecommendation): Promise<HandlerOutcome> {
    const expansion = expandNativeMessage(format, message);
    for (const rejection of expansion.rejections) await this.reject(rejection.message, rejection.outcome, this.clock.now());
    let outcome: HandlerOutcome = expansion.unusable ? { kind: 'dead-letter', reason: expansion.unusable } : { kind: 'ack' };
    for (const record of expansion.records) {
      const recordOutcome = await this.ingest(record);
      if (recordOutcome.kind !== 'ack' && outcome.kind === 'ack') outcome = recordOutcome;
    }
    return outcome;
  }

  /**
   * The assessment command: the credentials' account as the cloud reports it (asked once, then kept by the adapter)
   * and the live resource as EC2 describes it now, so the risk is assessed on what is there as well as on what the
   * analyzer said. A recommendation the scope guard refuses is not described (its account may not be ours to ask).
   */
  private async assessRisk(rec: Recommendation, now: Date): Promise<AssessRisk> {
    const credentialsAccountId = await this.identity.credentialsAccountId();
    const inScope = assessmentScopeViolations(rec, this.policy.scope, credentialsAccountId).length === 0;
    const live = inScope ? { live: await this.describeLive(rec) } : {};
    return { type: 'AssessRisk', data: { policy: this.policy, credentialsAccountId, priceBook: this.priceBook, ...live }, metadata: { now } };
  }

  /**
   * The live resource as EC2 describes it. A refusal that retrying would not change (a missing permission, say) is
   * recorded as why it could not be described, and the assessment goes on with what the recommendation states
   * (pre-validation describes it again before anything changes); throttling, EC2's own failures and outages are
   * thrown, so the delivery is retried.
   */
  private async describeLive(rec: Recommendation): Promise<LiveResource> {
    try {
      return liveResource(await describeResource(this.gateway, rec));
    } catch (error) {
      const refusal = ec2Refusal(error);
      if (!refusal) throw error;
      this.logger.warn({ recommendationId: rec.recommendationId, resourceId: rec.resource.id, code: refusal.code }, 'the live resource could not be described: assessed on what the recommendation states');
      return { error: refusal };
    }
  }

  /** Records the rejection: the record as {@link intakeRecord} keeps it (bounded, serialisable) and every error. */
  private async reject(message: IncomingRecommendation, outcome: Extract<IntakeOutcome, { ok: false }>, now: Date): Promise<void> {
    const { raw, errors, recommendationId } = outcome;
    const event: RecommendationRejected = {
      type: 'RecommendationRejected',
      data: { deliveryId: message.deliveryId, ...(message.index === undefined ? {} : { index: message.index }), ...(recommendationId ? { recommendationId } : {}), raw, errors, ...(message.dryRun ? { dryRun: true } : {}), at: now.toISOString() },
    };
    await appendOnce(this.store, REJECTED_STREAM, event, { key: message.deliveryId, causationId: message.deliveryId, recordedBy: RECORDED_BY });
    this.metrics.recommendations.inc({ result: 'rejected' });
    this.logger.warn({ deliveryId: message.deliveryId, index: message.index, errors }, 'recommendation rejected');
  }

  private async recordDuplicate(message: IncomingRecommendation, optimizationId: string, recommendationId: string, now: Date, conflict: boolean): Promise<void> {
    const event: RecommendationDuplicated = {
      type: 'RecommendationDuplicated',
      data: { deliveryId: message.deliveryId, optimizationId, recommendationId, at: now.toISOString() },
    };
    await appendOnce(this.store, DUPLICATES_STREAM, event, { key: message.deliveryId, causationId: message.deliveryId, recordedBy: RECORDED_BY });
    this.metrics.recommendations.inc({ result: conflict ? 'conflict' : 'duplicate' });
    if (!conflict) this.logger.info({ optimizationId, deliveryId: message.deliveryId }, 'duplicate recommendation ignored');
  }
}

