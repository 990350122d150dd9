import Database from 'better-sqlite3';
import { LimitedStatements } from './limited-statements';

describe('LimitedStatements', () => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY)');
  db.exec(`INSERT INTO t (n) VALUES ${Array.from({ length: 50 }, (_, i) => `(${i})`).join(', ')}`);
  afterAll(() => db.close());
  const rows = (statement: Database.Statement, limit: number) => (statement.all({ from: 10n, limit }) as { n: bigint }[]).map((r) => Number(r.n));

  it('prepares a query once per limit, with the number written into its SQL (-1: every row)', () => {
    const limited = new LimitedStatements(db);
    const sql = 'SELECT n FROM t WHERE n >= @from ORDER BY n';
    const five = limited.get(sql, 5);
    expect(five.source).toBe(`${sql} LIMIT 5`);
    expect(limited.get(sql, 5)).toBe(five);
    expect(rows(five, 5)).toEqual([10, 11, 12, 13, 14]);
    expect(rows(limited.get(sql, -1), -1)).toHaveLength(40);
    expect(rows(limited.get(sql, 0), 0)).toEqual([]);
    // another query has statements of its own
    expect(limited.get('SELECT n FROM t WHERE n >= @from ORDER BY n DESC', 5)).not.toBe(five);
  });

  it('past its number of literal limits, binds the limit in one shared statement, with the same rows', () => {
    const limited = new LimitedStatements(db, 3);
    const sql = 'SELECT n FROM t WHERE n >= @from ORDER BY n';
    for (const limit of [1, 2, 3]) expect(limited.get(sql, limit).source).toBe(`${sql} LIMIT ${limit}`);
    const bound = limited.get(sql, 4);
    expect(bound.source).toBe(`${sql} LIMIT @limit`);
    expect(limited.get(sql, 7)).toBe(bound);
    expect(rows(bound, 4)).toEqual([10, 11, 12, 13]);
    expect(rows(bound, 7)).toEqual([10, 11, 12, 13, 14, 15, 16]);
    expect(rows(limited.get(sql, 2), 2)).toEqual([10, 11]);
  });

  it('refuses a limit that is not an integer ≥ -1, naming it', () => {
    const limited = new LimitedStatements(db);
    for (const bad of [-2, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => limited.get('SELECT n FROM t', bad)).toThrow(RangeError);
    expect(() => limited.get('SELECT n FROM t', -2)).toThrow('limit must be an integer ≥ -1, got -2');
  });
});
