/**
 * The canonical JSON text of a JSON value (RFC 8785, JSON Canonicalization Scheme, for the values optex stores):
 * object members sorted by key (UTF-16 code units, as JavaScript's default sort compares them), no whitespace,
 * strings and numbers serialised as ECMAScript's `JSON.stringify` does — which is exactly what RFC 8785 §3.2.2
 * prescribes. `undefined` members are left out (as a JSON round trip would), so a value hashes the same before it is
 * stored and after it is read back, whatever key order the store or its client gives it.
 *
 * Written here rather than taken from a package: for values that came from (or go to) `JSON.parse`/`JSON.stringify`
 * the whole scheme is these twenty lines, and the hash chain must not change with a dependency's release.
 *
 * @throws TypeError naming the path of a value JSON cannot carry (a function, a symbol, a bigint, a non-finite number).
 */
export function canonicalJson(value: unknown, path = '$'): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'object': {
      const json = (value as { toJSON?: () => unknown }).toJSON;
      if (typeof json === 'function') return canonicalJson(json.call(value), path);
      if (Array.isArray(value)) return `[${value.map((v, i) => (v === undefined ? 'null' : canonicalJson(v, `${path}[${i}]`))).join(',')}]`;
      const members: string[] = [];
      for (const key of Object.keys(value).sort()) {
        const member = (value as Record<string, unknown>)[key];
        if (member === undefined) continue;
        members.push(`${JSON.stringify(key)}:${canonicalJson(member, `${path}.${key}`)}`);
      }
      return `{${members.join(',')}}`;
    }
    default:
      throw new TypeError(`${path}: a ${typeof value} has no JSON form`);
  }
}
