import type Database from 'better-sqlite3';

/** Distinct limits each query is prepared with as a literal before further ones are bound instead. @defaultValue 32 */
const DEFAULT_LITERAL_LIMITS = 32;

/**
 * Queries that end in `LIMIT n`, prepared once per distinct `n` with the number written into the SQL.
 *
 * Why not `LIMIT @limit`: SQLite's planner reads a bound LIMIT's value, which marks the statement to be prepared again
 * whenever that parameter is bound — and better-sqlite3 binds on every run. Measured on an event log of a few
 * thousand streams (docs/benchmarks.md, twentieth part): a read of a stream that does not exist took 7.9–8.6 µs with
 * `LIMIT ?` and 1.6 µs with the number written in; inside the engine ~45 µs against ~3 µs.
 *
 * A query gets at most `literalLimits` prepared statements (a limit the caller picks, e.g. `maxCount`, could be any
 * number); past that, further limits share one statement with `LIMIT @limit` bound, slower but correct. Callers pass
 * `limit` among the named parameters either way (better-sqlite3 ignores a named parameter the SQL does not use).
 */
export class LimitedStatements {
  private readonly literal = new Map<string, Map<number, Database.Statement>>();
  private readonly bound = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly literalLimits = DEFAULT_LITERAL_LIMITS,
  ) {}

  /** `sql` (a query without LIMIT) limited to `limit` rows; -1 for every row. */
  get(sql: string, limit: number): Database.Statement {
    if (!Number.isSafeInteger(limit) || limit < -1) throw new RangeError(`limit must be an integer ≥ -1, got ${String(limit)}`);
    let byLimit = this.literal.get(sql);
    if (!byLimit) this.literal.set(sql, (byLimit = new Map()));
    let statement = byLimit.get(limit);
    if (statement) return statement;
    if (byLimit.size < this.literalLimits) {
      statement = this.db.prepare(`${sql} LIMIT ${limit}`).safeIntegers(true);
      byLimit.set(limit, statement);
      return statement;
    }
    statement = this.bound.get(sql);
    if (!statement) this.bound.set(sql, (statement = this.db.prepare(`${sql} LIMIT @limit`).safeIntegers(true)));
    return statement;
  }
}
