import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { PREVIEW_DELIVERY_PREFIX, defaultIntakeLimits, type IntakeLimits } from '@optex/domain';
import type { Submitter } from '@optex/ports';
import { UsageError } from './adapters';

/** The environment variable of each intake limit (the CLI and the service processes read the same ones). */
export const INTAKE_LIMIT_VARIABLES: Readonly<Record<keyof IntakeLimits, string>> = {
  maxRecordBytes: 'OPTEX_MAX_RECORD_BYTES',
  maxStringLength: 'OPTEX_MAX_STRING_LENGTH',
  maxDepth: 'OPTEX_MAX_DEPTH',
  maxTags: 'OPTEX_MAX_TAGS',
  maxFileBytes: 'OPTEX_MAX_FILE_BYTES',
};

/**
 * The intake limits: {@link defaultIntakeLimits}, each overridden by its variable of {@link INTAKE_LIMIT_VARIABLES}
 * when set. A value that is not a whole number ≥ 1 (≥ 0 for the tag count) is a {@link UsageError} naming the variable.
 */
export function intakeLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): IntakeLimits {
  const limits: Record<string, number> = { ...defaultIntakeLimits };
  for (const [key, variable] of Object.entries(INTAKE_LIMIT_VARIABLES)) {
    const value = envWholeNumber(env, variable, key === 'maxTags' ? 0 : 1);
    if (value !== undefined) limits[key] = value;
  }
  return limits as unknown as IntakeLimits;
}

/**
 * The whole number from `min` to `max` the environment variable `name` holds: decimal digits only (no sign, point,
 * exponent or `0x`; blanks around them are ignored); `undefined` when unset or empty; anything else a
 * {@link UsageError} naming the variable. The CLI and the service processes read every integer variable with it.
 */
