import type { Ec2Gateway, EventStore } from '@optex/ports';

/**
 * Fault injection for crash tests (`OPTEX_CRASH_AT`): the process kills itself with SIGKILL at an exact step
 * boundary, so a test can prove that what it left behind is reconciled and never repeated.
 *
 * - `call:N` — right after the N-th mutating EC2 call (not a dry run, not a describe, look-up or wait) returned,
 *   before the executor could record its outcome: the window where a repeated call would double an effect.
 * - `append:N` — right after the N-th append to an `optimization-*` stream was acknowledged by the store.
 * - `event:TYPE:N` — right after the N-th append that holds an event of type TYPE (e.g. `event:ExecutionStepStarted:1`:
 *   the intent is recorded and the call not yet made).
 *
 * Unset (the default) changes nothing. Never set it outside tests and game days.
 */
export interface CrashPoint {
  readonly kind: 'call' | 'append' | 'event';
  readonly n: number;
  /** The event type `event:TYPE:N` counts. */
  readonly eventType?: string;
}

/** Parses `OPTEX_CRASH_AT`; throws naming the variable when the value is not `call:N`, `append:N` or `event:TYPE:N` (N ≥ 1). */
export function parseCrashPoint(value: string | undefined): CrashPoint | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const event = /^event:([A-Za-z]+):([1-9]\d*)$/.exec(value.trim());
  if (event) return { kind: 'event', eventType: event[1]!, n: Number(event[2]) };
  const match = /^(call|append):([1-9]\d*)$/.exec(value.trim());
  if (!match) throw new Error(`OPTEX_CRASH_AT: expected call:N, append:N or event:TYPE:N with N ≥ 1, got ${JSON.stringify(value)}`);
  return { kind: match[1] as CrashPoint['kind'], n: Number(match[2]) };
}

const NOT_MUTATING = /^(describe|find|wait)/;

/** How the process dies at the crash point (tests of this module replace it). */
export type Kill = () => void;
const sigkill: Kill = () => process.kill(process.pid, 'SIGKILL');

/** Wraps the gateway so the process dies right after the N-th mutating call returned (`call:N`). */
export function crashingGateway(inner: Ec2Gateway, point: CrashPoint | undefined, kill: Kill = sigkill): Ec2Gateway {
  if (point?.kind !== 'call') return inner;
  let calls = 0;
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      // Bound to the gateway itself, so that its own internal calls are not counted as calls.
      if (typeof property !== 'string' || NOT_MUTATING.test(property)) return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        const options = args[args.length - 1] as { dryRun?: boolean } | undefined;
        if (!(options && typeof options === 'object' && options.dryRun === true) && ++calls === point.n) kill();
        return result;
      };
    },
  });
}

/**
 * Wraps the store so the process dies right after the N-th append to an `optimization-*` stream (`append:N`), or the N-th
 * append holding an event of type TYPE, on any stream (`event:TYPE:N`).
 */
export function crashingStore(inner: EventStore, point: CrashPoint | undefined, kill: Kill = sigkill): EventStore {
  if (point?.kind !== 'append' && point?.kind !== 'event') return inner;
  let appends = 0;
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== 'appendToStream' || typeof value !== 'function') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      return async (stream: string, events: readonly { type: string }[], ...rest: unknown[]) => {
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, [stream, events, ...rest]);
        const counts = point.kind === 'append' ? stream.startsWith('optimization-') : events.some((e) => e.type === point.eventType);
        if (counts && ++appends === point.n) kill();
        return result;
      };
    },
  });
}
