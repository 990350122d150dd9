import type { FieldError, Recommendation } from './types';
import { pathLabel } from './field-errors';
import { DEFAULT_MAX_STRING_LENGTH, DEFAULT_MAX_TAGS, parseRecommendation } from './recommendation';
import { escapedCodeUnit } from './text';

// ── Limits ──

/** Limits on input, checked on the raw bytes of each record before anything parses it. */
export interface IntakeLimits {
  /** Largest record, in bytes as received. @defaultValue 65 536 */
  readonly maxRecordBytes: number;
  /** Longest string (a key or a value), in UTF-16 code units. @defaultValue 1 024 */
  readonly maxStringLength: number;
  /** Deepest nesting of objects and arrays; the record itself is level 1. @defaultValue 16 */
  readonly maxDepth: number;
  /** Most entries in `resource.tags` (EC2 allows 50 tags per resource). @defaultValue 50 */
  readonly maxTags: number;
  /** Largest input file or stdin the CLI reads (it streams it; this bounds what the run holds). @defaultValue 100 MiB */
  readonly maxFileBytes: number;
}

export const defaultIntakeLimits: IntakeLimits = {
  maxRecordBytes: 64 * 1024,
  maxStringLength: DEFAULT_MAX_STRING_LENGTH,
  maxDepth: 16,
  maxTags: DEFAULT_MAX_TAGS,
  maxFileBytes: 100 * 1024 * 1024,
};

/** What became of one record: the recommendation, or every problem found and what to keep of the record. */
export type IntakeOutcome =
  | { readonly ok: true; readonly recommendation: Recommendation }
  | {
      readonly ok: false;
      /** At least one; each names its field (`(root)` for the record as a whole) and starts with it. */
      readonly errors: readonly FieldError[];
      /** What the rejection records of the record: bounded in size and depth, always serialisable. */
      readonly raw: unknown;
      readonly recommendationId?: string;
    };

/** Most problems listed for one record (the rest is counted in one more error). */
export const MAX_RECORD_ERRORS = 20;
/** Characters of a record kept in a rejection when the record is too large or too deep to keep. */
export const REJECTED_PREFIX_CHARS = 512;

// ── The intake ──

/**
 * Checks one record as received (its bytes) and parses it into a recommendation, in this order: size (a record
 * over `maxRecordBytes` is rejected; `receivedBytes` is its full size when only a prefix was kept), UTF-8
 * (invalid bytes are rejected, naming the field they are in; a leading BOM is dropped), a scan of the raw text
 * for nesting depth, string length, lone surrogates and duplicate keys ({@link scanJsonText}; nothing deeper than
 * `maxDepth` is ever parsed), JSON, the tag count and the recommendation schema. Never throws: anything
 * unexpected becomes a rejection of the record.
 */
export function intakeRecord(bytes: Uint8Array, limits: IntakeLimits = defaultIntakeLimits, receivedBytes: number = bytes.length): IntakeOutcome {
  const size = Math.max(receivedBytes, bytes.length);
  try {
    return intake(bytes, limits, size);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, errors: [{ path: '(root)', message: `(root) could not be checked: ${message.slice(0, 200)}` }], raw: { bytes: size } };
  }
}

