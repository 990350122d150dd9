import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { DomainError, type DomainErrorCode, type FieldError } from '@optex/domain';

/** What each domain refusal is in HTTP: not allowed → 403, unknown → 404, bad input → 400, the wrong moment → 409. */
const STATUS: Partial<Record<DomainErrorCode, number>> = {
  NOT_AUTHORIZED: HttpStatus.FORBIDDEN,
  NOT_FOUND: HttpStatus.NOT_FOUND,
  INVALID_INPUT: HttpStatus.BAD_REQUEST,
};

/** Answers a domain refusal with its status, code and message (nothing was appended: the decider refused first). */
@Catch(DomainError)
export class DomainErrorFilter implements ExceptionFilter {
  catch(error: DomainError, host: ArgumentsHost): void {
    const status = STATUS[error.code] ?? HttpStatus.CONFLICT;
    host
      .switchToHttp()
      .getResponse<{ status(code: number): { json(body: unknown): void } }>()
      .status(status)
      .json({ statusCode: status, error: error.code, reason: error.message });
  }
}

/** A 400 whose body names every failing field. */
export function badRequest(errors: readonly FieldError[]): { statusCode: 400; error: 'Bad Request'; errors: readonly FieldError[]; reason: string } {
  return { statusCode: 400, error: 'Bad Request', errors, reason: errors.map((e) => e.message).join('; ') };
}
