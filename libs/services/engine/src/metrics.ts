import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The Prometheus metrics of the contract (`optex_*`). One instance per process; the all-in-one
 * process shares it between the five service modules.
 */
export class OptexMetrics {
  readonly registry = new Registry();
  readonly recommendations = new Counter({
    name: 'optex_recommendations_total',
    help: 'Recommendations received, by result (accepted, rejected, duplicate, conflict: a duplicate with other content).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly scopeRefusals = new Counter({
    name: 'optex_scope_refusals_total',
    help: 'Optimizations the scope guard refused, by stage (assessment, pre-validation) and rule broken (accounts, regions, resource-id-pattern, opt-out-tag, credentials-account).',
    labelNames: ['stage', 'rule'] as const,
    registers: [this.registry],
  });
  readonly riskAssessments = new Counter({
    name: 'optex_risk_assessments_total',
    help: 'Risk assessments, by level.',
    labelNames: ['level'] as const,
    registers: [this.registry],
  });
  readonly approvals = new Counter({
    name: 'optex_approvals_total',
    help: 'Approval decisions, by mode (auto, manual) and decision (granted, requested, denied, expired).',
    labelNames: ['mode', 'decision'] as const,
    registers: [this.registry],
  });
  readonly executions = new Counter({
    name: 'optex_executions_total',
    help: 'Executions finished, by action and result (succeeded, failed, dry-run).',
    labelNames: ['action', 'result'] as const,
    registers: [this.registry],
  });
  readonly executionDuration = new Histogram({
    name: 'optex_execution_duration_seconds',
    help: 'Duration of executions, from ExecutionStarted to ExecutionSucceeded/Failed.',
    labelNames: ['action'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800],
    registers: [this.registry],
  });
  readonly validations = new Counter({
    name: 'optex_validations_total',
    help: 'Post-validations, by action and result (passed, failed).',
    labelNames: ['action', 'result'] as const,
    registers: [this.registry],
  });
  readonly rollbacks = new Counter({
    name: 'optex_rollbacks_total',
    help: 'Rollbacks finished, by action and result (completed, failed).',
    labelNames: ['action', 'result'] as const,
    registers: [this.registry],
  });
  readonly realizedSavings = new Counter({
    name: 'optex_realized_savings_usd_total',
    help: 'Monthly savings (USD) realized by validated optimizations; a change that costs more adds 0 (a counter cannot go down: optex metrics gives the net realizedMonthlySavings).',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'optex_queue_depth',
    help: 'Approved optimizations waiting to be scheduled.',
    registers: [this.registry],
  });
  readonly activeExecutions = new Gauge({
    name: 'optex_active_executions',
    help: 'Optimizations holding their resource: scheduled, executing, validating, rolling back or waiting for reconciliation.',
    registers: [this.registry],
  });
  /** Counts what {@link pendingApprovals} reports, when it is read ({@link countPendingApprovalsBy}). */
  private pendingApprovalsCount: (() => number) | undefined;
  /** Set when read, from the function {@link countPendingApprovalsBy} gave (the approval service's). */
  readonly pendingApprovals: Gauge = new Gauge({
    name: 'optex_pending_approvals',
    help: 'Optimizations awaiting a human approval (each instance of the approval service counts those of its partitions: sum them).',
    registers: [this.registry],
    collect: () => {
      if (this.pendingApprovalsCount) this.pendingApprovals.set(this.pendingApprovalsCount());
    },
  });
  /** Counts what {@link batchesHalted} reports, when it is read ({@link countHaltedBatchesBy}). */
  private haltedBatchesOf: (() => readonly { readonly rule: string }[]) | undefined;
  /** Set when read, from the function {@link countHaltedBatchesBy} gave (the scheduler's). */
  readonly batchesHalted: Gauge<'rule'> = new Gauge({
    name: 'optex_batches_halted',
    help: 'Batches halted by a blast-radius limit or a stage gate whose other members wait for an operator (optex continue-batch), by the rule that halted them.',
    labelNames: ['rule'] as const,
    registers: [this.registry],
    collect: () => {
      if (!this.haltedBatchesOf) return;
      this.batchesHalted.reset();
      for (const batch of this.haltedBatchesOf()) this.batchesHalted.inc({ rule: batch.rule });
    },
  });
  /** Counts what {@link awaitingOperator} reports, when it is read ({@link countAwaitingOperatorBy}). */
  private awaitingOperatorOf: (() => Readonly<Record<string, number>>) | undefined;
  /** Set when read, from the function {@link countAwaitingOperatorBy} gave (the scheduler's). */
  readonly awaitingOperator: Gauge<'status'> = new Gauge({
    name: 'optex_awaiting_operator',
    help: 'Optimizations only an operator can move on (rollback-failed: optex retry-rollback or resolve; reconciliation-needed: optex resolve), by status.',
    labelNames: ['status'] as const,
    registers: [this.registry],
    collect: () => {
      if (!this.awaitingOperatorOf) return;
      for (const [status, count] of Object.entries(this.awaitingOperatorOf())) this.awaitingOperator.set({ status }, count);
    },
  });
  readonly consumerLag = new Gauge({
    name: 'optex_consumer_lag',
    help: 'Messages not yet consumed by this service, by topic.',
    labelNames: ['group', 'topic'] as const,
    registers: [this.registry],
  });
  /**
   * Read it through the registry (or its `get()`): what {@link messagesOf} counted is added when it is read. Counted
   * per message in a map of its own, not by `inc` per message: prom-client's labelled `inc` hashes and checks the
   * labels on every call (~0.5 µs; the embedded engine handles ~45 messages a dry run).
   */
  readonly messages: Counter<'group' | 'outcome'> = new Counter({
    name: 'optex_messages_total',
    help: 'Bus messages handled, by group and outcome (ack, retry, dead-letter).',
    labelNames: ['group', 'outcome'] as const,
    registers: [this.registry],
    collect: () => this.addCountedMessages(),
  });
  /** Messages counted by {@link messagesOf} and not yet added to {@link messages}: per group, per outcome. */
  private readonly countedMessages = new Map<string, Map<string, number>>();

  constructor(options: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}) {
    if (options.labels) this.registry.setDefaultLabels(options.labels);
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'optex_' });
  }

  /** Counts one group's handled messages by outcome in `optex_messages_total` (added when the registry is read). */
  /** Gives the count `optex_pending_approvals` reports each time it is read (scraped), instead of a value set per event. */
  countPendingApprovalsBy(count: () => number): void {
    this.pendingApprovalsCount = count;
  }

  /** Gives the halted batches `optex_batches_halted` counts each time it is read (scraped). */
  countHaltedBatchesBy(halted: () => readonly { readonly rule: string }[]): void {
    this.haltedBatchesOf = halted;
  }

  /** Gives the counts by status `optex_awaiting_operator` reports each time it is read (scraped). */
  countAwaitingOperatorBy(counts: () => Readonly<Record<string, number>>): void {
    this.awaitingOperatorOf = counts;
  }

  messagesOf(group: string): (outcome: string) => void {
    const counts = this.countedMessages.get(group) ?? new Map<string, number>();
    this.countedMessages.set(group, counts);
    return (outcome) => void counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  }

  private addCountedMessages(): void {
    for (const [group, counts] of this.countedMessages) {
      for (const [outcome, n] of counts) {
        if (n === 0) continue;
        this.messages.inc({ group, outcome }, n);
        counts.set(outcome, 0);
      }
    }
  }
}
