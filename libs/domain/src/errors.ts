/** Why the domain refused a command. */
export type DomainErrorCode =
  | 'INVALID_STATE'
  | 'NOT_FOUND'
  | 'ALREADY_APPROVED'
  /** The person deciding does not hold the authority the request names (see the roster). */
  | 'NOT_AUTHORIZED'
  | 'APPROVAL_EXPIRED'
  /** An approval given for an approval request that has been asked again since (see `Approve.requestedAt`). */
  | 'REQUEST_CHANGED'
  | 'OUT_OF_ORDER'
  | 'INVALID_INPUT'
  /** A stored event of a type (or schema version) this code does not know. */
  | 'UNKNOWN_EVENT'
  /** A stored event whose data does not fit its type's schema. */
  | 'INVALID_EVENT';

/**
 * A rejection by the domain (a business rule, not an infrastructure fault). Infrastructure never
 * retries these: the same command against the same state fails the same way.
 */
export class DomainError extends Error {
  /** Always `false`: retrying a domain rejection cannot succeed. */
  readonly transient = false;

  constructor(
    readonly code: DomainErrorCode,
    message: string,
  ) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = 'DomainError';
  }
}

/** Whether `error` is a {@link DomainError}, optionally with the given code. */
export function isDomainError(error: unknown, code?: DomainErrorCode): error is DomainError {
  return error instanceof DomainError && (code === undefined || error.code === code);
}
