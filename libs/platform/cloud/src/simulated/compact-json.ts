/**
 * A JSON parser for records kept in memory for long (the simulated fleet's state). V8's `JSON.parse` returns string
 * values as slices of the text, so a record keeps the whole text it came from alive (a fleet file, or each stored
 * row); this parser's strings are flat copies, and equal values parsed by the same parser are one string (the
 * account, region, zone, type and state that every volume repeats). The pool lives as long as the parser: make one
 * per load.
 */
export function compactJsonParser(): (text: string) => unknown {
  const pool = new Map<string, string>();
  const compact = (_key: string, value: unknown): unknown => {
    if (typeof value !== 'string') return value;
    let kept = pool.get(value);
    if (kept === undefined) {
      kept = Buffer.from(value, 'utf8').toString('utf8');
      pool.set(kept, kept);
    }
    return kept;
  };
  return (text) => JSON.parse(text, compact) as unknown;
}
