import { DomainError } from './errors';

// Characters that must not reach a terminal or a hash as they are: control characters and lone surrogates.

/**
 * Control characters: C0 (U+0000–U+001F), DEL (U+007F), C1 (U+0080–U+009F), the line and paragraph separators
 * (U+2028, U+2029) and the bidirectional controls (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), which
 * reorder what a terminal shows.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const CONTROL_ALL = new RegExp(CONTROL.source, 'g');

/** A lone surrogate: a high one not followed by a low one, or a low one not preceded by a high one (code units, no `u` flag). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const SHORT_ESCAPES: Readonly<Record<number, string>> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r' };

/** How a code unit is shown escaped: `\n`, `\t`… for the usual ones, `\x1b` below U+0100, `\u202e` above. */
export function escapedCodeUnit(code: number): string {
  const short = SHORT_ESCAPES[code];
  if (short) return short;
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Where a character was found, and how it reads escaped. */
export interface CharacterAt {
  /** Position in UTF-16 code units. */
  readonly index: number;
  readonly escaped: string;
}

/** The first control character of `value` (see {@link escapeControlCharacters} for the set), if any. */
export function controlCharacterIn(value: string): CharacterAt | undefined {
  const match = CONTROL.exec(value);
  return match ? { index: match.index, escaped: escapedCodeUnit(match[0].charCodeAt(0)) } : undefined;
}

/** The first lone surrogate of `value` (not well-formed UTF-16: it has no UTF-8 encoding), if any. */
export function loneSurrogateIn(value: string): CharacterAt | undefined {
  const match = LONE_SURROGATE.exec(value);
  return match ? { index: match.index, escaped: escapedCodeUnit(match[0].charCodeAt(0)) } : undefined;
}

/**
 * `value` with every control character shown as an escape (`\n`, `\x1b`, `\x9b`, `\u202e`) and every lone
 * surrogate as `\ud800`, so that a terminal prints it and interprets nothing: no new line, no escape sequence,
 * no reordering. Control characters are C0, DEL, C1, U+2028/U+2029 and the bidirectional controls.
 * Backslashes are left as they are.
 */
export function escapeControlCharacters(value: string): string {
  const escaped = value.replace(CONTROL_ALL, (c) => escapedCodeUnit(c.charCodeAt(0)));
  return LONE_SURROGATE.test(escaped) ? escaped.replace(new RegExp(LONE_SURROGATE.source, 'g'), (c) => escapedCodeUnit(c.charCodeAt(0))) : escaped;
}

/** `text` without a leading byte order mark (editors on Windows write one; JSON.parse refuses it). */
export const withoutByteOrderMark = (text: string): string => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);

/**
 * The most characters (UTF-16 code units) a person's stated text may have — a decision's or an operator action's
 * reason or note, a name —, whether it comes through the API, the console or the CLI.
 */
export const MAX_STATED_TEXT = 1024;

/** `text` trimmed; throws `DomainError('INVALID_INPUT')` naming `field` (in `where`) when it is longer than {@link MAX_STATED_TEXT}. */
export function statedText(where: string, field: string, text: string): string {
  const trimmed = text.trim();
  if (trimmed.length > MAX_STATED_TEXT) throw new DomainError('INVALID_INPUT', `${where}: ${field} must be at most ${MAX_STATED_TEXT} characters, got ${trimmed.length}`);
  return trimmed;
}
