import { KafkaJSError } from 'kafkajs';
import { InfrastructureError, OptexError } from '@optex/ports';

/** Whether `error` came from kafkajs (its own error hierarchy, or a socket error under it). */
export function isKafkaDriverError(error: unknown): boolean {
  return error instanceof KafkaJSError || (error instanceof Error && error.name.startsWith('KafkaJS'));
}

/**
 * Translates a kafkajs error into the port's {@link InfrastructureError} (keeping it as `cause`),
 * so nothing above the adapter imports the driver. Errors that are neither the driver's nor
 * ours (a bug, a bad argument) pass through unchanged, as do ours.
 */
export function toInfrastructureError(error: unknown, what: string): unknown {
  if (error instanceof OptexError || !isKafkaDriverError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const retriable = error instanceof KafkaJSError ? ` (retriable: ${String(error.retriable)})` : '';
  return new InfrastructureError(`kafka: ${what} failed: ${message}${retriable}`, { cause: error });
}

/** Runs `fn`, translating whatever it throws with {@link toInfrastructureError}. */
export async function translating<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toInfrastructureError(error, what);
  }
}
