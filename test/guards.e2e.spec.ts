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
