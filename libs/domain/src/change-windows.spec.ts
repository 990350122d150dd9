import { executionWindow, type ChangeWindowPolicy } from './change-windows';
import { parsePolicy } from './policy';
import type { Recommendation } from './types';

const rec = (over: Partial<Recommendation> = {}, tags?: Record<string, string>): Recommendation =>
  ({
    recommendationId: 'r',
    source: 'spec',
    accountId: '123456789012',
    region: 'eu-central-1',
    resource: { type: 'ec2:volume', id: 'vol-1', ...(tags ? { tags } : {}) },
    action: { type: 'modify-volume', targetVolumeType: 'gp3' },
    estimatedMonthlySavings: 2,
    currency: 'USD',
    ...over,
  }) as Recommendation;

// Weeknights 22:00–02:00 Berlin time, for production only; a year-end freeze for everything.
const policy: ChangeWindowPolicy = {
  windows: [{ name: 'prod-nights', cron: '0 22 * * 1-5', timeZone: 'Europe/Berlin', durationMinutes: 240, tags: { env: 'production' } }],
  freezes: [{ name: 'year-end', from: '2026-12-20T00:00:00Z', to: '2027-01-04T00:00:00Z', reason: 'holiday freeze' }],
};
const prod = rec({}, { env: 'production' });

