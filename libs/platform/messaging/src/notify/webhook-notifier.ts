import { createHmac } from 'node:crypto';
import { ExponentialBackoff, handleWhen, retry, type RetryPolicy } from 'cockatiel';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  OPTIMIZATION_STREAM_PREFIX,
  approvalsDueForWarning,
  expiryWarningOf,
  foldOptimization,
  notificationOf,
  CIRCUIT_BREAKER_STREAM,
  circuitBreakerNotificationOf,
  optimizationStream,
  parseStoredEvent,
  slackMessageOf,
  trackPendingApprovals,
  type IdentifiedEvent,
  type Notification,
  type NotificationPolicy,
  type OptimizationEvent,
  type PendingApproval,
  type WebhookPolicy,
} from '@optex/domain';
import { describeError, isOutage, silentLogger, type EventStore, type GlobalPosition, type Logger, type RecordedEvent, type Subscription } from '@optex/ports';

/** The header that carries a notification's idempotency key (the same on every attempt and every re-delivery). */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

export interface WebhookNotifierOptions {
  /** Its checkpoint lives in stream `relay-checkpoint-notifier-<name>` (skipped by replay and export like the relay's). @defaultValue `webhooks` */
  readonly name?: string;
  readonly logger?: Logger;
  /** Where its counters go (`optex_notifications_total`, `optex_notifier_failing`); none: not metered. */
  readonly registry?: Registry;
  readonly now?: () => Date;
  /** First retry delay; doubles up to `maxDelayMs`, with jitter. @defaultValue 1000 */
  readonly initialDelayMs?: number;
  /** @defaultValue 300,000 (5 minutes) */
  readonly maxDelayMs?: number;
  /** Time-out of one POST. @defaultValue 10,000 */
  readonly timeoutMs?: number;
  /**
   * The signing key of each webhook whose policy names a `signingSecretEnv`, by webhook name (read from the environment
   * by the caller). A webhook that names one and has no key here is refused when the notifier is made.
   */
  readonly signingKeys?: ReadonlyMap<string, string>;
  /** How often pending approvals are checked for the expiry warning. @defaultValue 60,000 */
  readonly checkEveryMs?: number;
  /** Store the checkpoint after this many events that notified nothing (each notification stores one). @defaultValue 100 */
  readonly checkpointEvery?: number;
}

/** What the checkpoint stream records: how far the log was read, the approvals pending then, and the warnings sent. */
interface CheckpointData {
  readonly commit: string;
  readonly prepare: string;
  readonly pending: readonly PendingApproval[];
  readonly warned: readonly string[];
}

/**
 * The headers that sign a webhook POST: `X-Optex-Timestamp` (Unix seconds, new on every attempt) and
 * `X-Optex-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under the key>`. A receiver recomputes it over the
 * raw body, compares in constant time, and refuses a timestamp more than a few minutes old (a replayed POST).
 */
export function signatureHeaders(key: string, body: string, now: Date): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  return { [SIGNATURE_HEADERS.timestamp]: timestamp, [SIGNATURE_HEADERS.signature]: `v1=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}` };
}

export const SIGNATURE_HEADERS = { timestamp: 'x-optex-timestamp', signature: 'x-optex-signature' } as const;

