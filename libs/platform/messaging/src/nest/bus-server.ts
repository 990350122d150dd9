import { Catch, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { isObservable, lastValueFrom, defaultIfEmpty, throwError, type Observable } from 'rxjs';
import {
  ConcurrencyError,
  HANDLER_OUTCOME_KINDS,
  HEADERS,
  submitterOf,
  OptexError,
  TOPICS,
  TRACEPARENT,
  describeError,
  inSpan,
  isOutage,
  tracingEnabled,
  silentLogger,
  type Bus,
  type Consumer,
  type Delivery,
  type HandlerOutcome,
  type IncomingRecommendation,
  type Logger,
} from '@optex/ports';
import { DomainError } from '@optex/domain';
import { decodeLifecycleEvent } from '../relay/lifecycle-codec';

export interface BusServerOptions {
  /** Consumer group; the server serves the `@EventPattern('<group>/<topic>')` handlers. */
  readonly group: string;
  /** @defaultValue 5 */
  readonly maxAttempts?: number;
  readonly deadLetterTopic?: string;
  readonly logger?: Logger;
  /** Called with every outcome (metrics). */
  readonly onOutcome?: (outcome: HandlerOutcome['kind'], delivery: Delivery) => void;
}

/**
 * A NestJS microservice transport over optex's Bus port (Kafka in production, in-memory in the
 * embedded default). It subscribes the group to the topics its handlers name and hands each
 * handler a decoded message: an `IntegrationEvent` from `optex.internal.events.v1`, an
 * `IncomingRecommendation` from `optex.recommendations.v1`. The handler's outcome decides the
 * offset: returning (or `{kind:'ack'}`) acknowledges; a domain rejection (`DomainError`) is
 * acknowledged and logged, never retried; an infrastructure outage ({@link isOutage}: store or
 * broker unavailable, EC2 throttling or failing) pauses the message — redelivered with backoff for
 * as long as it takes, never counted as an attempt; a non-transient `OptexError` is dead-lettered at
 * once; anything else (a bug, a concurrency conflict the command handler could not resolve) is
 * retried until `maxAttempts`, then dead-lettered with the error's text in headers.
 *
 * Nest turns what a handler throws into `{status:'error', message:'Internal server error'}` unless an
 * exception filter says otherwise: register {@link PassThroughRpcFilter} on the microservice, or every
 * error looks like a bug here (and dead-letters as `[object Object]`).
 */
export class BusServer extends Server implements CustomTransportStrategy {
  private consumer?: Consumer;
  private readonly log: Logger;
  /** Handler per topic, looked up once (Nest's lookup parses the pattern as JSON first, and throws, on every call). */
  private readonly handlers = new Map<string, MessageHandler | null>();

  constructor(
    private readonly bus: Bus,
    private readonly options: BusServerOptions,
  ) {
    super();
    this.log = (options.logger ?? silentLogger).child({ component: 'bus-server', group: options.group });
  }

  async listen(callback: (...optionalParams: unknown[]) => unknown): Promise<void> {
    try {
      const prefix = `${this.options.group}/`;
      const topics = [...this.messageHandlers.keys()].filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length));
      if (topics.length > 0) {
        this.consumer = await this.bus.subscribe(
          { groupId: this.options.group, topics, maxAttempts: this.options.maxAttempts ?? 5, deadLetterTopic: this.options.deadLetterTopic },
          (delivery) => this.dispatch(delivery),
        );
      }
      callback();
    } catch (error) {
      callback(error);
    }
  }

  /** Whether this server's consumer owns the partition of `topic` messages keyed `key` go to ({@link Consumer.owns}); false before it subscribed. */
  owns(topic: string, key: string): boolean {
    return this.consumer?.owns(topic, key) ?? false;
  }

  private async dispatch(delivery: Delivery): Promise<HandlerOutcome> {
    const outcome = tracingEnabled() ? await this.tracedOutcomeOf(delivery) : await this.outcomeOf(delivery);
    // A retry asked for on the last attempt is dead-lettered by the bus: count it as what becomes of it.
    const last = outcome.kind === 'retry' && delivery.attempt >= (this.options.maxAttempts ?? 5);
    this.options.onOutcome?.(last ? 'dead-letter' : outcome.kind, delivery);
    return outcome;
  }

  /**
   * {@link outcomeOf} inside a consumer span: the child of the span that recorded the event (its CloudEvents
   * `traceparent` extension, header `ce_traceparent`; on the recommendations topic also a plain `traceparent` header an
   * analyzer sent), or the root of a new trace when the message carries none. What the handler appends records this
   * span as its trace (the command handler reads the active span).
   */
  private tracedOutcomeOf(delivery: Delivery): Promise<HandlerOutcome> {
    const recommendation = delivery.topic === TOPICS.recommendations;
    const parent = delivery.headers[`ce_${TRACEPARENT}`] ?? (recommendation ? delivery.headers[TRACEPARENT] : undefined);
    const type = delivery.headers['ce_type'];
    const name = `${this.options.group} ${recommendation ? 'recommendation' : (type?.replace(/^io\.optex\./, '') ?? delivery.topic)}`;
    const attributes: Record<string, string | number> = {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': delivery.topic,
      'messaging.consumer.group.name': this.options.group,
      'messaging.destination.partition.id': String(delivery.partition),
      'messaging.kafka.offset': Number(delivery.offset),
      'optex.delivery.attempt': delivery.attempt,
    };
    if (type !== undefined) attributes['cloudevents.event_type'] = type;
    const id = delivery.headers['ce_id'];
    if (id !== undefined) attributes['cloudevents.event_id'] = id;
    const subject = delivery.headers['ce_subject'];
    if (subject !== undefined) attributes['cloudevents.event_subject'] = subject;
    return inSpan(name, { kind: SpanKind.CONSUMER, parent: parent ?? 'root', attributes }, async (span) => {
      const outcome = await this.outcomeOf(delivery);
      span?.setAttribute('optex.outcome', outcome.kind);
      if (outcome.kind === 'dead-letter') span?.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason });
      else if (outcome.kind !== 'ack') span?.setStatus({ code: SpanStatusCode.ERROR, message: describeError(outcome.error) });
      return outcome;
    });
  }

  private async outcomeOf(delivery: Delivery): Promise<HandlerOutcome> {
    let handler = this.handlers.get(delivery.topic);
    if (handler === undefined) this.handlers.set(delivery.topic, (handler = this.getHandlerByPattern(`${this.options.group}/${delivery.topic}`) ?? null));
    if (!handler) return { kind: 'dead-letter', reason: `no handler for topic ${delivery.topic} in group ${this.options.group}` };
    let payload: unknown;
    try {
      payload = delivery.topic === TOPICS.recommendations ? decodeRecommendation(delivery) : decodeLifecycleEvent(delivery);
    } catch (error) {
      this.log.error({ err: describeError(error), topic: delivery.topic, offset: delivery.offset }, 'undecodable message');
      return { kind: 'dead-letter', reason: `undecodable message: ${describeError(error)}` };
    }
    try {
      // What Nest's handler resolves to: the controller's value, or an Observable (an interceptor's); the last value counts.
      const returned: unknown = await handler(payload, delivery);
      const result = isObservable(returned) ? await lastValueFrom(returned.pipe(defaultIfEmpty(undefined))) : await returned;
      return isOutcome(result) ? result : { kind: 'ack' };
    } catch (error) {
      if (error instanceof DomainError) {
        this.log.warn({ code: error.code, err: error.message, offset: delivery.offset }, 'domain rejection (not retried)');
        return { kind: 'ack' };
      }
      if (isOutage(error)) {
        this.log.warn({ err: describeError(error), topic: delivery.topic, offset: delivery.offset }, 'infrastructure unavailable; the message waits');
        return { kind: 'pause', error };
      }
      const transient = error instanceof OptexError ? error.transient : true;
      this.log.warn({ err: describeError(error), attempt: delivery.attempt, transient, conflict: error instanceof ConcurrencyError }, 'handler failed');
      if (!transient) return { kind: 'dead-letter', reason: error instanceof Error ? error.message : describeError(error) };
      return { kind: 'retry', error };
    }
  }

  async close(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = undefined;
  }

  on(): never {
    throw new Error('BusServer emits no status events');
  }

  unwrap<T>(): T {
    return this.bus as T;
  }
}