describe('change windows and freezes (given a policy, when may an execution start)', () => {
  it('given a production resource on Wednesday 13:00 Berlin, then it waits for the window opening at 22:00 Berlin (21:00 UTC)', () => {
    expect(executionWindow(policy, prod, new Date('2026-12-02T12:00:00Z'))).toEqual({
      allowed: false,
      hold: 'change-window',
      until: '2026-12-02T21:00:00.000Z',
      reason: 'outside its change windows; prod-nights opens at 2026-12-02T21:00:00.000Z (0 22 * * 1-5, Europe/Berlin)',
    });
  });

  it('inside the window (23:30 Berlin, and 01:30 the next night, before it closes at 02:00) it may start; at 02:00 it may not', () => {
    expect(executionWindow(policy, prod, new Date('2026-12-02T22:30:00Z'))).toEqual({ allowed: true });
    expect(executionWindow(policy, prod, new Date('2026-12-03T00:30:00Z'))).toEqual({ allowed: true });
    expect(executionWindow(policy, prod, new Date('2026-12-03T01:00:00Z'))).toMatchObject({ allowed: false, until: '2026-12-03T21:00:00.000Z' });
  });

  it('Friday night runs into Saturday; Saturday evening waits for Monday 22:00', () => {
    expect(executionWindow(policy, prod, new Date('2026-12-05T00:59:00Z'))).toEqual({ allowed: true });
    expect(executionWindow(policy, prod, new Date('2026-12-05T18:00:00Z'))).toMatchObject({ allowed: false, until: '2026-12-07T21:00:00.000Z' });
  });

  it('a resource no window applies to starts any time, except in a freeze', () => {
    expect(executionWindow(policy, rec({}, { env: 'dev' }), new Date('2026-12-02T12:00:00Z'))).toEqual({ allowed: true });
    expect(executionWindow(policy, rec(), new Date('2026-12-24T12:00:00Z'))).toEqual({
      allowed: false,
      hold: 'freeze',
      until: '2027-01-04T00:00:00.000Z',
      reason: 'freeze year-end until 2027-01-04T00:00:00.000Z: holiday freeze',
    });
  });

  it('a freeze wins over an open window; scope by account and region', () => {
    // The freeze ends at 01:00 Berlin on Monday 4 January, outside the window: the first start is that evening's opening.
    expect(executionWindow(policy, prod, new Date('2026-12-21T21:30:00Z'))).toEqual({
      allowed: false,
      hold: 'freeze',
      until: '2027-01-04T21:00:00.000Z',
      reason: 'freeze year-end until 2027-01-04T00:00:00.000Z: holiday freeze; then held until 2027-01-04T21:00:00.000Z (outside its change windows)',
    });
    // Not production: no window applies, the freeze's end is the start.
    expect(executionWindow(policy, rec(), new Date('2026-12-21T21:30:00Z'))).toMatchObject({ allowed: false, hold: 'freeze', until: '2027-01-04T00:00:00.000Z' });
    const scoped: ChangeWindowPolicy = { windows: [{ name: 'us', cron: '0 3 * * *', timeZone: 'UTC', durationMinutes: 60, regions: ['us-east-1'], accounts: ['123456789012'] }], freezes: [] };
    expect(executionWindow(scoped, rec(), new Date('2026-12-02T12:00:00Z'))).toEqual({ allowed: true }); // eu-central-1: no window applies
    expect(executionWindow(scoped, rec({ region: 'us-east-1' }), new Date('2026-12-02T12:00:00Z'))).toMatchObject({ allowed: false, until: '2026-12-03T03:00:00.000Z' });
  });

  it('"until" is the first instant it may start: across overlapping freezes, a freeze ending while the windows are closed, a window opening inside a freeze', () => {
    const daily: ChangeWindowPolicy['windows'] = [{ name: 'nightly', cron: '0 21 * * *', timeZone: 'UTC', durationMinutes: 60 }];
    const freeze = (name: string, from: string, to: string) => ({ name, from, to, reason: name });
    // Overlapping freezes, no window: the later end, naming the one in force now.
    const overlapping = executionWindow({ windows: [], freezes: [freeze('A', '2026-12-07T12:00:00Z', '2026-12-07T14:00:00Z'), freeze('B', '2026-12-07T13:00:00Z', '2026-12-07T18:00:00Z')] }, rec(), new Date('2026-12-07T12:30:00Z'));
    expect(overlapping).toMatchObject({ hold: 'freeze', until: '2026-12-07T18:00:00.000Z', reason: 'freeze A until 2026-12-07T14:00:00.000Z: A; then held until 2026-12-07T18:00:00.000Z (freeze B)' });
    // Both in force: the one ending last is named.
    expect(executionWindow({ windows: [], freezes: [freeze('A', '2026-12-07T12:00:00Z', '2026-12-07T14:00:00Z'), freeze('B', '2026-12-07T13:00:00Z', '2026-12-07T18:00:00Z')] }, rec(), new Date('2026-12-07T13:30:00Z'))).toMatchObject({ until: '2026-12-07T18:00:00.000Z', reason: 'freeze B until 2026-12-07T18:00:00.000Z: B' });
    // A freeze ending at 14:00 while the window opens at 21:00.
    expect(executionWindow({ windows: daily, freezes: [freeze('F', '2026-12-07T12:00:00Z', '2026-12-07T14:00:00Z')] }, rec(), new Date('2026-12-07T12:30:00Z'))).toMatchObject({ hold: 'freeze', until: '2026-12-07T21:00:00.000Z' });
    // The window opens at 21:00 inside a freeze 20:00–23:00: that day's window is lost, the next is the next day's.
    expect(executionWindow({ windows: daily, freezes: [freeze('G', '2026-12-07T20:00:00Z', '2026-12-07T23:00:00Z')] }, rec(), new Date('2026-12-07T18:00:00Z'))).toMatchObject({
      hold: 'change-window',
      until: '2026-12-08T21:00:00.000Z',
    });
    // The window opens at 21:00 inside a freeze 20:00–21:30: it is still open when the freeze ends.
    expect(executionWindow({ windows: daily, freezes: [freeze('H', '2026-12-07T20:00:00Z', '2026-12-07T21:30:00Z')] }, rec(), new Date('2026-12-07T18:00:00Z'))).toMatchObject({ until: '2026-12-07T21:30:00.000Z' });
  });

  it('the policy file: a bad cron, time zone, duration or freeze is named by its path', () => {
    const ok = parsePolicy({ changeWindows: { windows: [{ name: 'n', cron: '0 22 * * 1-5', durationMinutes: 60 }], freezes: [] } });
    expect(ok.ok && ok.value.changeWindows.windows[0]).toMatchObject({ timeZone: 'UTC' });
    const bad = parsePolicy({
      changeWindows: {
        windows: [
          { name: 'n', cron: 'every night', timeZone: 'Mars/Olympus', durationMinutes: 0 },
          { name: 'typo', cron: '0 22 * * *', durationMinutes: 60, regions: ['us-east-1', 'US-EAST-1', 'mars-1'] },
        ],
        freezes: [{ name: 'f', from: '2026-12-20T00:00:00Z', to: '2026-12-19T00:00:00Z', reason: 'x' }],
      },
    });
    const paths = bad.ok ? [] : bad.errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['changeWindows.windows.0.cron', 'changeWindows.windows.0.timeZone', 'changeWindows.windows.0.durationMinutes', 'changeWindows.freezes.0.to']));
    // A region no window could ever match silently took the window away: refused, each by its path.
    expect(bad.ok ? [] : bad.errors.filter((e) => e.path.startsWith('changeWindows.windows.1'))).toEqual([
      { path: 'changeWindows.windows.1.regions.1', message: expect.stringContaining('must be an AWS region such as us-east-1, got "US-EAST-1"') },
      { path: 'changeWindows.windows.1.regions.2', message: expect.stringContaining('got "mars-1"') },
    ]);
  });

  it('a window that could never open, a cron with a year or one field short, and a duration past 366 days are refused by their path (they waited "until 9999" or broke the scheduler\'s tick)', () => {
    const windows = [
      { name: 'feb30', cron: '0 0 30 2 *', durationMinutes: 60 },
      { name: 'apr31', cron: '0 0 31 4 *', durationMinutes: 60 },
      { name: 'year', cron: '0 0 0 1 1 * 2020', durationMinutes: 60 },
      { name: 'short', cron: '0 22 * *', durationMinutes: 60 },
      { name: 'huge', cron: '0 22 * * *', durationMinutes: 200_000_000_000 },
      { name: 'leap', cron: '0 0 29 2 *', durationMinutes: 527_040 },
      { name: 'seconds', cron: '0 0 22 * * *', durationMinutes: 60 },
    ];
    const parsed = parsePolicy({ changeWindows: { windows, freezes: [] } });
    expect(parsed.ok ? [] : parsed.errors).toEqual([
      { path: 'changeWindows.windows.0.cron', message: 'changeWindows.windows.0.cron never matches a date (e.g. 30 February), so the window would never open' },
      { path: 'changeWindows.windows.1.cron', message: 'changeWindows.windows.1.cron never matches a date (e.g. 30 February), so the window would never open' },
      { path: 'changeWindows.windows.2.cron', message: 'changeWindows.windows.2.cron must have five fields (minute hour day-of-month month day-of-week) or six (seconds first), got 7' },
      { path: 'changeWindows.windows.3.cron', message: 'changeWindows.windows.3.cron must have five fields (minute hour day-of-month month day-of-week) or six (seconds first), got 4' },
      { path: 'changeWindows.windows.4.durationMinutes', message: 'changeWindows.windows.4.durationMinutes must be at most 527040 (366 days), got 200000000000' },
    ]);
    // 29 February comes every four years, and a window of 366 days is allowed: neither is refused.
    const leap = parsePolicy({ changeWindows: { windows: windows.slice(5), freezes: [] } });
    expect(leap.ok).toBe(true);
    // Six fields read seconds first: 0 0 22 opens at 22:00:00, before the next 29 February.
    if (leap.ok) expect(executionWindow(leap.value.changeWindows, rec(), new Date('2026-12-02T12:00:00Z'))).toMatchObject({ allowed: false, until: '2026-12-02T22:00:00.000Z' });
  });

  it('a window for tagged resources governs a resource whose live tags carry them, though the recommendation states none', () => {
    const wednesdayNoon = new Date('2026-12-02T12:00:00Z');
    expect(executionWindow(policy, rec(), wednesdayNoon)).toEqual({ allowed: true });
    expect(executionWindow(policy, rec(), wednesdayNoon, { env: 'production' })).toMatchObject({ allowed: false, hold: 'change-window', until: '2026-12-02T21:00:00.000Z' });
    expect(executionWindow(policy, rec({}, { env: 'dev' }), wednesdayNoon, { env: 'production' })).toMatchObject({ allowed: false, hold: 'change-window' });
    expect(executionWindow(policy, rec(), wednesdayNoon, { env: 'dev' })).toEqual({ allowed: true });
  });
});