export function envWholeNumber(env: NodeJS.ProcessEnv, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${name} must be a whole number ${range}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** One record of an input as read: its bytes, unchanged (a record over the size limit keeps only its first part). */
export interface InputRecord {
  /** The record's bytes, or the first `maxRecordBytes` of them. */
  readonly bytes: Uint8Array;
  /** The record's full size in bytes (more than `bytes.length` when only a prefix was kept). */
  readonly size: number;
}

/** Recommendations read from one input (a file, stdin). */
export interface InputRecords {
  /** Each record in input order, as bytes (may be invalid UTF-8 or JSON: it is then rejected, not fatal). */
  readonly records: readonly InputRecord[];
  /** Stable per input content: the prefix of every record's delivery id. */
  readonly deliveryPrefix: string;
  readonly name: string;
  /** Who submits it (the CLI, the API's caller): sent with each record's message, recorded with what it becomes. */
  readonly submittedBy?: Submitter;
}

/** A record given as text (tests, tools): its UTF-8 bytes, whole. */
export function inputRecord(record: string | Uint8Array): InputRecord {
  const bytes = typeof record === 'string' ? Buffer.from(record, 'utf8') : record;
  return { bytes, size: bytes.length };
}

/** The input is not a JSON array or NDJSON as a whole (a usage error: nothing of it is processed). */
export class InputFormatError extends Error {
  constructor(message: string) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

const isBlank = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
const BOM = [0xef, 0xbb, 0xbf] as const;

/**
 * Where the records' bytes live: copied one after the other into 1 MiB slabs (a record is a view of its slab), so
 * that many small records cost their bytes, not one buffer each.
 */
class Slabs {
  private static readonly SIZE = 1024 * 1024;
  private slab = Buffer.alloc(0);
  private used = 0;

  copy(parts: readonly Uint8Array[], length: number): Uint8Array {
    if (length > Slabs.SIZE / 4) return Buffer.concat(parts, length);
    if (this.used + length > this.slab.length) {
      this.slab = Buffer.alloc(Slabs.SIZE);
      this.used = 0;
    }
    const start = this.used;
    for (const part of parts) {
      const n = Math.min(part.length, start + length - this.used);
      this.slab.set(part.subarray(0, n), this.used);
      this.used += n;
    }
    return this.slab.subarray(start, this.used);
  }
}

/** Bytes of one record being read: keeps at most `limit` of them, counts them all. */
class RecordBuilder {
  /** Views of the chunks being read (a chunk is not reused by its stream); copied into a slab by {@link take}. */
  private readonly parts: Uint8Array[] = [];
  private kept = 0;
  /** Bytes seen, and bytes up to the last non-blank one (trailing blanks are not part of the record). */
  private seen = 0;
  private end = 0;
  /** Bytes were skipped ({@link skip}): nothing more is kept. */
  private cut = false;

  constructor(
    private readonly limit: number,
    private readonly slabs: Slabs,
  ) {}

  get empty(): boolean {
    return this.end === 0;
  }

  /** Adds `chunk[from, to)`; leading blanks are skipped. */
  add(chunk: Uint8Array, from: number, to: number): void {
    if (this.seen === 0) while (from < to && isBlank(chunk[from]!)) from++;
    if (from >= to) return;
    for (let i = to - 1; i >= from; i--) {
      if (!isBlank(chunk[i]!)) {
        this.end = this.seen + (i - from) + 1;
        break;
      }
    }
    const room = this.cut ? 0 : this.limit - this.kept;
    if (room > 0) {
      const part = chunk.subarray(from, Math.min(to, from + room));
      this.parts.push(part);
      this.kept += part.length;
    }
    this.seen += to - from;
  }

  /** Counts `count` more bytes of the record, none of them kept, nor any after them (what is kept stays a prefix). */
  skip(count: number): void {
    this.seen += count;
    this.end = this.seen;
    this.cut = true;
  }

  take(): InputRecord {
    const record = { bytes: this.slabs.copy(this.parts, Math.min(this.kept, this.end)), size: this.end };
    this.parts.length = 0;
    this.kept = 0;
    this.seen = 0;
    this.end = 0;
    this.cut = false;
    return record;
  }
}

/** A record that is a lone `{`: the first line of an object written over several lines. */
const isLoneBrace = (record: InputRecord): boolean => record.size === 1 && record.bytes[0] === 0x7b;

/**
 * Splits an input, fed in chunks as it streams, into records without parsing them: NDJSON (one record per line;
 * blank lines are not records) or a JSON array (one record per top-level element: it follows strings and
 * brackets with a counter, never recursing, so nesting depth costs nothing). A UTF-8 BOM at the start is dropped.
 * Each record keeps at most `maxRecordBytes` bytes and its full size, so memory stays bounded by the limits
 * whatever the input holds. A JSON array that is not closed, has an empty element or text after it is an
 * {@link InputFormatError}; so is an input whose first character is neither `[` nor `{`. One object written over
 * several lines is one record ({@link end}).
 */
export class RecordSplitter {
  private mode: 'start' | 'ndjson' | 'array' | 'after-array' = 'start';
  private readonly records: InputRecord[] = [];
  private current: RecordBuilder;
  private offset = 0;
  /** Bytes of a BOM seen so far at the very start. */
  private bomSeen = 0;
  private started = false;
  // JSON array state
  private depth = 0;
  private inString = false;
  private escaped = false;

  private readonly maxRecordBytes: number;

  constructor(limits: Pick<IntakeLimits, 'maxRecordBytes'>) {
    this.maxRecordBytes = limits.maxRecordBytes;
    this.current = new RecordBuilder(limits.maxRecordBytes, new Slabs());
  }

  /** Feeds the next chunk; its bytes must not change afterwards (a record being read refers to them until it ends). */
  push(chunk: Uint8Array): void {
    let i = 0;
    if (!this.started) i = this.skipBom(chunk);
    if (this.mode === 'start') i = this.detect(chunk, i);
    if (this.mode === 'ndjson') this.ndjson(chunk, i);
    else if (this.mode === 'array' || this.mode === 'after-array') this.array(chunk, i);
    this.offset += chunk.length;
  }

  /**
   * The records, once the whole input was pushed. An input whose first line is a lone `{` is one JSON object written
   * over several lines (`jq '.[0]'`, an editor's pretty print), never NDJSON, whose every line is a whole object: it is
   * one record, its lines joined (a record above `maxRecordBytes` keeps a prefix and its full size, as any other).
   */
  end(): { readonly format: 'ndjson' | 'array' | 'object'; readonly records: readonly InputRecord[] } {
    if (this.bomSeen > 0 && this.bomSeen < BOM.length) throw new InputFormatError('expected a JSON array or NDJSON (one JSON object per line)');
    if (this.mode === 'array') throw new InputFormatError(`a JSON array that does not parse: it is not closed (input ends inside record ${this.records.length})`);
    if (this.mode === 'ndjson' && !this.current.empty) this.records.push(this.current.take());
    if (this.mode === 'ndjson' && this.records.length > 1 && isLoneBrace(this.records[0]!)) return { format: 'object', records: [this.joined()] };
    return { format: this.mode === 'after-array' ? 'array' : 'ndjson', records: this.records };
  }

  /** The records as one, their lines joined by line feeds. */
  private joined(): InputRecord {
    const builder = new RecordBuilder(this.maxRecordBytes, new Slabs());
    const newline = Uint8Array.of(0x0a);
    this.records.forEach((record, i) => {
      if (i > 0) builder.add(newline, 0, 1);
      builder.add(record.bytes, 0, record.bytes.length);
      // A line kept only in part still counts whole towards the record's size.
      if (record.size > record.bytes.length) builder.skip(record.size - record.bytes.length);
    });
    return builder.take();
  }

  private skipBom(chunk: Uint8Array): number {
    let i = 0;
    while (i < chunk.length && this.bomSeen < BOM.length && chunk[i] === BOM[this.bomSeen]) {
      this.bomSeen++;
      i++;
    }
    if (this.bomSeen === BOM.length || i < chunk.length) {
      if (this.bomSeen > 0 && this.bomSeen < BOM.length) throw new InputFormatError('expected a JSON array or NDJSON (one JSON object per line): the input starts with a broken byte order mark');
      this.started = true;
    }
    return i;
  }

  private detect(chunk: Uint8Array, i: number): number {
    while (i < chunk.length && isBlank(chunk[i]!)) i++;
    if (i >= chunk.length) return i;
    const first = chunk[i]!;
    if (first === 0x5b) {
      this.mode = 'array';
      this.depth = 1;
      return i + 1;
    }
    if (first === 0x7b) {
      this.mode = 'ndjson';
      return i;
    }
    throw new InputFormatError('expected a JSON array or NDJSON (one JSON object per line)');
  }

  private ndjson(chunk: Uint8Array, i: number): void {
    let from = i;
    for (let nl = chunk.indexOf(0x0a, from); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
      this.current.add(chunk, from, nl);
      if (!this.current.empty) this.records.push(this.current.take());
      else this.current.take();
      from = nl + 1;
    }
    this.current.add(chunk, from, chunk.length);
  }

  private array(chunk: Uint8Array, i: number): void {
    let from = i;
    for (; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.mode === 'after-array') {
        if (!isBlank(b)) throw new InputFormatError(`a JSON array that does not parse: unexpected text after the array at byte ${this.offset + i}`);
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x22) this.inString = false;
        continue;
      }
      if (b === 0x22) this.inString = true;
      else if (b === 0x7b || b === 0x5b) this.depth++;
      else if ((b === 0x7d || b === 0x5d) && this.depth > 1) this.depth--;
      else if (this.depth === 1 && (b === 0x2c || b === 0x5d)) {
        this.current.add(chunk, from, i);
        from = i + 1;
        const closing = b === 0x5d;
        if (this.current.empty) {
          if (!(closing && this.records.length === 0)) throw new InputFormatError(`a JSON array that does not parse: an empty element at byte ${this.offset + i}`);
        } else this.records.push(this.current.take());
        if (closing) {
          this.mode = 'after-array';
          this.depth = 0;
        }
      }
    }
    if (this.mode === 'array') this.current.add(chunk, from, chunk.length);
  }
}