/**
 * A global exception filter for an application whose microservices {@link BusServer} serves: in a bus handler
 * (`rpc` context) it hands the thrown error to the transport as it is, so the transport can tell an outage from a
 * domain rejection from a bug (Nest's default replaces every error by `{status:'error', message:'Internal server
 * error'}`); elsewhere (HTTP) it does what Nest's default filter does. Register it with
 * `app.useGlobalFilters(new PassThroughRpcFilter(app.getHttpAdapter()))` before `connectMicroservice(…, {inheritAppConfig: true})`.
 */
@Catch()
export class PassThroughRpcFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    if (host.getType() === 'rpc') return throwError(() => exception);
    super.catch(exception, host);
  }
}

/**
 * What the risk-assessor's handler receives for a delivery on `optex.recommendations.v1`: the bytes unchanged, the
 * delivery id (the `x-optex-delivery-id` header, else `topic/partition/offset`), index, dry-run flag and, for a
 * record the sender cut to a prefix, its full size (`x-optex-record-bytes`), the CloudEvents `type` (`ce_type`), which
 * names an analyzer's own format when the body is one, and who submitted it (`x-optex-submitted-by`, when it is one
 * optex writes: `submitterOf`).
 */
export function decodeRecommendation(delivery: Delivery): IncomingRecommendation {
  const index = delivery.headers[HEADERS.index];
  const recordBytes = delivery.headers[HEADERS.recordBytes];
  const cloudEventType = delivery.headers['ce_type'];
  const submittedBy = submitterOf(delivery.headers[HEADERS.submittedBy]);
  return {
    kind: 'recommendation',
    bytes: delivery.value,
    ...(recordBytes !== undefined && /^\d+$/.test(recordBytes) ? { receivedBytes: Number(recordBytes) } : {}),
    deliveryId: delivery.headers[HEADERS.deliveryId] ?? `${delivery.topic}/${delivery.partition}/${delivery.offset}`,
    index: index !== undefined && /^\d+$/.test(index) ? Number(index) : undefined,
    dryRun: delivery.headers[HEADERS.dryRun] === 'true',
    attempt: delivery.attempt,
    ...(cloudEventType ? { cloudEventType } : {}),
    ...(submittedBy ? { submittedBy } : {}),
  };
}

function isOutcome(value: unknown): value is HandlerOutcome {
  return typeof value === 'object' && value !== null && HANDLER_OUTCOME_KINDS.has((value as { kind?: string }).kind ?? '');
}
