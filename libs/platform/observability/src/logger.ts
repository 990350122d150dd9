import pino from 'pino';
import type { Logger } from '@optex/ports';

export interface LoggerOptions {
  /** @defaultValue `info`, or `OPTEX_LOG_LEVEL` */
  readonly level?: string;
  /** Service name put on every line. */
  readonly service: string;
  /** Where JSON lines go. @defaultValue stderr (stdout is kept for command output) */
  readonly destination?: NodeJS.WritableStream;
}

/** Structured JSON logs (one object per line) on stderr, through pino. */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.OPTEX_LOG_LEVEL ?? 'info';
  const base = pino({ level, base: { service: options.service }, timestamp: pino.stdTimeFunctions.isoTime }, options.destination ?? pino.destination(2));
  return wrap(base);
}

function wrap(p: pino.Logger): Logger {
  return {
    debug: (f, m) => p.debug(f, m),
    info: (f, m) => p.info(f, m),
    warn: (f, m) => p.warn(f, m),
    error: (f, m) => p.error(f, m),
    child: (b) => wrap(p.child(b)),
  };
}
