import fc from 'fast-check';
import { executionWindow, type ChangeWindowPolicy } from './change-windows';
import { parsePolicy } from './policy';
import type { Recommendation } from './types';

// Properties of the start verdict over generated change windows (cron × time zone × duration) and freezes, at
// generated instants, DST transitions among them: whatever an accepted policy says, the verdict never throws, "waits
// until T" holds at every instant before T and lets it start at T. OPTEX_FUZZ_SEED replays a seed a failure printed.
const seed = process.env['OPTEX_FUZZ_SEED'] ? Number(process.env['OPTEX_FUZZ_SEED']) : Date.now() % 2 ** 31;

const rec: Recommendation = {
  recommendationId: 'r',
  source: 'spec',
  accountId: '123456789012',
  region: 'eu-central-1',
  resource: { type: 'ec2:volume', id: 'vol-1' },
  action: { type: 'modify-volume', targetVolumeType: 'gp3' },
  estimatedMonthlySavings: 2,
  currency: 'USD',
} as Recommendation;

const field = (values: readonly string[]) => fc.constantFrom(...values);
const cron = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(field(['*', '0', '30', '59', '*/15', '0-29', '5,35']), field(['*', '0', '1', '2', '3', '9-17', '22', '23', '*/6']), field(['*', '1', '15', '28', '29', '30', '31', '1-7']), field(['*', '1', '2', '3', '10', '11', '12', '3,10']), field(['*', '0', '1-5', '6', 'SUN', 'MON-FRI'])).map((f) => f.join(' ')) },
  { weight: 1, arbitrary: fc.tuple(field(['0', '30']), field(['0', '30', '*/20']), field(['2', '3', '1-3'])).map(([s, m, h]) => `${s} ${m} ${h} * * *`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);
const timeZone = field(['UTC', 'Europe/Berlin', 'Europe/London', 'America/New_York', 'America/Sao_Paulo', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Pacific/Chatham', 'Pacific/Apia', 'Asia/Tehran', 'Etc/GMT+12']);
const duration = fc.oneof(fc.constantFrom(1, 29, 30, 59, 60, 61, 90, 120, 1440, 10_080), fc.integer({ min: 1, max: 527_040 }));

/** Instants from 2026 to 2030, a third of them within minutes of a DST change in Europe or the Americas. */
const DST_CHANGES = ['2027-03-28T01:00:00Z', '2027-10-31T01:00:00Z', '2027-03-14T07:00:00Z', '2027-11-07T06:00:00Z', '2027-04-04T15:00:00Z', '2027-09-25T14:00:00Z'].map(Date.parse);
const instant = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2030-12-31T00:00:00Z') }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...DST_CHANGES), fc.integer({ min: -3 * 3_600_000, max: 3 * 3_600_000 })).map(([t, d]) => t + d - ((t + d) % 60_000)) },
);

const freeze = fc.tuple(instant, fc.integer({ min: 1, max: 30 * 86_400_000 })).map(([from, length]) => ({
  name: 'f',
  from: new Date(from).toISOString(),
  to: new Date(from + length).toISOString(),
  reason: 'spec',
}));

const windowsPolicy = fc.record({
  windows: fc.array(fc.record({ name: fc.constant('w'), cron, timeZone, durationMinutes: duration }), { minLength: 0, maxLength: 3 }),
  freezes: fc.array(freeze, { maxLength: 2 }),
});

describe(`change windows, as properties (seed ${seed})`, () => {
  it('an accepted policy: the verdict never throws; "waits until T" holds at instants before T and lets it start at T', () => {
    fc.assert(
      fc.property(windowsPolicy, instant, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 8, maxLength: 8 }), (changeWindows, now, fractions) => {
        const parsed = parsePolicy({ changeWindows });
        if (!parsed.ok) {
          for (const e of parsed.errors) expect(e.message.startsWith(`${e.path} `)).toBe(true);
          return;
        }
        const policy: ChangeWindowPolicy = parsed.value.changeWindows;
        const verdict = executionWindow(policy, rec, new Date(now));
        if (verdict.allowed) return;
        const until = Date.parse(verdict.until);
        expect(until).toBeGreaterThan(now);
        if (verdict.until.startsWith('9999-')) return; // a window that never opens again
        for (const f of fractions) {
          const t = now + Math.floor(f * (until - now));
          if (t < until) expect(executionWindow(policy, rec, new Date(t))).toMatchObject({ allowed: false });
        }
        expect(executionWindow(policy, rec, new Date(until))).toEqual({ allowed: true });
      }),
      { numRuns: 300, seed },
    );
  });
});
