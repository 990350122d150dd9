import { DEFAULT_BLAST_RADIUS, StartTimes, batchHalt, batchLimitOf, batchRoom, dailyLimit, type BlastRadiusPolicy } from './blast-radius';
import { defaultPolicy, parsePolicy } from './policy';

const NOW = new Date('2026-03-01T10:00:00.000Z');
const ago = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();
const KEY = '123456789012/us-east-1/rightsize';
const policy = (over: Partial<BlastRadiusPolicy> = {}): BlastRadiusPolicy => ({ ...DEFAULT_BLAST_RADIUS, ...over });

describe('blast radius per account, region and action per day (given the day so far, when one more would start)', () => {
  it('given fewer executions in the last 24 hours than the limit, then it may start', () => {
    expect(dailyLimit({ maxExecutions: 3, maxFleetPct: null }, KEY, [ago(10), ago(20)], undefined, NOW)).toEqual({ allowed: true });
  });

  it('given the limit reached, then it waits until the oldest counted execution leaves the rolling day, and says why', () => {
    expect(dailyLimit({ maxExecutions: 2, maxFleetPct: null }, KEY, [ago(30), ago(90)], undefined, NOW)).toEqual({
      allowed: false,
      until: '2026-03-02T08:30:00.000Z',
      reason: `blast radius: 2 executions of ${KEY} in the last 24 hours reach the daily limit of 2 executions; next at 2026-03-02T08:30:00.000Z`,
    });
  });

  it('given executions older than a day, then they do not count', () => {
    expect(dailyLimit({ maxExecutions: 1, maxFleetPct: null }, KEY, [ago(24 * 60), ago(25 * 60)], undefined, NOW)).toEqual({ allowed: true });
  });

  it('given a share of the fleet, then the smaller of the two limits holds, naming the fleet', () => {
    const verdict = dailyLimit({ maxExecutions: 100, maxFleetPct: 10 }, KEY, [ago(1), ago(2), ago(3)], 30, NOW);
    expect(verdict).toMatchObject({ allowed: false, until: new Date(Date.parse(ago(3)) + 86_400_000).toISOString(), reason: expect.stringContaining('10% of a fleet of 30 (3)') });
  });

  it('given a share of a fleet so small that it rounds down to none, then one a day may still start (it held every member for ever)', () => {
    expect(dailyLimit({ maxExecutions: 500, maxFleetPct: 10 }, KEY, [], 4, NOW)).toEqual({ allowed: true });
    expect(dailyLimit({ maxExecutions: 500, maxFleetPct: 10 }, KEY, [ago(5)], 4, NOW)).toMatchObject({
      allowed: false,
      until: new Date(Date.parse(ago(5)) + 86_400_000).toISOString(),
      reason: expect.stringContaining('10% of a fleet of 4 (1)'),
    });
  });

  it('given a share of the fleet but the fleet size unknown, then only the count is judged', () => {
    expect(dailyLimit({ maxExecutions: 100, maxFleetPct: 10 }, KEY, [ago(1), ago(2), ago(3)], undefined, NOW)).toEqual({ allowed: true });
  });

  it('given both limits off, then anything may start', () => {
    expect(dailyLimit({ maxExecutions: null, maxFleetPct: null }, KEY, Array.from({ length: 5000 }, () => ago(1)), 1, NOW)).toEqual({ allowed: true });
  });
});

