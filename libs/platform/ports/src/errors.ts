/**
 * Errors every port may raise. Adapters translate driver errors into these, so
 * nothing above an adapter imports a driver. Each carries a `code` discriminant.
 */
export abstract class OptexError extends Error {
  abstract readonly code: string;
  /** Whether retrying the same call may succeed (infrastructure hiccup), as opposed to a rejection. */
  abstract readonly transient: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = new.target.name;
  }
}

/** The stream's revision was not the one the caller expected (optimistic concurrency). */
export class ConcurrencyError extends OptexError {
  readonly code = 'CONCURRENCY';
  readonly transient = true;
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevisionDescription,
    readonly actual: bigint | 'no_stream',
  ) {
    super(`stream ${stream}: expected revision ${String(expected)}, actual ${String(actual)}`);
  }
}
export type ExpectedRevisionDescription = bigint | 'any' | 'no_stream' | 'stream_exists';

/** The store (or bus) could not be reached or failed for a reason unrelated to the request. */
export class InfrastructureError extends OptexError {
  readonly code = 'INFRASTRUCTURE';
  readonly transient = true;
}

/** An EC2 API error, with the AWS error code (e.g. `IncorrectInstanceState`, `RequestLimitExceeded`). */
export class Ec2Error extends OptexError {
  readonly code = 'EC2';
  constructor(
    readonly awsCode: string,
    message: string,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${awsCode}: ${message}`, options);
  }
}

/** AWS error codes worth retrying with backoff. Everything else is a rejection. */
export const TRANSIENT_EC2_CODES: ReadonlySet<string> = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ServiceUnavailable',
  'Unavailable',
  'InternalError',
  'InsufficientInstanceCapacity',
  'RequestTimeout',
]);

export const ec2Error = (awsCode: string, message: string, options?: { cause?: unknown }): Ec2Error =>
  new Ec2Error(awsCode, message, TRANSIENT_EC2_CODES.has(awsCode), options);