/**
 * Reads recommendations from FILE (`-` = stdin), streaming: a JSON array or NDJSON, split into records by
 * {@link RecordSplitter} (nothing is parsed here: each record is checked and parsed by the intake). A file that
 * cannot be read, an input over `maxFileBytes`, or one that is not a JSON array or NDJSON as a whole is a
 * {@link UsageError}; a bad record is just a bad record (reported as rejected).
 */
export async function readInput(file: string, limits: Pick<IntakeLimits, 'maxRecordBytes' | 'maxFileBytes'>): Promise<InputRecords> {
  const name = file === '-' ? 'stdin' : file;
  if (file !== '-') {
    let size: number;
    try {
      const info = await stat(file);
      if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      size = info.size;
    } catch (error) {
      throw unreadable(file, error);
    }
    if (size > limits.maxFileBytes) throw new UsageError(`${name} is ${size} bytes, more than the input limit of ${limits.maxFileBytes} (OPTEX_MAX_FILE_BYTES)`);
  }
  const splitter = new RecordSplitter(limits);
  const hash = createHash('sha256');
  let total = 0;
  try {
    const stream = file === '-' ? process.stdin : createReadStream(file);
    for await (const data of stream) {
      const chunk = typeof data === 'string' ? Buffer.from(data) : (data as Buffer);
      total += chunk.length;
      if (total > limits.maxFileBytes) throw new UsageError(`${name} is more than the input limit of ${limits.maxFileBytes} bytes (OPTEX_MAX_FILE_BYTES)`);
      hash.update(chunk);
      splitter.push(chunk);
    }
    const { records } = splitter.end();
    return { records, deliveryPrefix: `input:${hash.digest('hex').slice(0, 16)}`, name };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if (error instanceof InputFormatError) throw new UsageError(`unreadable input ${name}: ${error.message}`);
    throw unreadable(file, error);
  }
}

function unreadable(file: string, error: unknown): UsageError {
  const code = (error as NodeJS.ErrnoException).code;
  return new UsageError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? (error as Error).message)}`);
}

/**
 * The same input delivered as a dry run: its delivery ids become `dry-run:input:<input hash>:<index>`, so a preview and a
 * later real run of the same content are two deliveries (the real one is no redelivery of the preview) and a run's
 * report finds the outcome of each.
 */
export function asPreview(input: InputRecords): InputRecords {
  return { ...input, deliveryPrefix: `${PREVIEW_DELIVERY_PREFIX}${input.deliveryPrefix}` };
}
