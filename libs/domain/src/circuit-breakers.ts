import { z } from 'zod';
import type { Notification } from './notifications';

/**
 * A cloud API's circuit breaker opened: after `consecutiveFailures` transient failures in a row (throttling, 5xx,
 * network, time-outs) on one account and region, the process stops calling that API there for `halfOpenAfterMs`,
 * then lets one trial call through. Recorded by the process whose breaker opened (the breaker itself is per process),
 * in one stream for the deployment, so on-call hears of it and history shows why work waited.
 */
export const CIRCUIT_BREAKER_STREAM = 'optex-circuit-breakers';

export type CircuitBreakerOpened = {
  readonly type: 'CircuitBreakerOpened';
  readonly data: {
    /** The API whose breaker opened. */
    readonly api: 'ec2' | 'cloudwatch';
    readonly accountId: string;
    readonly region: string;
    readonly consecutiveFailures: number;
    readonly halfOpenAfterMs: number;
    /** The failure that opened it (`Code: message`). */
    readonly lastError: string;
    /** Who recorded it: the service process (`recordedBy`), for on-call to find its logs. */
    readonly process: string;
    readonly at: string;
  };
};
export type CircuitBreakerEvent = CircuitBreakerOpened;

export const circuitBreakerSchemas = {
  CircuitBreakerOpened: z.strictObject({
    api: z.enum(['ec2', 'cloudwatch']),
    accountId: z.string().min(1),
    region: z.string().min(1),
    consecutiveFailures: z.int().positive(),
    halfOpenAfterMs: z.number().positive(),
    lastError: z.string(),
    process: z.string().min(1),
    at: z.iso.datetime(),
  }),
} as const;

/** The event's key in its stream: one per breaker and opening instant, so recording the same opening twice appends once. */
export const circuitBreakerCausationKey = (d: CircuitBreakerOpened['data']): string => `circuit-open:${d.api}:${d.accountId}/${d.region}:${d.at}`;

/** The webhook notification of a breaker that opened; keyed by the event id, like every notification. */
export function circuitBreakerNotificationOf(event: CircuitBreakerOpened & { readonly id: string }): Notification {
  const d = event.data;
  const seconds = Math.round(d.halfOpenAfterMs / 1000);
  return {
    kind: 'circuit-breaker-open',
    key: `optex:${event.id}`,
    title: `Circuit breaker open: ${d.api.toUpperCase()} in ${d.accountId} / ${d.region}`,
    summary: `${d.consecutiveFailures} transient failures in a row (last: ${d.lastError}). optex stops calling ${d.api.toUpperCase()} there for ${seconds} s, then tries one call; work on that account and region waits meanwhile.`,
    fields: [
      { label: 'Account / region', value: `${d.accountId} / ${d.region}` },
      { label: 'Last error', value: d.lastError },
      { label: 'Process', value: d.process },
      { label: 'Opened at', value: d.at },
    ],
  };
}
