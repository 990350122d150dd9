import { KafkaJSError } from 'kafkajs';
import { AccessRefusedError, InfrastructureError, OptexError } from '@optex/ports';

/** Whether `error` came from kafkajs (its own error hierarchy, or a socket error under it). */
export function isKafkaDriverError(error: unknown): boolean {
  return error instanceof KafkaJSError || (error instanceof Error && error.name.startsWith('KafkaJS'));
}

/**
 * Translates a kafkajs error into the port's {@link InfrastructureError} (keeping it as `cause`) — an
 * {@link AccessRefusedError} when the brokers refused the login or an ACL denied the request —
 * so nothing above the adapter imports the driver. Errors that are neither the driver's nor
 * ours (a bug, a bad argument) pass through unchanged, as do ours.
 */
export function toInfrastructureError(error: unknown, what: string): unknown {
  if (error instanceof OptexError || !isKafkaDriverError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const refusal = accessRefusal(error);
  if (refusal) return new AccessRefusedError(`kafka: ${what} refused: ${message} (${refusal})`, { cause: error });
  const retriable = error instanceof KafkaJSError ? ` (retriable: ${String(error.retriable)})` : '';
  return new InfrastructureError(`kafka: ${what} failed: ${message}${retriable}`, { cause: error });
}

/**
 * What to check when the brokers refused the client's login or permissions, or `undefined` for any other failure:
 * kafkajs's SASL authentication error, or a protocol error `SASL_AUTHENTICATION_FAILED` / `…_AUTHORIZATION_FAILED`
 * (an ACL), looked for along the error's causes (kafkajs wraps the last one of its retries in `originalError`).
 */
function accessRefusal(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { name, type } = current as { name?: unknown; type?: unknown };
    if (name === 'KafkaJSSASLAuthenticationError' || type === 'SASL_AUTHENTICATION_FAILED') return 'the brokers refused the SASL login: check the mechanism, username and password (OPTEX_KAFKA_SASL_*)';
    if (typeof type === 'string' && type.endsWith('_AUTHORIZATION_FAILED')) return `the brokers' ACLs deny this user (${type})`;
    current = (current as { originalError?: unknown; cause?: unknown }).originalError ?? (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Runs `fn`, translating whatever it throws with {@link toInfrastructureError}. */
export async function translating<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toInfrastructureError(error, what);
  }
}