describe('blast radius per batch and the error threshold (given what the batch did, when it would dispatch more)', () => {
  it('given errors above the count while members wait, then the batch halts on max-errors', () => {
    expect(batchHalt(policy({ maxErrors: { count: 2, pct: null } }), { members: 50, dispatched: 10, errors: 3, waiting: 40 })).toEqual({
      rule: 'max-errors',
      reason: 'error threshold: 3 executions failed, more than the 2 allowed; 40 waiting member(s) wait for an operator',
    });
  });

  it('given errors at the count (not above), then the batch goes on (SSM MaxErrors: it stops when errors exceed it)', () => {
    expect(batchHalt(policy({ maxErrors: { count: 2, pct: null } }), { members: 50, dispatched: 10, errors: 2, waiting: 40 })).toBeUndefined();
  });

  it('given a count of 0, then the first error halts the batch', () => {
    expect(batchHalt(policy({ maxErrors: { count: 0, pct: null } }), { members: 5, dispatched: 1, errors: 1, waiting: 4 })).toMatchObject({ rule: 'max-errors' });
  });

  it('given errors above the percentage of the members, then the batch halts', () => {
    expect(batchHalt(policy({ maxErrors: { count: null, pct: 10 } }), { members: 20, dispatched: 10, errors: 3, waiting: 10 })).toMatchObject({
      rule: 'max-errors',
      reason: expect.stringContaining('3 of 20 executions failed, more than 10%'),
    });
  });

  it('given the batch limit reached while members wait, then the batch halts on batch-limit', () => {
    expect(batchHalt(policy({ perBatch: { maxExecutions: 5, maxPct: null } }), { members: 8, dispatched: 5, errors: 0, waiting: 3 })).toEqual({
      rule: 'batch-limit',
      reason: 'batch limit: 5 of 8 members dispatched reach the limit of 5; 3 waiting member(s) wait for an operator',
    });
  });

  it('given nothing waits, then there is nothing to halt', () => {
    expect(batchHalt(policy({ maxErrors: { count: 0, pct: null } }), { members: 3, dispatched: 3, errors: 3, waiting: 0 })).toBeUndefined();
  });

  it('the per-batch limit is the smaller of the count and the share (rounded up, at least one); room is what is left', () => {
    expect(batchLimitOf({ maxExecutions: 100, maxPct: 25 }, 10)).toBe(3);
    expect(batchLimitOf({ maxExecutions: 2, maxPct: 25 }, 10)).toBe(2);
    expect(batchLimitOf({ maxExecutions: null, maxPct: 1 }, 10)).toBe(1);
    expect(batchLimitOf({ maxExecutions: null, maxPct: null }, 10)).toBeUndefined();
    expect(batchRoom({ maxExecutions: 5, maxPct: null }, 10, 3)).toBe(2);
    expect(batchRoom({ maxExecutions: 5, maxPct: null }, 10, 7)).toBe(0);
    expect(batchRoom({ maxExecutions: null, maxPct: null }, 10, 7)).toBe(Infinity);
  });
});

describe('blast radius in the policy file', () => {
  it('is on by default: 500 per account, region and action a day, 1000 per batch, halts after more than 5 errors', () => {
    expect(defaultPolicy.blastRadius).toEqual({ perDay: { maxExecutions: 500, maxFleetPct: null }, perBatch: { maxExecutions: 1000, maxPct: null }, maxErrors: { count: 5, pct: null } });
  });

  it('a policy file overrides a part, and null turns a limit off', () => {
    const parsed = parsePolicy({ blastRadius: { perDay: { maxExecutions: null, maxFleetPct: 5 } } });
    expect(parsed.ok && parsed.value.blastRadius).toEqual({ ...DEFAULT_BLAST_RADIUS, perDay: { maxExecutions: null, maxFleetPct: 5 } });
  });

  it('rejects bad values, naming their path', () => {
    const parsed = parsePolicy({ blastRadius: { perDay: { maxExecutions: 0 }, perBatch: { maxPct: 150 }, maxErrors: { count: 1.5 } } });
    expect(parsed.ok).toBe(false);
    const paths = !parsed.ok ? parsed.errors.map((e) => e.path).sort() : [];
    expect(paths).toEqual(['blastRadius.maxErrors.count', 'blastRadius.perBatch.maxPct', 'blastRadius.perDay.maxExecutions']);
    expect(parsePolicy({ blastRadius: { perDay: { maxExecutions: 10, perWeek: 1 } } })).toMatchObject({ ok: false, errors: [{ path: 'blastRadius.perDay.perWeek' }] });
  });
});

describe('StartTimes', () => {
  it('keeps times in order whatever order they come in, and a day excludes its start and what comes after now', () => {
    const START = NOW.getTime();
    const HOUR = 3_600_000;
    const times = new StartTimes();
    for (const t of [5, 1, 9, 3, 3, 7]) times.add(START + t * HOUR);
    const day = times.day(START + 24 * HOUR + 3 * HOUR, 1); // after START + 3 h, up to START + 27 h
    expect(Array.from({ length: day.length }, (_, i) => day.at(i))).toEqual([5, 7, 9].map((t) => START + t * HOUR).concat(START + 27 * HOUR));
    expect(day.at(day.length)).toBeUndefined();
    const earlier = times.day(START + 4 * HOUR, 0);
    expect(Array.from({ length: earlier.length }, (_, i) => earlier.at(i))).toEqual([1, 3, 3].map((t) => START + t * HOUR));
  });
});