/** An answer a retry cannot change: the receiver refuses the body itself. */
class RefusedByReceiver extends Error {
  constructor(readonly status: number) {
    super(`the receiver refused the notification (HTTP ${status})`);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
const REFUSED = new Set([400, 413, 415, 422]);

/** The notifier's metrics, shared by its lanes (one registration per registry). */
interface NotifierMetrics {
  readonly delivered: Counter<'webhook' | 'kind' | 'outcome'>;
  readonly failing: Gauge<'webhook'>;
}

function notifierMetrics(registry: Registry): NotifierMetrics {
  return {
    delivered: new Counter({
      name: 'optex_notifications_total',
      help: 'Webhook POSTs by webhook, notification kind and outcome (delivered; failed = will be retried; refused = 400, 413, 415 or 422, not retried)',
      labelNames: ['webhook', 'kind', 'outcome'],
      registers: [registry],
    }),
    failing: new Gauge({ name: 'optex_notifier_failing', help: '1 while a webhook’s last attempt failed (its notifications are delayed)', labelNames: ['webhook'], registers: [registry] }),
  };
}

/**
 * Delivers notifications (domain `notificationOf`, `expiryWarningOf`, shaped by `slackMessageOf`) to the policy's
 * webhooks, at least once, each webhook on a lane of its own: a checkpointed catch-up subscription to the optimization
 * streams per webhook (sharing nothing with the engine nor with the other webhooks, so a slow or failing webhook only
 * delays its own notifications — a revoked on-call URL holds back nothing sent to the approvers, and the other way
 * round). Each POST carries the {@link IDEMPOTENCY_HEADER} derived from the event id, and is retried with exponential
 * backoff until the receiver answers 2xx (a 400/413/415/422 is logged, counted as `refused` and not retried: the same
 * body would be refused again). A lane stores its checkpoint (stream `relay-checkpoint-notifier-<name>-<webhook>`)
 * after every notification acknowledged; one the store cannot take (an outage) is taken with the next, so a restart in
 * between sends those notifications again, with the same idempotency key. The checkpoint also holds the approvals
 * still pending and the expiry warnings already sent. A lane without a checkpoint of its own starts from the one the
 * notifier kept for every webhook before lanes existed (`relay-checkpoint-notifier-<name>`), so an upgrade sends
 * nothing again.
 */
export class WebhookNotifier {
  private readonly lanes: WebhookLane[];

  constructor(store: EventStore, policy: NotificationPolicy, options: WebhookNotifierOptions = {}) {
    const name = options.name ?? 'webhooks';
    const metrics = options.registry ? notifierMetrics(options.registry) : undefined;
    for (const hook of policy.webhooks) {
      if (hook.signingSecretEnv !== undefined && !options.signingKeys?.get(hook.name)) throw new Error(`webhook ${hook.name}: no signing key (its signingSecretEnv ${hook.signingSecretEnv} was not read)`);
    }
    this.lanes = policy.webhooks.map(
      (hook) => new WebhookLane(store, { ...policy, webhooks: [hook] }, { ...options, name: `${name}-${hook.name}` }, `relay-checkpoint-notifier-${name}`, metrics),
    );
  }

  /** Reads each lane's checkpoint and follows the log from just after it; checks pending approvals every `checkEveryMs`. */
  async start(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.start()));
  }

  /** Position of the last event every lane has handled (the least of theirs); undefined until each handled one. */
  get handledPosition(): GlobalPosition | undefined {
    let least: GlobalPosition | undefined;
    for (const lane of this.lanes) {
      const at = lane.handledPosition;
      if (!at) return undefined;
      if (!least || at.commit < least.commit) least = at;
    }
    return least;
  }

  /** Sends the expiry warnings due now, on every lane (also called by each lane's timer). */
  async checkExpiring(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.checkExpiring()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.stop()));
  }
}

/** One webhook's delivery: see {@link WebhookNotifier}. */
class WebhookLane {
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private position?: GlobalPosition;
  private checkpointed?: GlobalPosition;
  private pending: ReadonlyMap<string, PendingApproval> = new Map();
  private warned = new Set<string>();
  private sinceCheckpoint = 0;
  private dirty = false;
  private readonly checkpointStream: string;
  private readonly logger: Logger;
  private readonly retry: RetryPolicy;
  private readonly abort = new AbortController();
  /** Serialises the subscription and the expiry timer, so the state and the checkpoint are never written at once. */
  private queue: Promise<void> = Promise.resolve();
  private readonly delivered?: Counter<'webhook' | 'kind' | 'outcome'>;
  private readonly failing?: Gauge<'webhook'>;

  constructor(
    private readonly store: EventStore,
    private readonly policy: NotificationPolicy,
    private readonly options: WebhookNotifierOptions,
    /** The checkpoint of the notifier from before lanes, started from when this lane has none of its own. */
    private readonly legacyCheckpointStream: string,
    metrics: NotifierMetrics | undefined,
  ) {
    this.checkpointStream = `relay-checkpoint-notifier-${options.name ?? 'webhooks'}`;
    this.logger = (options.logger ?? silentLogger).child({ component: 'webhook-notifier', webhook: policy.webhooks[0]?.name });
    this.retry = retry(handleWhen((error) => !(error instanceof RefusedByReceiver)), {
      maxAttempts: Number.MAX_SAFE_INTEGER,
      backoff: new ExponentialBackoff({ initialDelay: options.initialDelayMs ?? 1000, maxDelay: options.maxDelayMs ?? 300_000 }),
    });
    this.delivered = metrics?.delivered;
    this.failing = metrics?.failing;
  }

