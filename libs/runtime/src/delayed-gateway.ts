import type { Ec2Gateway } from '@optex/ports';

/**
 * Wraps an Ec2Gateway so every call waits `delayMs` first (`OPTEX_EC2_CALL_DELAY_MS`): latency
 * injection for game days and for the crash tests, which need multi-step executions that take
 * long enough to be interrupted in the middle.
 */
export function delayedGateway(inner: Ec2Gateway, delayMs: number): Ec2Gateway {
  if (delayMs <= 0) return inner;
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await new Promise((r) => setTimeout(r, delayMs));
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}