function intake(bytes: Uint8Array, limits: IntakeLimits, size: number): IntakeOutcome {
  const errors = new ErrorList();
  const oversized = size > limits.maxRecordBytes;
  const body = oversized ? bytes.subarray(0, limits.maxRecordBytes) : bytes;
  if (oversized) errors.add('(root)', `(root) is ${size} bytes, more than the limit of ${limits.maxRecordBytes}`);

  const decoded = decodeUtf8(body, oversized);
  if (!decoded.ok) {
    const scan = scanJsonText(decoded.validPrefix, limits);
    errors.addAll(scan.errors);
    const field = scan.tooDeep ? [] : scan.pathAtEnd;
    errors.add(label(field), `${label(field)} is not valid UTF-8 (byte 0x${decoded.byte.toString(16).padStart(2, '0')} at offset ${decoded.offset})`);
    return reject(errors, { encoding: 'base64', bytes: size, data: base64(body.subarray(0, Math.min(body.length, limits.maxRecordBytes))) });
  }

  const text = decoded.text;
  const scan = scanJsonText(text, limits);
  errors.addAll(scan.errors);
  if (oversized || scan.tooDeep) return reject(errors, { truncated: true, bytes: size, prefix: prefixOf(text) });

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    errors.add('(root)', `(root) is not valid JSON: ${(error as Error).message}`);
    return reject(errors, text);
  }

  const tags = tagsOf(value);
  if (tags && Object.keys(tags).length > limits.maxTags) errors.add('resource.tags', `resource.tags has ${Object.keys(tags).length} tags, more than the limit of ${limits.maxTags}`);
  const parsed = parseRecommendation(value);
  if (!parsed.ok) errors.addAll(parsed.errors);
  // A number too large for a double (`1e400`) parses to ±Infinity, which JSON cannot carry: such a record is kept as
  // its text, as one that is not JSON is, so that its rejection can be recorded.
  if (!parsed.ok || errors.size > 0) return reject(errors, hasNonFiniteNumber(value) ? text : value, recommendationIdOf(value));
  return { ok: true, recommendation: parsed.value };
}

function reject(errors: ErrorList, raw: unknown, recommendationId?: string): IntakeOutcome {
  return { ok: false, errors: errors.list(), raw, ...(recommendationId === undefined ? {} : { recommendationId }) };
}

const tagsOf = (value: unknown): object | undefined => {
  const resource = isObject(value) ? (value as { resource?: unknown }).resource : undefined;
  const tags = isObject(resource) ? (resource as { tags?: unknown }).tags : undefined;
  return isObject(tags) ? tags : undefined;
};

function recommendationIdOf(value: unknown): string | undefined {
  const id = isObject(value) ? (value as { recommendationId?: unknown }).recommendationId : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** Whether a parsed JSON value holds a number JSON cannot write back (JSON.parse turns `1e400` into Infinity). */
function hasNonFiniteNumber(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return false;
  for (const member of Array.isArray(value) ? value : Object.values(value)) if (hasNonFiniteNumber(member)) return true;
  return false;
}

const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The first characters of a record, never ending inside a surrogate pair. */
function prefixOf(text: string): string {
  let end = Math.min(text.length, REJECTED_PREFIX_CHARS);
  const last = text.charCodeAt(end - 1);
  if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end);
}

/** Field errors of one record: at most {@link MAX_RECORD_ERRORS} (then one more that counts the rest), no repeats. */
class ErrorList {
  private readonly errors: FieldError[] = [];
  private readonly seen = new Set<string>();
  private dropped = 0;

  get size(): number {
    return this.errors.length + this.dropped;
  }