  /** Reads the checkpoint and follows the log from just after it; checks pending approvals every `checkEveryMs`. */
  async start(): Promise<void> {
    const [own] = await this.store.readStream(this.checkpointStream, { direction: 'backwards', maxCount: 1 });
    const [last] = own ? [own] : await this.store.readStream(this.legacyCheckpointStream, { direction: 'backwards', maxCount: 1 });
    if (last) {
      const data = last.data as CheckpointData;
      this.position = { commit: BigInt(data.commit), prepare: BigInt(data.prepare) };
      this.checkpointed = this.position;
      this.pending = new Map(data.pending.map((p) => [p.optimizationId, p]));
      this.warned = new Set(data.warned);
    }
    this.logger.info({ from: this.position ? String(this.position.commit) : 'start', webhooks: this.policy.webhooks.map((h) => h.name) }, 'notifier starting');
    this.subscription = this.store.subscribeToAll((event) => this.serially(() => this.handleUntilDone(event)), {
      ...(this.position ? { fromPosition: this.position } : {}),
      filter: { kind: 'streamName', prefixes: [OPTIMIZATION_STREAM_PREFIX, CIRCUIT_BREAKER_STREAM] },
      onDropped: (error) => this.logger.warn({ err: String(error) }, 'notifier subscription dropped; resubscribing'),
    });
    this.timer = setInterval(() => void this.serially(() => this.warnExpiring()).catch((error) => this.logger.error({ err: describeError(error) }, 'expiry check failed')), this.options.checkEveryMs ?? 60_000);
    this.timer.unref();
  }

  /** Position of the last event handled. */
  get handledPosition(): GlobalPosition | undefined {
    return this.position;
  }

