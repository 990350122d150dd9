import { Ec2Error, THROTTLING_EC2_CODES, TRANSIENT_EC2_CODES, isCapacityShortage } from '@optex/ports';

/** Node/undici error codes of a connection that failed or broke: the service was not reached or the answer was lost. */
const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** What an AWS SDK v3 failure says about itself, normalized. */
export interface AwsFailure {
  /** The AWS error code (`IncorrectInstanceState`, …); `InternalError`/`ServiceUnavailable` for a 5xx without one; `NetworkError` when no answer came. */
  readonly code: string;
  readonly message: string;
  readonly httpStatus?: number;
  /** Throttling, 5xx, network, or a code listed as transient. */
  readonly transient: boolean;
  /** A throttling code: AWS did not process the request. */
  readonly throttling: boolean;
}

interface SdkErrorShape {
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { statusCode?: unknown };
}

/** Reads the code, HTTP status and transience of whatever the AWS SDK threw. */
export function describeAwsFailure(error: unknown): AwsFailure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const status =
    typeof e.$metadata?.httpStatusCode === 'number'
      ? e.$metadata.httpStatusCode
      : typeof e.$response?.statusCode === 'number'
        ? e.$response.statusCode
        : undefined;
  const nodeCode = typeof e.code === 'string' ? e.code : undefined;
  if (nodeCode !== undefined && NETWORK_ERROR_CODES.has(nodeCode)) {
    return { code: 'NetworkError', message: `${nodeCode}: ${message}`, httpStatus: status, transient: true, throttling: false };
  }
  const awsCode = typeof e.Code === 'string' && e.Code !== '' ? e.Code : typeof e.name === 'string' ? e.name : undefined;
  // A deserialization failure (an HTML error page, say) leaves the SDK with a bare `Error`: use the HTTP status.
  const generic = awsCode === undefined || awsCode === 'Error' || awsCode === 'SyntaxError' || awsCode === 'UnknownError';
  let code: string;
  if (!generic) code = awsCode;
  else if (status === 503) code = 'ServiceUnavailable';
  else if (status !== undefined && status >= 500) code = 'InternalError';
  else if (status === 429) code = 'Throttling';
  else code = 'UnknownError';
  // The SDK's own socket time-out.
  if (code === 'TimeoutError') code = 'RequestTimeout';
  const throttling = THROTTLING_EC2_CODES.has(code) || status === 429;
  const transient = throttling || TRANSIENT_EC2_CODES.has(code) || (status !== undefined && status >= 500);
  const withStatus = generic && status !== undefined ? `HTTP ${status}: ${message}` : message;
  return { code, message: withStatus, httpStatus: status, transient, throttling };
}

/**
 * Translates anything the EC2 SDK threw into an {@link Ec2Error} carrying the AWS code (`error.Code` or `error.name`),
 * prefixed with the operation. An `Ec2Error` passes through unchanged.
 */
export function toEc2Error(error: unknown, operation: string): Ec2Error {
  if (error instanceof Ec2Error) return error;
  const failure = describeAwsFailure(error);
  return new Ec2Error(failure.code, `${operation}: ${failure.message}`, failure.transient, { cause: error });
}

/** Whether an error is one of the `*.NotFound` (or `*.Malformed`: an id that cannot exist) codes of a describe call. */
export function isNotFound(error: unknown): boolean {
  return (
    error instanceof Ec2Error &&
    (error.awsCode.endsWith('.NotFound') || error.awsCode.endsWith('.Malformed') || error.awsCode === 'InvalidReservedInstancesOfferingId')
  );
}

/**
 * Whether an error is a transient {@link Ec2Error} that says EC2 is unavailable (throttling, 5xx, network, time-out):
 * what the adapter retries and what its circuit breaker counts. A capacity shortage (`InsufficientInstanceCapacity`…,
 * EC2 answering, though with a 5xx, that it has no room) is transient but not one of these: retrying it at once
 * rarely helps, the step runner retries it with its own backoff and then fails the step, and it says nothing about
 * EC2's health, so it must not open the breaker for the whole account and region.
 */
export const isTransientEc2Error = (error: unknown): boolean => error instanceof Ec2Error && error.transient && !isCapacityShortage(error);

/** Whether an error is an {@link Ec2Error} with a throttling code. */
export const isThrottlingEc2Error = (error: unknown): boolean => error instanceof Ec2Error && THROTTLING_EC2_CODES.has(error.awsCode);
