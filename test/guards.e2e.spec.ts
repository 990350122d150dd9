import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, json, optex, tempDir } from './support/cli';

jest.setTimeout(120_000);

beforeAll(() => ensureBuilt());

interface Report {
  optimizations: { recommendationId: string; status: string }[];
}

// The kill switch from the command line: pause before a run, nothing executes; resume-execution, then resume: done.
describe('optex pause / resume-execution', () => {
  const dir = tempDir('guards');
  const store = `sqlite:${join(dir, 'events.db')}`;
  const common = ['--store', store, '--cloud', 'simulated:test/fixtures/fleet.json', '--policy', 'test/fixtures/policy-auto.json'];

  it('paused: a run assesses and schedules but executes nothing; resumed: the next resume executes', async () => {
    // The switch is pulled on a store that exists (a path that does not is refused): an empty run makes it.
    expect((await optex(['run', '-', ...common], { input: '[]' })).code).toBe(0);
    const paused = await optex(['pause', '--by', 'oncall', '--reason', 'incident INC-7', '--store', store]);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/^Execution is PAUSED \(by oncall since .*: incident INC-7\)\. Steps already sent finish; rollbacks go on\./);
    const state = await optex(['pause', '--store', store, '--json']);
    expect(json(state)).toMatchObject({ paused: true, by: 'oncall', reason: 'incident INC-7' });
    const twice = await optex(['pause', '--by', 'someone', '--reason', 'again', '--store', store]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/optex pause: execution is already paused \(by oncall/);
    const noReason = await optex(['pause', '--by', 'someone', '--store', store]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason/);

    const run = json<Report & { paused?: unknown }>(await optex(['run', 'test/fixtures/recommendations.ndjson', ...common, '--json']));
    expect(run.paused).toEqual({ by: 'oncall', reason: 'incident INC-7', since: expect.any(String) });
    expect(run.optimizations.length).toBeGreaterThan(3);
    // The text report says why nothing ran, and what lifts it.
    expect((await optex(['resume', ...common])).stdout).toMatch(/^Execution is PAUSED \(by oncall since .*: incident INC-7\): no execution starts until optex resume-execution/m);
    expect(new Set(run.optimizations.map((o) => o.status))).toEqual(new Set(['approved'])); // nothing is dispatched while paused: windows and limits are judged at the resume
    const fleet = json<{ calls: { operation: string; dryRun: boolean }[] }>(await optex(['fleet', ...common.slice(0, 4), '--json']));
    expect(fleet.calls.filter((c) => !c.operation.startsWith('describe') && !c.operation.startsWith('find') && !c.operation.startsWith('waitFor'))).toEqual([]);

    const resumed = await optex(['resume-execution', '--by', 'oncall', '--reason', 'resolved', '--store', store]);
    expect(resumed.stdout).toMatch(/^Execution is running\. Run optex resume to continue what waited\./);
    const after = json<Report & { paused?: unknown }>(await optex(['resume', ...common, '--json']));
    expect(after.paused).toBeUndefined();
    expect(after.optimizations.filter((o) => o.status === 'scheduled' || o.status === 'approved')).toEqual([]);
    expect(after.optimizations.some((o) => o.status === 'completed')).toBe(true);
    const notPaused = await optex(['resume-execution', '--by', 'oncall', '--reason', 'again', '--store', store]);
    expect(notPaused.code).toBe(1);
    expect(notPaused.stderr).toMatch(/execution is not paused/);
  });
});

