import { STATUS_CODES } from 'node:http';
import { Catch, HttpException, HttpStatus, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { DomainError, type DomainErrorCode, type FieldError } from '@optex/domain';
import { isOutage } from '@optex/ports';
import type { AuthenticatedRequest } from './api.constants';

/** What each domain refusal is in HTTP: not allowed → 403, unknown → 404, bad input → 400, the wrong moment → 409. */
const STATUS: Partial<Record<DomainErrorCode, number>> = {
  NOT_AUTHORIZED: HttpStatus.FORBIDDEN,
  NOT_FOUND: HttpStatus.NOT_FOUND,
  INVALID_INPUT: HttpStatus.BAD_REQUEST,
};

/** The reason of a 503 for an outage. */
export const OUTAGE_REASON = 'the event store or the bus is unreachable (an outage): try again later';

/**
 * The answer to what any route throws. A domain refusal: its status, code and message (nothing was appended: the
 * decider refused first). An outage of the event store or the bus (`isOutage` from @optex/ports, as the services
 * answer it): 503 with {@link OUTAGE_REASON}, followed by the error's own message in brackets only for a caller the
 * guard authenticated (to anyone else, /health's probes included, it could name internal hosts). Anything else as Nest
 * answers it: an HttpException with its status and body, any other error 500.
 */
@Catch()
export class ApiErrorFilter extends BaseExceptionFilter {
  override catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<{ status(code: number): { json(body: unknown): void } }>();
    if (error instanceof DomainError) {
      const status = STATUS[error.code] ?? HttpStatus.CONFLICT;
      response.status(status).json({ statusCode: status, error: error.code, reason: error.message });
      return;
    }
    if (isOutage(error)) {
      const authenticated = http.getRequest<AuthenticatedRequest>().principal !== undefined;
      response.status(HttpStatus.SERVICE_UNAVAILABLE).json({ statusCode: 503, error: 'Service Unavailable', reason: authenticated ? `${OUTAGE_REASON} (${(error as Error).message})` : OUTAGE_REASON });
      return;
    }
    const refusal = clientRefusalOf(error);
    if (refusal) {
      response.status(refusal.statusCode).json(refusal);
      return;
    }
    super.catch(error, host);
  }
}

/**
 * A 4xx that Nest or a body parser made (a body that is not JSON, one over the parser's limit: `{message, error,
 * statusCode}` or an http-errors error), in the API's error shape, `{statusCode, error, reason}`; undefined for
 * anything else, and for a 4xx whose body the API wrote itself (it has a `reason` already).
 */
function clientRefusalOf(error: unknown): { statusCode: number; error: string; reason: string } | undefined {
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const body = error.getResponse();
    if (status < 400 || status >= 500 || (typeof body === 'object' && body !== null && 'reason' in body)) return undefined;
    const message = typeof body === 'object' && body !== null && 'message' in body ? (body as { message: unknown }).message : body;
    return { statusCode: status, error: STATUS_CODES[status] ?? 'Bad Request', reason: Array.isArray(message) ? message.join('; ') : String(message) };
  }
  // http-errors (raw-body's 413, body-parser's 400 and 415): a status and a message meant for the client (`expose`).
  const e = error as { status?: unknown; expose?: unknown; message?: unknown } | null;
  if (typeof e !== 'object' || e === null || e.expose !== true || typeof e.status !== 'number' || e.status < 400 || e.status >= 500) return undefined;
  return { statusCode: e.status, error: STATUS_CODES[e.status] ?? 'Bad Request', reason: String(e.message) };
}


/** A 400 whose body names every failing field. */
export function badRequest(errors: readonly FieldError[]): { statusCode: 400; error: 'Bad Request'; errors: readonly FieldError[]; reason: string } {
  return { statusCode: 400, error: 'Bad Request', errors, reason: errors.map((e) => e.message).join('; ') };
}