  /** Sends the expiry warnings due now (also called by the timer). */
  checkExpiring(): Promise<void> {
    return this.serially(() => this.warnExpiring());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
    await this.subscription?.unsubscribe();
    this.subscription = undefined;
    await this.queue.catch(() => undefined);
    await this.checkpointIfReachable();
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * A store read that fails or an event this optex cannot parse (written by a newer one) is retried with backoff and
   * reported, never skipped: the notifier waits there, as the relay does.
   */
  private async handleUntilDone(stored: RecordedEvent): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.handle(stored);
      } catch (error) {
        if (this.abort.signal.aborted) throw error;
        this.logger.error({ err: describeError(error), eventId: stored.id, stream: stored.stream, attempt }, 'cannot handle an event; the notifier waits and tries again');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(60_000, 100 * 2 ** Math.min(attempt, 10)));
          this.abort.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
      }
    }
  }

  private async handle(stored: RecordedEvent): Promise<void> {
    if (this.abort.signal.aborted) throw new Error('the notifier is stopping');
    if (stored.stream === CIRCUIT_BREAKER_STREAM) return this.handleBreaker(stored);
    const event = { ...(parseStoredEvent(stored) as OptimizationEvent), id: stored.id } as IdentifiedEvent;
    const before = this.pending;
    this.pending = trackPendingApprovals(this.pending, event);
    if (this.pending !== before) {
      this.dirty = true;
      for (const p of before.values()) if (!this.pending.has(p.optimizationId) || this.pending.get(p.optimizationId) !== p) this.warned.delete(p.requestEventId);
    }
    let notified = false;
    if (event.type === 'ApprovalRequested' || event.type === 'RollbackFailed' || event.type === 'ReconciliationRequired') {
      const history = (await this.store.readStream(stored.stream)).filter((e) => e.revision <= stored.revision);
      const notification = notificationOf(event, foldOptimization(history.map((e) => parseStoredEvent(e) as OptimizationEvent)));
      if (notification) notified = await this.deliver(notification);
    }
    this.position = stored.position;
    if (notified) await this.checkpointIfReachable();
    else if (++this.sinceCheckpoint >= (this.options.checkpointEvery ?? 100)) await this.checkpointIfReachable();
  }

  /** A circuit breaker that opened: notified as it is (the event says everything), then checkpointed. */
  private async handleBreaker(stored: RecordedEvent): Promise<void> {
    const event = parseStoredEvent(stored);
    const notified = event.type === 'CircuitBreakerOpened' && (await this.deliver(circuitBreakerNotificationOf({ ...event, id: stored.id })));
    this.position = stored.position;
    if (notified) await this.checkpointIfReachable();
    else if (++this.sinceCheckpoint >= (this.options.checkpointEvery ?? 100)) await this.checkpointIfReachable();
  }

  /** The lane's clock: `options.now`, else the system's. */
  private now(): Date {
    return this.options.now ? this.options.now() : new Date();
  }

  private async warnExpiring(): Promise<void> {
    const now = this.now();
    for (const due of approvalsDueForWarning(this.pending.values(), now, this.policy.expiryWarningHours)) {
      if (this.warned.has(due.requestEventId) || this.abort.signal.aborted) continue;
      const events = await this.store.readStream(optimizationStream(due.optimizationId));
      const warning = expiryWarningOf(due, foldOptimization(events.map((e) => parseStoredEvent(e) as OptimizationEvent)), now);
      if (warning && !(await this.deliver(warning))) continue;
      this.warned.add(due.requestEventId);
      this.dirty = true;
      await this.checkpointIfReachable();
    }
  }

  /** POSTs to every webhook that wants this kind, in parallel; true once each one acknowledged (or refused) it. */
  private async deliver(notification: Notification): Promise<boolean> {
    const hooks = this.policy.webhooks.filter((h) => h.events.includes(notification.kind));
    if (hooks.length === 0) return false;
    const body = JSON.stringify(slackMessageOf(notification, this.policy.consoleUrl));
    await Promise.all(hooks.map((hook) => this.post(hook, notification, body)));
    return true;
  }

  private async post(hook: WebhookPolicy, notification: Notification, body: string): Promise<void> {
    const labels = { webhook: hook.name, kind: notification.kind };
    try {
      await this.retry.execute(async ({ attempt, signal }) => {
        try {
          const key = this.options.signingKeys?.get(hook.name);
          const response = await fetch(hook.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', [IDEMPOTENCY_HEADER]: notification.key, 'user-agent': 'optex-notifier', ...(key ? signatureHeaders(key, body, this.now()) : {}) },
            body,
            redirect: 'error',
            signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.timeoutMs ?? 10_000)]),
          });
          await response.arrayBuffer().catch(() => undefined);
          if (REFUSED.has(response.status)) throw new RefusedByReceiver(response.status);
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
        } catch (error) {
          if (error instanceof RefusedByReceiver) throw error;
          this.delivered?.inc({ ...labels, outcome: 'failed' });
          this.failing?.set({ webhook: hook.name }, 1);
          // The URL is a secret (Slack's carries its token): the webhook is named, never its URL.
          const message = String((error as Error).message ?? error).split(hook.url).join(`<the URL of webhook ${hook.name}>`);
          this.logger.warn({ webhook: hook.name, kind: notification.kind, key: notification.key, attempt: attempt + 1, err: message }, 'webhook POST failed; retrying with backoff');
          if (this.abort.signal.aborted) throw new Error('the notifier is stopping');
          throw error;
        }
      }, this.abort.signal);
      this.delivered?.inc({ ...labels, outcome: 'delivered' });
      this.failing?.set({ webhook: hook.name }, 0);
    } catch (error) {
      if (!(error instanceof RefusedByReceiver)) throw error; // stopping: the checkpoint stays before this event
      this.delivered?.inc({ ...labels, outcome: 'refused' });
      this.logger.error({ webhook: hook.name, kind: notification.kind, key: notification.key, status: error.status }, 'webhook refused the notification; it is not retried');
    }
  }

  private async checkpointIfReachable(): Promise<void> {
    try {
      await this.checkpoint();
    } catch (error) {
      if (!isOutage(error)) throw error;
      this.logger.warn({ err: describeError(error) }, 'notifier checkpoint not stored (store unavailable); the next one tries again');
    }
  }

  private async checkpoint(): Promise<void> {
    const at = this.position;
    if (!at || (!this.dirty && this.checkpointed?.commit === at.commit)) return;
    const data: CheckpointData = { commit: String(at.commit), prepare: String(at.prepare), pending: [...this.pending.values()], warned: [...this.warned] };
    await this.store.appendToStream(this.checkpointStream, [{ id: globalThis.crypto.randomUUID(), type: 'NotifierCheckpointReached', data }], 'any');
    this.checkpointed = at;
    this.sinceCheckpoint = 0;
    this.dirty = false;
  }
}
