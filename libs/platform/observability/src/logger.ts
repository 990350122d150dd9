import pino from 'pino';
import { activeTraceIds, type Logger } from '@optex/ports';

export interface LoggerOptions {
  /** @defaultValue `info`, or `OPTEX_LOG_LEVEL` */
  readonly level?: string;
  /** Service name put on every line. */
  readonly service: string;
  /** Where JSON lines go. @defaultValue stderr (stdout is kept for command output) */
  readonly destination?: NodeJS.WritableStream;
}

/** Keys every line has (pino's level, time and message, and the service): a field of a call by one of these names would be a second key of the same name on the line. */
const LINE_KEYS = new Set(['level', 'time', 'msg', 'service']);

/**
 * A call's fields with any named like a key of the line itself suffixed `_` (`level` → `level_`): pino would write both,
 * and a JSON reader keeps the last, so a field `level: 'LOW'` hid the line's level from anything filtering on it.
 */
export function withoutLineKeys(fields: Record<string, unknown>): Record<string, unknown> {
  let clash = false;
  for (const key in fields) if (LINE_KEYS.has(key)) clash = true;
  if (!clash) return fields;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) out[LINE_KEYS.has(key) ? `${key}_` : key] = value;
  return out;
}

/**
 * Structured JSON logs (one object per line) on stderr, through pino. A field named like a key of the line is renamed
 * ({@link withoutLineKeys}). With tracing on, a line written inside a sampled span carries its `trace_id`, `span_id` and
 * `trace_flags` (OpenTelemetry's log fields), so on-call goes from a log line to its trace; nothing otherwise.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.OPTEX_LOG_LEVEL ?? 'info';
  const base = pino(
    // The mixin's object is new each time: pino merges the line's fields into it.
    { level, base: { service: options.service }, timestamp: pino.stdTimeFunctions.isoTime, mixin: () => activeTraceIds() ?? {}, formatters: { log: withoutLineKeys } },
    options.destination ?? pino.destination(2),
  );
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