  /** Adds an error; a path longer than {@link MAX_LABEL} (a long key) is cut, in the path and at the start of the message. */
  add(fullPath: string, fullMessage: string): void {
    const path = cut(fullPath);
    const message = path !== fullPath && fullMessage.startsWith(fullPath) ? `${path}${fullMessage.slice(fullPath.length)}` : fullMessage;
    const key = `${path}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.errors.length < MAX_RECORD_ERRORS) this.errors.push({ path, message });
    else this.dropped++;
  }

  addAll(errors: readonly FieldError[]): void {
    for (const e of errors) this.add(e.path, e.message);
  }

  list(): FieldError[] {
    return this.dropped === 0 ? [...this.errors] : [...this.errors, { path: '(root)', message: `(root) has ${this.dropped} more problems (not listed)` }];
  }
}

// ── UTF-8 ──

type Decoded = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly offset: number; readonly byte: number; readonly validPrefix: string };

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes strict UTF-8 (a leading BOM is dropped). `truncated`: the bytes are a prefix of the record, so a
 * sequence cut at the very end is not an error. On failure: where, which byte, and the text before it.
 */
function decodeUtf8(bytes: Uint8Array, truncated: boolean): Decoded {
  try {
    return { ok: true, text: truncated ? new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true }) : fatalUtf8.decode(bytes) };
  } catch {
    const offset = invalidUtf8Offset(bytes, truncated);
    return { ok: false, offset, byte: bytes[offset] ?? 0, validPrefix: fatalUtf8.decode(bytes.subarray(0, offset)) };
  }
}

/**
 * Offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF); `bytes.length` when none does (a sequence cut at the end counts, unless
 * `truncated`).
 */
export function invalidUtf8Offset(bytes: Uint8Array, truncated = false): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) low = 0xa0;
      if (b === 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) low = 0x90;
      if (b === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= bytes.length) return truncated ? bytes.length : i;
      const c = bytes[i + k]!;
      if (c < (k === 1 ? low : 0x80) || c > (k === 1 ? high : 0xbf)) return i;
    }
    i += need + 1;
  }
  return bytes.length;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += BASE64[(n >> 18) & 63]! + BASE64[(n >> 12) & 63]! + (i + 1 < bytes.length ? BASE64[(n >> 6) & 63]! : '=') + (i + 2 < bytes.length ? BASE64[n & 63]! : '=');
  }
  return out;
}

// ── The scan of the raw text ──

/** What {@link scanJsonText} found. */
export interface JsonTextScan {
  readonly errors: readonly FieldError[];
  /** Nesting went past `maxDepth`: the scan stopped there, and the text must not be parsed. */
  readonly tooDeep: boolean;
  /** The field the text ends in (for a record cut short: where the cut is). */
  readonly pathAtEnd: readonly (string | number)[];
}

interface Frame {
  readonly object: boolean;
  readonly keys: Set<string> | undefined;
  /** The current key (objects, once read) or index (arrays). */
  segment: string | number | undefined;
  expectKey: boolean;
}

/** Longest path label in a message; deeper paths are cut with `…`. */
const MAX_LABEL = 200;

const cut = (text: string): string => (text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text);

const label = (path: readonly (string | number)[]): string => cut(pathLabel(path));

const SIMPLE_ESCAPES: Readonly<Record<number, number>> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 };

/**
 * One pass over the raw text of a JSON record, without parsing it and without recursion: finds nesting deeper
 * than `maxDepth` (and stops there), strings or keys longer than `maxStringLength`, lone surrogates (raw or
 * `\ud800`-escaped) and keys given twice in one object (`JSON.parse` would silently keep the last), each with the
 * path of its field. It does not judge the JSON grammar: `JSON.parse` does, after it.
 */
export function scanJsonText(text: string, limits: Pick<IntakeLimits, 'maxDepth' | 'maxStringLength'>): JsonTextScan {
  const errors = new ErrorList();
  const frames: Frame[] = [];
  const currentPath = (): (string | number)[] => {
    const path: (string | number)[] = [];
    for (const f of frames) if (f.segment !== undefined) path.push(f.segment);
    return path;
  };
  let tooDeep = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = scanString(i + 1);
      continue;
    }
    const top = frames[frames.length - 1];
    if (c === 0x7b || c === 0x5b) {
      if (frames.length >= limits.maxDepth) {
        const at = label(currentPath());
        errors.add(at, `${at} is nested deeper than the limit of ${limits.maxDepth} levels`);
        tooDeep = true;
        break;
      }
      frames.push(c === 0x7b ? { object: true, keys: new Set(), segment: undefined, expectKey: true } : { object: false, keys: undefined, segment: 0, expectKey: false });
    } else if (c === 0x7d || c === 0x5d) {
      frames.pop();
    } else if (c === 0x2c && top) {
      if (top.object) {
        top.expectKey = true;
        top.segment = undefined;
      } else top.segment = (top.segment as number) + 1;
    } else if (c === 0x3a && top?.object) {
      top.expectKey = false;
    }
    i++;
  }
  return { errors: errors.list(), tooDeep, pathAtEnd: tooDeep ? [] : currentPath() };

  /** Reads a string from `start` (just after its quote); returns the index after its closing quote (or the end). */
  function scanString(start: number): number {
    const top = frames[frames.length - 1];
    const isKey = top !== undefined && top.object && top.expectKey;
    let key = '';
    let units = 0;
    let lone: { index: number; unit: number } | undefined;
    let pendingHigh: { index: number; unit: number } | undefined;
    let closed = false;
    let j = start;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 0x22) {
        closed = true;
        j++;
        break;
      }
      let unit: number;
      if (c === 0x5c) {
        const e = text.charCodeAt(j + 1);
        if (e === 0x75) {
          const hex = text.slice(j + 2, j + 6);
          unit = /^[0-9a-fA-F]{4}$/.test(hex) ? parseInt(hex, 16) : -1;
          j += unit < 0 ? 2 : 6;
        } else {
          unit = SIMPLE_ESCAPES[e] ?? -1;
          j += 2;
        }
        if (unit < 0) continue; // not JSON: JSON.parse reports it
      } else {
        unit = c;
        j++;
      }
      if (unit >= 0xd800 && unit <= 0xdbff) {
        if (pendingHigh) lone ??= pendingHigh;
        pendingHigh = { index: units, unit };
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        if (pendingHigh) pendingHigh = undefined;
        else lone ??= { index: units, unit };
      } else if (pendingHigh) {
        lone ??= pendingHigh;
        pendingHigh = undefined;
      }
      if (isKey && units < limits.maxStringLength) key += String.fromCharCode(unit);
      units++;
    }
    if (closed && pendingHigh) lone ??= pendingHigh;
    if (isKey && units > limits.maxStringLength) key += '…';
    // The field's path, put together only for an error (most strings have none).
    const field = (): string => {
      const path = currentPath();
      if (isKey) path.push(key);
      return label(path);
    };
    if (units > limits.maxStringLength) {
      const at = field();
      errors.add(at, closed ? `${at} is ${units} characters long, more than the limit of ${limits.maxStringLength}` : `${at} is longer than the limit of ${limits.maxStringLength} characters`);
    }
    if (lone) {
      const at = field();
      errors.add(at, `${at} must be well-formed Unicode: a lone surrogate (${escapedCodeUnit(lone.unit)}) at position ${lone.index}`);
    }
    if (isKey && closed) {
      if (top.keys!.has(key)) {
        const at = field();
        errors.add(at, `${at} is given more than once (duplicate key)`);
      } else top.keys!.add(key);
      top.segment = key;
    }
    return j;
  }
}

// ── Accounting ──

/** What became of one input record. */
export type RecordFate = 'processed' | 'rejected' | 'duplicate';

/** How the records of one input ended: `received = processed + rejected + duplicates`. */
export interface RecordAccount {
  readonly received: number;
  readonly processed: number;
  readonly rejected: number;
  readonly duplicates: number;
}

/** A record ended as none or more than one of processed, rejected, duplicate: a bug, never a state to report. */
export class IntakeInvariantError extends Error {
  readonly code = 'INTAKE_INVARIANT';
  constructor(message: string) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * Accounts for the records of one input (indexes `0 … received-1`) from what the log says became of each: every
 * record must have exactly one fate. Throws {@link IntakeInvariantError} naming the records that have none, more
 * than one, or do not exist; so `received = processed + rejected + duplicates` holds whenever it returns.
 */
export function accountForRecords(received: number, fates: Iterable<readonly [index: number, fate: RecordFate]>): RecordAccount {
  const seen: (RecordFate[] | undefined)[] = new Array<RecordFate[] | undefined>(received);
  const counts = { processed: 0, rejected: 0, duplicate: 0 };
  const outside: number[] = [];
  for (const [index, fate] of fates) {
    if (!Number.isInteger(index) || index < 0 || index >= received) {
      outside.push(index);
      continue;
    }
    (seen[index] ??= []).push(fate);
    counts[fate]++;
  }
  const lost: number[] = [];
  const twice: string[] = [];
  for (let i = 0; i < received; i++) {
    const f = seen[i];
    if (!f) lost.push(i);
    else if (f.length > 1) twice.push(`${i} (${f.join(', ')})`);
  }
  const problems = [
    ...(lost.length ? [`${lost.length} with no outcome (record ${listed(lost)})`] : []),
    ...(twice.length ? [`${twice.length} with more than one (record ${listed(twice)})`] : []),
    ...(outside.length ? [`${outside.length} outcomes of records that were not received (index ${listed(outside)})`] : []),
  ];
  if (problems.length) throw new IntakeInvariantError(`of ${received} records received, ${problems.join('; ')}: every record must end processed, rejected or duplicate`);
  return { received, processed: counts.processed, rejected: counts.rejected, duplicates: counts.duplicate };
}

const listed = (items: readonly (string | number)[]): string => (items.length > 10 ? `${items.slice(0, 10).join(', ')} and ${items.length - 10} more` : items.join(', '));