// A start delayed past its dispatch is judged again: a crash between ExecutionScheduled and ExecutionStarted, then a
// freeze that began since, and the resume does not start it (it used to, inside the freeze).
describe('a scheduled optimization is judged again at its start', () => {
  it('killed after its dispatch, resumed inside a freeze begun since: it stays scheduled, waits until the freeze ends, and EC2 is not called', async () => {
    const dir = tempDir('held-start');
    const store = `sqlite:${join(dir, 'events.db')}`;
    const input = '{"recommendationId":"held-gp3","source":"e2e","accountId":"123456789012","region":"us-east-1","resource":{"type":"ec2:volume","id":"vol-0e2e000000000001"},"action":{"type":"modify-volume","targetVolumeType":"gp3"},"estimatedMonthlySavings":10,"currency":"USD"}';
    const cloud = ['--cloud', 'simulated:test/fixtures/fleet.json'];
    const killed = await optex(['run', '-', '--store', store, ...cloud, '--policy', 'test/fixtures/policy-auto.json'], { input, env: { OPTEX_CRASH_AT: 'event:ExecutionScheduled:1' } });
    expect(killed.code).not.toBe(0);
    expect(json<{ status: string }>(await optex(['show', 'held-gp3', '--store', store, '--json'])).status).toBe('scheduled');

    const until = new Date(Date.now() + 24 * 3_600_000).toISOString();
    const policy = join(dir, 'freeze.json');
    writeFileSync(policy, JSON.stringify({ approval: { autoApprove: { enabled: true, maxLevel: 'CRITICAL', maxMonthlySavings: 100000 } }, changeWindows: { windows: [], freezes: [{ name: 'year-end', from: new Date(Date.now() - 60_000).toISOString(), to: until, reason: 'holiday freeze' }] } }));
    const resumed = await optex(['resume', '--store', store, ...cloud, '--policy', policy, '--json']);
    expect(resumed.code).toBe(0);
    const report = json<Report & { waitingUntil?: string }>(resumed);
    expect(report.optimizations.map((o) => [o.recommendationId, o.status])).toEqual([['held-gp3', 'scheduled']]);
    expect(report.waitingUntil).toBe(until);
    const show = await optex(['show', 'held-gp3', '--store', store]);
    expect(show.stdout).toContain(`  waiting         freeze until ${until}: held at its start: `);
    const fleet = json<{ calls: { operation: string }[] }>(await optex(['fleet', '--store', store, ...cloud, '--json']));
    expect(fleet.calls.map((c) => c.operation)).not.toContain('modifyVolume');
  });
});

describe('--not-before', () => {
  it('approved work held by --not-before says so in show (waiting: not-before until that time), and the run says waiting until it', async () => {
    const dir = tempDir('not-before');
    const store = `sqlite:${join(dir, 'events.db')}`;
    const notBefore = new Date(Date.now() + 3 * 3_600_000).toISOString();
    const input = '{"recommendationId":"later-gp3","source":"e2e","accountId":"123456789012","region":"us-east-1","resource":{"type":"ec2:volume","id":"vol-0e2e000000000001"},"action":{"type":"modify-volume","targetVolumeType":"gp3"},"estimatedMonthlySavings":10,"currency":"USD"}';
    const run = await optex(['run', '-', '--store', store, '--cloud', 'simulated:test/fixtures/fleet.json', '--policy', 'test/fixtures/policy-auto.json', '--not-before', notBefore, '--json'], { input });
    const report = json<Report & { waitingUntil?: string }>(run);
    expect(report.optimizations.map((o) => o.status)).toEqual(['approved']);
    expect(report.waitingUntil).toBe(notBefore);
    const show = await optex(['show', 'later-gp3', '--store', store, '--json']);
    expect(json<{ waiting: unknown }>(show).waiting).toEqual({ hold: 'not-before', until: notBefore, reason: `its batch starts not before ${notBefore} (--not-before of the run that planned it)` });
  });

  it('resume --not-before holds work already in a batch an earlier run planned (it started at once, the flag silently ignored)', async () => {
    const dir = tempDir('not-before-resume');
    const store = `sqlite:${join(dir, 'events.db')}`;
    const common = ['--store', store, '--cloud', 'simulated:test/fixtures/fleet.json', '--policy', 'test/fixtures/policy-auto.json'];
    const input = '{"recommendationId":"planned-gp3","source":"e2e","accountId":"123456789012","region":"us-east-1","resource":{"type":"ec2:volume","id":"vol-0e2e000000000001"},"action":{"type":"modify-volume","targetVolumeType":"gp3"},"estimatedMonthlySavings":10,"currency":"USD"}';
    // Planned into a batch while paused (nothing is dispatched), then execution resumes.
    expect((await optex(['run', '-', ...common], { input: '[]' })).code).toBe(0);
    expect((await optex(['pause', '--by', 'oncall', '--reason', 'INC-9', '--store', store])).code).toBe(0);
    expect(json<Report>(await optex(['run', '-', ...common, '--json'], { input })).optimizations.map((o) => o.status)).toEqual(['approved']);
    expect((await optex(['resume-execution', '--by', 'oncall', '--reason', 'over', '--store', store])).code).toBe(0);
    const notBefore = new Date(Date.now() + 3 * 3_600_000).toISOString();
    const held = json<Report & { waitingUntil?: string }>(await optex(['resume', ...common, '--not-before', notBefore, '--json']));
    expect(held.optimizations.map((o) => o.status)).toEqual(['approved']);
    expect(held.waitingUntil).toBe(notBefore);
    expect(json<Report>(await optex(['resume', ...common, '--json'])).optimizations.map((o) => o.status)).toEqual(['completed']);
  });
});
