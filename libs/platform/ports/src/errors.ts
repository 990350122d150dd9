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
  readonly code: string = 'INFRASTRUCTURE';
  readonly transient: boolean = true;
}

/**
 * The store or the bus refused optex's login or permissions: Kafka's SASL authentication failed or an ACL denies a
 * topic, group or the cluster (`*_AUTHORIZATION_FAILED`), EventStoreDB answered access denied or unauthenticated.
 * An outage that only an operator ends (a password, a user, an ACL), so it is an {@link InfrastructureError} that is
 * not transient: a consumer whose handler meets it mid-way waits, as for any outage, and carries on once access is
 * restored ({@link isOutage}); a service starting up fails at once instead of retrying for a minute; the CLI exits 1,
 * not 3 (which scripts retry).
 */
export class AccessRefusedError extends InfrastructureError {
  override readonly code: string = 'ACCESS_REFUSED';
  override readonly transient: boolean = false;
}

/**
 * The store holds something optex cannot use, and trying again will not change that: a file that is not a database or
 * is damaged (SQLite's `SQLITE_NOTADB`, `SQLITE_CORRUPT`), or one written by a newer optex. Not an outage: nothing
 * waits it out or retries it; an operator restores a backup or runs the newer optex.
 */
export class UnusableStoreError extends OptexError {
  readonly code = 'UNUSABLE_STORE';
  readonly transient = false;
}

/**
 * An EC2 API error, with the AWS error code (e.g. `IncorrectInstanceState`, `RequestLimitExceeded`). `outcomeUnknown`:
 * a call that may take effect twice failed in a way that does not say whether it took effect (a 5xx, a time-out, a
 * lost connection); it is not retried blindly, and the step's recorded intent is reconciled instead.
 */
export class Ec2Error extends OptexError {
  readonly code = 'EC2';
  readonly outcomeUnknown: boolean;
  constructor(
    readonly awsCode: string,
    message: string,
    readonly transient: boolean,
    options?: { cause?: unknown; outcomeUnknown?: boolean },
  ) {
    super(`${awsCode}: ${message}`, options);
    this.outcomeUnknown = options?.outcomeUnknown ?? false;
  }
}

/**
 * EC2 answering that it has no room right now for what was asked (an instance type in a zone, addresses, volumes,
 * dedicated hosts, reserved instances): retrying later may succeed, so these are transient, but EC2 is up and said
 * no — they are not outages ({@link isOutage}). A step retries them within its attempts, with backoff, and then
 * fails, so the decider rolls it back: waited out as an outage, a shortage that lasts hours would leave the resource
 * half-changed (an instance stopped on its new type) for as long. EC2 names no outcome-unknown case among them: the
 * request was refused, nothing took effect.
 */
export const CAPACITY_EC2_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientAddressCapacity',
  'InsufficientCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'InsufficientVolumeCapacity',
]);

/**
 * AWS error codes worth retrying with backoff ({@link Ec2Error.transient}). Everything else is a rejection. The rule:
 * - EC2 unavailable — throttling (`RequestLimitExceeded`, `Throttling*`), a failure on its side (`InternalError`,
 *   `InternalFailure`, `ServiceUnavailable`, `Unavailable`), a request that timed out (`RequestTimeout`): an outage,
 *   waited out for as long as it takes (the AWS adapter also counts any 5xx and network failure as one);
 * - EC2 up but short of capacity ({@link CAPACITY_EC2_CODES}): retried within the step, then the step fails.
 * Limits of the account, the subnet or the resource (`InsufficientFreeAddressesInSubnet`, `AddressLimitExceeded`,
 * `VolumeLimitExceeded`, `InstanceLimitExceeded`, `VcpuLimitExceeded`, `MaxIOPSLimitExceeded`, `TagLimitExceeded`…)
 * are deliberately not listed: they stay until someone frees or raises them, so retrying changes nothing — the step
 * fails at once.
 */
export const TRANSIENT_EC2_CODES: ReadonlySet<string> = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ServiceUnavailable',
  'Unavailable',
  'InternalError',
  'InternalFailure',
  'RequestTimeout',
  ...CAPACITY_EC2_CODES,
]);

/**
 * AWS error codes of a request refused for its rate (`RequestLimitExceeded`, `Throttling`…): EC2 did not carry it out,
 * so repeating it cannot do it twice. The AWS adapter classifies its answers by these codes too. A throttle is an outage
 * ({@link isOutage}); unlike a 5xx or a time-out on a call that may take effect twice, its outcome is known.
 */
