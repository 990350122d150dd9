import { dailyKeyOf, dailyLimit, type BlastRadiusPolicy } from '@optex/domain';
import type { KnownOptimization, OptimizationChangeListener, OptimizationProjection } from '@optex/engine';
import { DailyTally } from './daily-tally';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const KEY = dailyKeyOf(ACCOUNT, REGION, 'modify-volume');
const START = Date.parse('2026-03-01T00:00:00.000Z');
const HOUR = 3_600_000;

/** The part of an optimization's state the tally reads. */
function stateOf(id: number, scheduledAt: number | undefined, dryRun = false, extra: { found?: boolean; status?: string } = {}): KnownOptimization {
  return {
    optimizationId: `opt-${id}`,
    dryRun,
    status: extra.status ?? (scheduledAt === undefined ? 'approved' : 'executing'),
    risk: { basis: { stated: {}, live: { found: extra.found ?? true } } },
    recommendation: { accountId: ACCOUNT, region: REGION, resource: { type: 'ec2:volume', id: `vol-${id % 700}` }, action: { type: 'modify-volume', targetVolumeType: 'gp3' } },
    ...(scheduledAt === undefined ? {} : { schedule: { scheduledAt: new Date(scheduledAt).toISOString() } }),
  } as unknown as KnownOptimization;
}

/** A projection that holds `initial` and tells the tally of later changes through `change`. */
function projectionOf(initial: KnownOptimization[]) {
  let listener: OptimizationChangeListener | undefined;
  const projection = {
    states: () => initial.values(),
    onChange: (l: OptimizationChangeListener) => {
      listener = l;
      return () => undefined;
    },
  } as unknown as OptimizationProjection;
  return { projection, change: (state: KnownOptimization, prior?: KnownOptimization) => listener?.(state, prior) };
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('DailyTally (given executions dispatched over days, when the scheduler asks whether one more may start)', () => {
  const policies: BlastRadiusPolicy['perDay'][] = [
    { maxExecutions: null, maxFleetPct: null },
    { maxExecutions: 40, maxFleetPct: null },
    { maxExecutions: 400, maxFleetPct: 10 },
    { maxExecutions: null, maxFleetPct: 50 },
  ];

  it('then its verdict is the domain rule over the whole rolling day, as times move on and old starts are dropped', () => {
    const next = random(6);
    // 900 executions over three days, dispatched mostly in order, some late (out of order); ids repeat (counted once).
    const times = Array.from({ length: 900 }, (_, i) => START + i * 5 * 60_000 + (next() < 0.1 ? -Math.floor(next() * 3 * HOUR) : 0));
    const { projection, change } = projectionOf(times.slice(0, 300).map((t, i) => stateOf(i, t)));
    const tally = new DailyTally(projection);
    const known: number[] = times.slice(0, 300);
    // The fleet: every resource the log knows of (dry runs too).
    const resources = new Set(known.map((_, i) => stateOf(i, undefined).recommendation.resource.id));
    const feed = (state: KnownOptimization, prior?: KnownOptimization) => {
      change(state, prior);
      resources.add(state.recommendation.resource.id);
    };
    let checked = 0;
    let latest = START;
    for (let i = 300; i < times.length; i++) {
      feed(stateOf(i, times[i]));
      feed(stateOf(i, times[i]), stateOf(i, times[i])); // a later change of the same optimization: not counted again
      feed(stateOf(10_000 + i, times[i], true)); // a dry run: never counted
      known.push(times[i]);
      if (i % 25 !== 0) continue;
      latest = Math.max(latest, times[i] + Math.floor(next() * HOUR)); // the scheduler's clock does not go back
      const now = new Date(latest);
      const pending = Math.floor(next() * 4);
      const all = [...known.map((t) => new Date(t).toISOString()), ...Array.from({ length: pending }, () => now.toISOString())];
      for (const policy of policies) {
        const state = stateOf(i, undefined);
        expect({ i, policy, verdict: tally.verdict(policy, state, now, new Map([[KEY, pending]])) }).toEqual({ i, policy, verdict: dailyLimit(policy, KEY, all, resources.size, now) });
        checked++;
      }
    }
    expect(checked).toBe(96);
  });

  it('then a resource the risk assessment did not find live is no part of the fleet the share is taken of', () => {
    const { projection, change } = projectionOf([]);
    const tally = new DailyTally(projection);
    for (let i = 0; i < 10; i++) change(stateOf(i, undefined)); // 10 real volumes
    for (let i = 0; i < 90; i++) change(stateOf(1_000 + i, undefined, false, { found: false })); // 90 that EC2 does not know
    const policy = { maxExecutions: null, maxFleetPct: 20 };
    const now = new Date(START);
    expect(tally.verdict(policy, stateOf(1, undefined), now, new Map([[KEY, 1]]))).toEqual({ allowed: true });
    // 20 % of 10 is 2: a third is refused (of 100 it would have been 20)
    expect(tally.verdict(policy, stateOf(1, undefined), now, new Map([[KEY, 2]]))).toMatchObject({ allowed: false });
  });

  it('then a dispatched one that pre-validation refused as out of scope gives its start back', () => {
    const { projection, change } = projectionOf([]);
    const tally = new DailyTally(projection);
    const policy = { maxExecutions: 2, maxFleetPct: null };
    const now = new Date(START + HOUR);
    const dispatched = [stateOf(1, START), stateOf(2, START)];
    for (const s of dispatched) change(s);
    expect(tally.verdict(policy, stateOf(3, undefined), now, new Map())).toMatchObject({ allowed: false });
    change(stateOf(1, START, false, { status: 'out-of-scope' }), dispatched[0]);
    expect(tally.verdict(policy, stateOf(3, undefined), now, new Map())).toEqual({ allowed: true });
    change(stateOf(1, START, false, { status: 'out-of-scope' }), stateOf(1, START, false, { status: 'out-of-scope' })); // told again: nothing more given back
    expect(tally.verdict(policy, stateOf(3, undefined), now, new Map([[KEY, 1]]))).toMatchObject({ allowed: false });
  });

  it('then a key with no execution yet is judged on the pending ones alone', () => {
    const tally = new DailyTally(projectionOf([]).projection);
    const now = new Date(START);
    expect(tally.verdict({ maxExecutions: 2, maxFleetPct: null }, stateOf(1, undefined), now, new Map([[KEY, 1]]))).toEqual({ allowed: true });
    expect(tally.verdict({ maxExecutions: 2, maxFleetPct: null }, stateOf(1, undefined), now, new Map([[KEY, 2]]))).toMatchObject({ allowed: false, until: new Date(START + 24 * HOUR).toISOString() });
  });
});
