import { ErrorType, convertToCommandError } from '@eventstore/db-client';
import { AccessRefusedError, InfrastructureError } from '@optex/ports';

/**
 * The driver's error discriminant (`type`), read without depending on its classes' identity.
 * Raw gRPC errors (some client paths reject with them) are classified the driver's way first.
 */
export function driverErrorType(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  let converted: unknown = error;
  try {
    if (error instanceof Error) converted = convertToCommandError(error);
  } catch {
    // Not a gRPC error after all (the driver's check is loose): keep it as it is.
  }
  if (typeof converted !== 'object' || converted === null || !('type' in converted)) return undefined;
  const type = (converted as { type: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

export const isWrongExpectedVersion = (error: unknown): boolean =>
  driverErrorType(error) === ErrorType.WRONG_EXPECTED_VERSION;

export const isStreamNotFound = (error: unknown): boolean => driverErrorType(error) === ErrorType.STREAM_NOT_FOUND;

/**
 * Wraps anything the driver throws (unavailable, deadline exceeded, ...) into an {@link InfrastructureError} naming
 * the operation, with the original as `cause`, so no driver type crosses the adapter boundary; access denied (a
 * stream's ACL, or a login the node refused: gRPC `UNAUTHENTICATED`, which the driver reports as access denied too)
 * into an {@link AccessRefusedError}. Errors that are already ours pass through.
 */
export function toInfrastructureError(operation: string, error: unknown): Error {
  if (error instanceof InfrastructureError) return error;
  const kind = driverErrorType(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (kind === ErrorType.ACCESS_DENIED) {
    return new AccessRefusedError(`EventStoreDB ${operation} refused (access denied): ${detail} (check the user and password of the connection string and the streams' ACLs)`, { cause: error });
  }
  return new InfrastructureError(`EventStoreDB ${operation} failed${kind ? ` (${kind})` : ''}: ${detail}`, { cause: error });
}