export const THROTTLING_EC2_CODES: ReadonlySet<string> = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'SlowDown',
  'EC2ThrottledException',
  'PriorRequestNotComplete',
  'BandwidthLimitExceeded',
]);

/**
 * Whether `error` is EC2 throttling the request ({@link THROTTLING_EC2_CODES}), its outcome known: not carried out.
 * Repeating the call is safe whatever it does (a purchase included); a step waits such an answer out.
 */
export function isThrottling(error: unknown): boolean {
  return error instanceof Ec2Error && error.transient && !error.outcomeUnknown && THROTTLING_EC2_CODES.has(error.awsCode);
}

/**
 * AWS error codes of a call the resource is not (yet) in the state for: a start while the instance is still
 * `stopping`, a stop while it is `pending`. Not transient (a refusal: nothing took effect, and for most calls retrying
 * changes nothing), but on a start or a stop the instance is usually on its way to the state needed, so those steps
 * retry them within their attempts, as a capacity shortage, and then fail.
 */
export const INCORRECT_STATE_EC2_CODES: ReadonlySet<string> = new Set(['IncorrectInstanceState', 'IncorrectState']);

/** Whether `error` is EC2 answering that the resource is not in the state the call needs ({@link INCORRECT_STATE_EC2_CODES}). */
export function isIncorrectState(error: unknown): boolean {
  return error instanceof Ec2Error && INCORRECT_STATE_EC2_CODES.has(error.awsCode);
}

/** Whether `error` is EC2 refusing for a capacity shortage ({@link CAPACITY_EC2_CODES}): transient, not an outage. */
export function isCapacityShortage(error: unknown): boolean {
  return error instanceof Ec2Error && CAPACITY_EC2_CODES.has(error.awsCode);
}

export const ec2Error = (awsCode: string, message: string, options?: { cause?: unknown }): Ec2Error =>
  new Ec2Error(awsCode, message, TRANSIENT_EC2_CODES.has(awsCode), options);

/**
 * EC2's refusal as `{code, message}` when `error` is one that retrying would not change (a non-transient
 * {@link Ec2Error}: a missing permission, a rule); `undefined` for anything else (throttling, outages, bugs).
 */
export function ec2Refusal(error: unknown): { code: string; message: string } | undefined {
  return error instanceof Ec2Error && !error.transient ? ec2ErrorInfo(error) : undefined;
}

/** An EC2 error as `{code, message}`: AWS's code, and the message without the `Code: ` prefix the error's own message has. */
export function ec2ErrorInfo(error: Ec2Error): { code: string; message: string } {
  return { code: error.awsCode, message: error.message.replace(`${error.awsCode}: `, '') };
}

/**
 * Whether `error` is an infrastructure outage rather than something wrong with the message: the store or
 * broker unreachable ({@link InfrastructureError}), or EC2 unavailable — throttling, failing on its side (5xx),
 * unreachable, timing out (a transient {@link Ec2Error} other than a capacity shortage). Consumers wait such errors
 * out (redeliver with backoff, for as long as it takes) and never count them as poison-message attempts. Not one:
 * a {@link ConcurrencyError} (it is about the message's stream, and the command handler already retries it), and a
 * capacity shortage ({@link isCapacityShortage}: EC2 is up and said no; the step fails after its retries).
 */
export function isOutage(error: unknown): boolean {
  return error instanceof InfrastructureError || (error instanceof Ec2Error && error.transient && !CAPACITY_EC2_CODES.has(error.awsCode));
}

/** An error's text for logs and dead-letter headers: `Name: message` for errors, JSON for other objects (never `[object Object]`). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  if (typeof error === 'object' && error !== null) {
    try {
      return JSON.stringify(error);
    } catch {
      return Object.prototype.toString.call(error);
    }
  }
  return String(error);
}

/**
 * An EC2 call not carried out, and not in flight: the kill switch engaged while it waited for its turn (the EC2 request
 * budget), so it was not sent; or EC2 throttled every attempt of it and the process is stopping. Nothing happened in
 * EC2: the executor closes the step's recorded intent as not carried out, and the step is started again once execution
 * resumes (or after the restart).
 */
export class CallHeldError extends OptexError {
  readonly code = 'CALL_HELD';
  readonly transient = false;
}
