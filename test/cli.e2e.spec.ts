import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, json, optex, tempDir, ROOT } from './support/cli';

jest.setTimeout(120_000);

interface View {
  optimizationId: string;
  recommendationId: string;
  status: string;
  risk: string;
  approval: string;
  dryRun: boolean;
  actualMonthlySavings: number | null;
  accuracyPct: number | null;
  reversible: string;
  error: string | null;
}
interface FleetView {
  instances: { id: string; instanceType: string; state: string }[];
  volumes: { id: string; volumeType: string; state: string }[];
  snapshots: { id: string; volumeId?: string; tags?: Record<string, string> }[];
  reservedInstances: { reservedInstancesId: string; offeringId: string; instanceCount: number }[];
  calls: { operation: string; resource: string; dryRun: boolean; result: string }[];
  [key: string]: unknown;
}
interface Report {
  summary: Record<string, unknown> & { byStatus: Record<string, number>; received: number; rejected: number };
  optimizations: View[];
  rejected: { index: number; recommendationId: string | null; errors: string[] }[];
}

const FIXTURE = 'test/fixtures/recommendations.ndjson';
const FLEET = 'test/fixtures/fleet.json';
const byRec = (r: Report, id: string) => {
  const v = r.optimizations.find((o) => o.recommendationId === id);
  if (!v) throw new Error(`no ${id} in ${JSON.stringify(r.optimizations.map((o) => o.recommendationId))}`);
  return v;
};

beforeAll(() => ensureBuilt());

describe('optex CLI, end to end on the embedded default', () => {
  const dir = tempDir('cli');
  const store = `sqlite:${join(dir, 'events.db')}`;
  const common = ['--store', store, '--cloud', `simulated:${FLEET}`];
  let first: Report;

  it('run: good records are processed, bad ones are reported with the field named, exit 0', async () => {
    const result = await optex(['run', FIXTURE, ...common, '--json']);
    expect(result.code).toBe(0);
    first = json<Report>(result);
    expect(first.summary.received).toBe(9);
    expect(first.summary.rejected).toBe(2);
    expect(first.rejected.map((r) => r.index)).toEqual([7, 8]);
    expect(first.rejected[0].errors.join(' ')).toMatch(/accountId/);
    expect(first.rejected[0].errors.join(' ')).toMatch(/estimatedMonthlySavings/);
    expect(first.rejected[1].errors.join(' ')).toMatch(/JSON/);
    // gp2 500 GiB (250 MiB/s) → gp3 keeping 250 MiB/s: 50 − (40 + 125 × 0.04)
    expect(byRec(first, 'e2e-gp3')).toMatchObject({ status: 'completed', risk: 'LOW', approval: 'auto', actualMonthlySavings: 5 });
    expect(byRec(first, 'e2e-ri')).toMatchObject({ status: 'completed', approval: 'auto' });
    expect(byRec(first, 'e2e-rightsize-ok')).toMatchObject({ status: 'awaiting-approval', risk: 'MEDIUM', approval: 'pending' });
    expect(byRec(first, 'e2e-release')).toMatchObject({ status: 'awaiting-approval', risk: 'HIGH' });
  });

  it('metrics rebuilt from the log equal the run summary', async () => {
    const metrics = json<{ summary: unknown }>(await optex(['metrics', '--store', store, '--json']));
    expect(metrics.summary).toEqual(first.summary);
  });

  it('approve/deny, then resume: approved work executes, a hot rightsize rolls back, the denied one stays denied', async () => {
    for (const rec of ['e2e-rightsize-ok', 'e2e-rightsize-hot', 'e2e-delete-vol', 'e2e-stop']) {
      const id = byRec(first, rec).optimizationId;
      const approved = await optex(['approve', id, '--by', 'alice', '--store', store, '--json']);
      expect(approved.code).toBe(0);
      expect(json(approved)).toMatchObject({ optimizationId: id, status: 'approved' });
    }
    const denied = await optex(['deny', byRec(first, 'e2e-release').optimizationId, '--by', 'bob', '--reason', 'IP still in DNS', '--store', store, '--json']);
    expect(json(denied)).toMatchObject({ status: 'denied', approval: 'denied' });

    const resumed = json<Report>(await optex(['resume', ...common, '--json']));
    expect(byRec(resumed, 'e2e-rightsize-ok')).toMatchObject({ status: 'completed', approval: 'manual', actualMonthlySavings: 70.08, accuracyPct: 100 });
    expect(byRec(resumed, 'e2e-rightsize-hot').status).toBe('rolled-back');
    expect(byRec(resumed, 'e2e-rightsize-hot').error).toMatch(/CPU/);
    expect(byRec(resumed, 'e2e-delete-vol')).toMatchObject({ status: 'completed', reversible: 'yes' });
    expect(byRec(resumed, 'e2e-stop').status).toBe('completed');
    expect(byRec(resumed, 'e2e-release').status).toBe('denied');
    expect(resumed.summary.byStatus).toEqual({ completed: 5, 'rolled-back': 1, denied: 1 });

    const metrics = json<{ summary: unknown }>(await optex(['metrics', '--store', store, '--json']));
    expect(metrics.summary).toEqual(resumed.summary);

    // the simulated fleet persisted next to the store: the rolled-back instance has its original type again
    const fleet = json<FleetView>(await optex(['fleet', ...common, '--json']));
    expect(fleet.instances.find((i) => i.id === 'i-0e2e000000000001')).toMatchObject({ instanceType: 'm5.large', state: 'running' });
    expect(fleet.instances.find((i) => i.id === 'i-0e2e000000000002')).toMatchObject({ instanceType: 'm5.xlarge', state: 'running' });
  });

  it('fleet --json shows the effects and every EC2 call, each mutating one made once', async () => {
    const result = await optex(['fleet', ...common, '--json']);
    expect(result.code).toBe(0);
    const fleet = json<FleetView>(result);
    const input = JSON.parse(readFileSync(join(ROOT, FLEET), 'utf8')) as { volumes: { id: string }[] };
    const deleted = input.volumes.filter((v) => !fleet.volumes.some((w) => w.id === v.id)).map((v) => v.id);
    expect(deleted).toHaveLength(1);
    const backup = fleet.snapshots.find((s) => s.volumeId === deleted[0]);
    expect(backup).toBeDefined();
    expect(fleet.reservedInstances).toHaveLength(1);

    const ok = (operation: string, resource?: string) => fleet.calls.filter((c) => c.operation === operation && !c.dryRun && c.result === 'ok' && (resource === undefined || c.resource === resource));
    expect(ok('deleteVolume', deleted[0])).toHaveLength(1);
    expect(ok('createSnapshot', deleted[0])).toHaveLength(1);
    expect(ok('purchaseReservedInstancesOffering')).toHaveLength(1);
    expect(ok('modifyVolume')).toHaveLength(1);
    for (const call of fleet.calls) expect(Object.keys(call)).toEqual(expect.arrayContaining(['operation', 'resource', 'dryRun', 'result']));

    const text = await optex(['fleet', ...common]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/volumes \d+/);
    expect(text.stdout).toMatch(/deleteVolume +no +ok +1/);
  });

  it('history prints the events of one optimization in stream order', async () => {
    const id = byRec(first, 'e2e-rightsize-hot').optimizationId;
    const history = json<{ events: { type: string; recordedAt: string; data: unknown }[] }>(await optex(['history', id, '--store', store, '--json']));
    const types = history.events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(['OptimizationReceived', 'RiskAssessed', 'ApprovalRequested', 'ApprovalGranted']);
    expect(types).toContain('RollbackPlanRecorded');
    expect(types.indexOf('RollbackPlanRecorded')).toBeLessThan(types.indexOf('ExecutionStepCompleted'));
    expect(types.slice(-1)).toEqual(['RollbackCompleted']);
    expect(types).toEqual(expect.arrayContaining(['ValidationFailed', 'RollbackStarted', 'RollbackStepCompleted']));
    const times = history.events.map((e) => Date.parse(e.recordedAt));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('an optimization can be named by a unique id prefix or by its recommendation id', async () => {
    const id = byRec(first, 'e2e-gp3').optimizationId;
    const byPrefix = json<{ optimizationId: string }>(await optex(['history', id.slice(0, 8), '--store', store, '--json']));
    expect(byPrefix.optimizationId).toBe(id);
    const byRecommendation = json<{ optimizationId: string }>(await optex(['history', 'e2e-gp3', '--store', store, '--json']));
    expect(byRecommendation.optimizationId).toBe(id);
    const missing = await optex(['history', 'no-such-thing', '--store', store]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no optimization no-such-thing/);
  });

  it('list prints every optimization of the store with the run fields', async () => {
    const listed = json<{ optimizations: View[] }>(await optex(['list', '--store', store, '--json']));
    expect(listed.optimizations.map((o) => o.recommendationId).sort()).toEqual(first.optimizations.map((o) => o.recommendationId).sort());
    expect(Object.keys(listed.optimizations[0]!)).toEqual(expect.arrayContaining(['optimizationId', 'recommendationId', 'resourceId', 'action', 'risk', 'approval', 'status', 'dryRun', 'estimatedMonthlySavings', 'actualMonthlySavings', 'accuracyPct', 'reversible', 'error']));
  });

  it('replay folds the whole log into the same projections', async () => {
    const replay = json<{ events: number; summary: Record<string, unknown> }>(await optex(['replay', '--store', store, '--json']));
    const metrics = json<{ summary: Record<string, unknown> }>(await optex(['metrics', '--store', store, '--json']));
    expect(replay.events).toBeGreaterThan(50);
    expect(replay.summary).toEqual(metrics.summary);
  });

  it('a second approval of a denied optimization is refused with exit 1 and one line', async () => {
    const result = await optex(['approve', byRec(first, 'e2e-release').optimizationId, '--by', 'carol', '--store', store]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/denied/);
  });
});

describe('dry run', () => {
  it('pre-validates and dry-runs every call, and leaves the fleet unchanged', async () => {
    const dir = tempDir('dry');
    const fleetCopy = join(dir, 'fleet.json');
    const original = readFileSync(join(ROOT, FLEET), 'utf8');
    writeFileSync(fleetCopy, original);
    const store = `sqlite:${join(dir, 'events.db')}`;
    const result = await optex(['run', FIXTURE, '--store', store, '--cloud', `simulated:${fleetCopy}`, '--policy', 'test/fixtures/policy-auto.json', '--dry-run', '--json']);
    expect(result.code).toBe(0);
    const report = json<Report>(result);
    expect(report.optimizations).toHaveLength(7);
    for (const o of report.optimizations) expect(o).toMatchObject({ status: 'dry-run-completed', dryRun: true, actualMonthlySavings: null });
    expect(readFileSync(fleetCopy, 'utf8')).toBe(original);
    const state = json<FleetView>(await optex(['fleet', '--store', store, '--cloud', `simulated:${fleetCopy}`, '--json']));
    const input = JSON.parse(original) as Record<string, unknown>;
    for (const key of ['instances', 'volumes', 'addresses', 'snapshots']) expect(state[key]).toEqual(input[key]);
    expect(state.reservedInstances).toEqual([]);
    const mutating = state.calls.filter((c) => !c.operation.startsWith('describe') && !c.operation.startsWith('waitFor') && !c.operation.startsWith('find'));
    expect(mutating.length).toBeGreaterThan(0);
    for (const call of mutating) expect(call).toMatchObject({ dryRun: true, result: 'DryRunOperation' });
  });
});

describe('a dry run changes nothing, even on a store that holds real work', () => {
  it('a store of real work and previews: the previews\' duplicates, conflicts and rejected records are left out with them, alike in resume, metrics and replay', async () => {
    const dir = tempDir('preview-counts');
    const store = `sqlite:${join(dir, 'events.db')}`;
    const common = ['--store', store, '--cloud', `simulated:${FLEET}`, '--policy', 'test/fixtures/policy-auto.json'];
    const lines = readFileSync(join(ROOT, FIXTURE), 'utf8').split('\n').filter((line) => line.includes('"e2e-gp3"') || line.includes('"e2e-release"'));
    expect(lines).toHaveLength(2);
    const real = lines.join('\n');
    expect((await optex(['run', '-', ...common], { input: real })).code).toBe(0);
    expect((await optex(['run', '-', ...common, '--dry-run'], { input: real })).code).toBe(0); // two previews
    const respaced = lines.map((line) => JSON.stringify(JSON.parse(line), null, 1).replace(/\n/g, '')).join('\n');
    expect((await optex(['run', '-', ...common, '--dry-run'], { input: respaced })).code).toBe(0); // their duplicates
    const changed = JSON.stringify({ ...(JSON.parse(lines[0]!) as Record<string, unknown>), estimatedMonthlySavings: 3 });
    expect((await optex(['run', '-', ...common, '--dry-run'], { input: changed })).code).toBe(0); // a conflicting duplicate
    expect((await optex(['run', '-', ...common, '--dry-run'], { input: '{"recommendationId":"dry-bad","source":"e2e"}' })).code).toBe(0); // rejected
    const expected = { received: 2, rejected: 0, duplicates: 0, conflicts: 0, optimizations: 2, previewsLeftOut: 2 };
    for (const command of ['resume', 'metrics', 'replay']) {
      const summary = json<{ summary: Record<string, unknown> }>(await optex([command, ...(command === 'resume' ? common : ['--store', store]), '--json'])).summary;
      expect([command, summary]).toEqual([command, expect.objectContaining(expected)]);
    }
  });

  it('run --dry-run and resume --dry-run exit 2 naming the real work in progress, and call nothing; after resume, the preview runs', async () => {
    const dir = tempDir('dry-real');
    const store = `sqlite:${join(dir, 'events.db')}`;
    const cloud = ['--cloud', 'simulated:examples/fleet.json'];
    expect((await optex(['run', 'examples/recommendations.json', '--store', store, ...cloud, '--json'])).code).toBe(0);
    expect((await optex(['approve', 'custodian-ebs-unattached-0001', '--by', 'alice', '--store', store])).code).toBe(0);
    const calls = async () => json<FleetView>(await optex(['fleet', '--store', store, ...cloud, '--json'])).calls;
    const before = await calls();

    for (const args of [['run', 'examples/recommendations.json', '--dry-run'], ['resume', '--dry-run']]) {
      const refused = await optex([...args, '--store', store, ...cloud, '--json']);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toBe('');
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    }
    const refused = await optex(['run', 'examples/recommendations.json', '--dry-run', '--store', store, ...cloud]);
    expect(refused.stderr).toContain('holds 1 real optimization in progress (custodian-ebs-unattached-0001 (approved)) that this run would carry on for real');
    expect((await optex(['resume', '--dry-run', '--store', store])).stderr).toContain('resume has no --dry-run');
    expect(await calls()).toEqual(before);

    expect((await optex(['resume', '--store', store, ...cloud, '--json'])).code).toBe(0);
    const resumed = await calls();
    expect(resumed.slice(before.length).some((c) => c.operation === 'deleteVolume' && !c.dryRun)).toBe(true);
    const preview = await optex(['run', 'examples/recommendations.json', '--dry-run', '--store', store, ...cloud, '--json']);
    expect(preview.code).toBe(0);
    const mutating = (await calls()).slice(resumed.length).filter((c) => !c.operation.startsWith('describe') && !c.operation.startsWith('waitFor') && !c.operation.startsWith('find'));
    expect(mutating.length).toBeGreaterThan(0);
    for (const call of mutating) expect(call.dryRun).toBe(true);
  });
});

describe('text report of a large run', () => {
  it('prints the first rows and how many more, the summary of all, and --output holds the full --json report', async () => {
    const dir = tempDir('rows');
    const output = join(dir, 'out', 'report.json');
    const args = ['run', FIXTURE, '--store', `sqlite:${join(dir, 'events.db')}`, '--cloud', `simulated:${FLEET}`, '--dry-run'];
    const result = await optex([...args, '--rows', '2', '--output', output]);
    expect(result.code).toBe(0);
    const full = JSON.parse(readFileSync(output, 'utf8')) as Report;
    const total = full.optimizations.length;
    expect(total).toBeGreaterThan(2);
    const tableRows = result.stdout.split('\n').filter((line) => full.optimizations.some((o) => line.startsWith(o.optimizationId.slice(0, 8))));
    expect(tableRows).toHaveLength(2);
    expect(result.stdout).toContain(`… and ${total - 2} more optimizations (all of them are in ${output})`);
    expect(result.stdout).toContain(`Received ${full.summary.received} recommendations`);
    expect(full.rejected.length).toBeGreaterThan(0);

    const again = await optex(['resume', '--store', `sqlite:${join(dir, 'events.db')}`, '--cloud', `simulated:${FLEET}`, '--json', '--output', join(dir, 'resume.json')]);
    expect(again.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'resume.json'), 'utf8'))).toEqual(json<Report>(again));
  });
});

describe('bad invocations exit 2 with one line naming the problem', () => {
  it.each([
    [['run', 'no/such/file.json', '--store', 'memory:'], /no\/such\/file\.json/],
    [['run', FIXTURE, '--store', 'memory:', '--no-such-flag'], /--no-such-flag/],
    [['run', FIXTURE, '--store', 'memory:', '--batch-mode', 'sideways'], /--batch-mode/],
    [['run', FIXTURE, '--store', 'memory:', '--max-parallel', '0'], /--max-parallel/],
    [['run', FIXTURE, '--store', 'mysql://x'], /--store/],
    [['run', FIXTURE, '--store', 'memory:', '--cloud', 'gcp'], /--cloud/],
    [['run', FIXTURE, '--store', 'memory:', '--policy', 'no-policy.json'], /--policy/],
    [['run', FIXTURE, '--store', 'memory:', '--rows', 'some'], /--rows/],
    [['frobnicate'], /frobnicate/],
    [['run', FIXTURE, '--store', 'memory:', '--dryrun'], /unknown option '--dryrun' \(Did you mean --dry-run\?\)/],
    [['hisory', 'x'], /unknown command 'hisory' \(Did you mean history\?\)/],
  ])('optex %j', async (args, pattern) => {
    const result = await optex(args as string[]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(pattern as RegExp);
    expect(result.stdout).toBe('');
  });

  it('fleet with a store that does not exist exits 2 naming it, and creates nothing', async () => {
    const dir = tempDir('nostore');
    const missing = join(dir, 'nowhere', 'events.db');
    const result = await optex(['fleet', '--store', `sqlite:${missing}`, '--cloud', `simulated:${FLEET}`, '--json']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(missing);
    expect(result.stdout).toBe('');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a bad OPTEX_HEAP_GROWTH_PERCENT exits 2 naming it before anything runs; v8 keeps V8 own policy and runs', async () => {
    const dir = tempDir('heap');
    const store = `sqlite:${join(dir, 'events.db')}`;
    const bad = await optex(['run', FIXTURE, '--store', store, '--cloud', `simulated:${FLEET}`, '--dry-run'], { env: { OPTEX_HEAP_GROWTH_PERCENT: 'lots' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(['optex: OPTEX_HEAP_GROWTH_PERCENT must be an integer from 10 to 1000, or v8 (V8\'s own policy), got "lots"']);
    expect(bad.stdout).toBe('');
    expect(readdirSync(dir)).toEqual([]);
    const own = await optex(['run', FIXTURE, '--store', store, '--cloud', `simulated:${FLEET}`, '--dry-run', '--json'], { env: { OPTEX_HEAP_GROWTH_PERCENT: 'v8' } });
    expect(own.code).toBe(0);
    expect(json<{ summary: { received: number } }>(own).summary.received).toBe(9);
  });

  it('an unreadable JSON array exits 2', async () => {
    const dir = tempDir('bad');
    const file = join(dir, 'broken.json');
    writeFileSync(file, '[{"recommendationId": ');
    const result = await optex(['run', file, '--store', 'memory:']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unreadable input/);
  });
});

describe('stdin and JSON array input', () => {
  it('reads a JSON array from - (stdin), and a duplicate within it is counted once', async () => {
    const lines = readFileSync(join(ROOT, FIXTURE), 'utf8').trim().split('\n').slice(2, 4).map((l) => JSON.parse(l) as unknown);
    const input = JSON.stringify([...lines, lines[0]]);
    const result = await optex(['run', '-', '--store', 'memory:', '--cloud', `simulated:${FLEET}`, '--json'], { input });
    expect(result.code).toBe(0);
    const report = json<Report>(result);
    expect(report.summary).toMatchObject({ received: 3, duplicates: 1, rejected: 0 });
    expect(report.optimizations).toHaveLength(2);
  });
});

describe('dry run meets injected faults', () => {
  // A dry run is for finding a missing permission before the real run: a fleet fault UnauthorizedOperation on
  // ModifyVolume fails the dry run of a modify-volume recommendation, with the code named in `error`.
  it('a fault UnauthorizedOperation on ModifyVolume makes `run --dry-run` of a modify-volume end failed, naming the code', async () => {
    const dir = tempDir('dry-fault');
    const fleet = JSON.parse(readFileSync(join(ROOT, FLEET), 'utf8')) as Record<string, unknown>;
    const fleetFile = join(dir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify({ ...fleet, faults: [{ resourceId: 'vol-0e2e000000000001', operation: 'ModifyVolume', error: 'UnauthorizedOperation', times: 1 }] }));
    const input = readFileSync(join(ROOT, FIXTURE), 'utf8').split('\n').filter((line) => line.includes('"e2e-gp3"')).join('\n');
    const result = await optex(['run', '-', '--store', `sqlite:${join(dir, 'events.db')}`, '--cloud', `simulated:${fleetFile}`, '--policy', 'test/fixtures/policy-auto.json', '--dry-run', '--json'], { input });
    expect(result.code).toBe(0);
    const report = json<Report>(result);
    expect(report.optimizations).toHaveLength(1);
    expect(byRec(report, 'e2e-gp3')).toMatchObject({ status: 'failed', dryRun: true, error: expect.stringContaining('UnauthorizedOperation') });
  });

  it.each([
    [1, { status: 'dry-run-completed', error: null }],
    [9, { status: 'failed', error: expect.stringMatching(/^pre-validation failed: vol-0e2e000000000001 could not be described: UnauthorizedOperation: /) }],
  ])('a DescribeVolumes refused %i time(s) is no reason to stall: assessed on what was stated, then pre-validated', async (times, outcome) => {
    const dir = tempDir('describe-fault');
    const fleet = JSON.parse(readFileSync(join(ROOT, FLEET), 'utf8')) as Record<string, unknown>;
    const fleetFile = join(dir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify({ ...fleet, faults: [{ resourceId: 'vol-0e2e000000000001', operation: 'DescribeVolumes', error: 'UnauthorizedOperation', times }] }));
    const input = readFileSync(join(ROOT, FIXTURE), 'utf8').split('\n').filter((line) => line.includes('"e2e-gp3"')).join('\n');
    const store = `sqlite:${join(dir, 'events.db')}`;
    const result = await optex(['run', '-', '--store', store, '--cloud', `simulated:${fleetFile}`, '--policy', 'test/fixtures/policy-auto.json', '--dry-run', '--json'], { input });
    expect(result.code).toBe(0);
    expect(byRec(json<Report>(result), 'e2e-gp3')).toMatchObject({ dryRun: true, ...outcome });
    const show = await optex(['show', 'e2e-gp3', '--store', store]);
    expect(show.stdout).toContain('live resource: could not be described (UnauthorizedOperation: ');
  });
});

describe('operator actions', () => {
  // A delete-volume whose DeleteVolume is refused once: the rollback deletes the backup snapshot, which is refused once too.
  const fleet = {
    volumes: [
      { id: 'vol-0op0000000000001', accountId: '123456789012', region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' },
      { id: 'vol-0op0000000000002', accountId: '123456789012', region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' },
    ],
    faults: [
      { resourceId: 'vol-0op0000000000001', operation: 'DeleteVolume', error: 'UnauthorizedOperation', times: 1 },
      { resourceId: 'vol-0op0000000000002', operation: 'DeleteVolume', error: 'UnauthorizedOperation', times: 1 },
      // Refused until used up: once for each optimization's rollback.
      { resourceId: '*', operation: 'DeleteSnapshot', error: 'UnauthorizedOperation', times: 2 },
    ],
  };
  const rec = (n: number) =>
    JSON.stringify({
      recommendationId: `op-delete-${n}`,
      source: 'e2e',
      accountId: '123456789012',
      region: 'us-east-1',
      resource: { type: 'ec2:volume', id: `vol-0op000000000000${n}` },
      action: { type: 'delete-volume' },
      estimatedMonthlySavings: 10,
      currency: 'USD',
    });

  it('retry-rollback carries a failed rollback on after resume; resolve closes one with a note; both are in the history with who and why', async () => {
    const dir = tempDir('operator');
    const fleetFile = join(dir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(fleet));
    const input = join(dir, 'recs.ndjson');
    writeFileSync(input, `${rec(1)}\n${rec(2)}\n`);
    const store = `sqlite:${join(dir, 'events.db')}`;
    const cloud = ['--cloud', `simulated:${fleetFile}`];
    const first = json<Report>(await optex(['run', input, '--store', store, ...cloud, '--policy', 'test/fixtures/policy-auto.json', '--json']));
    const [a, b] = [byRec(first, 'op-delete-1'), byRec(first, 'op-delete-2')];
    expect([a.status, b.status]).toEqual(['rollback-failed', 'rollback-failed']);
    expect(a.error).toMatch(/rollback failed: UnauthorizedOperation/);

    const refused = await optex(['retry-rollback', a.optimizationId, '--by', 'oncall', '--reason', '', '--store', store]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--reason/);

    const retried = await optex(['retry-rollback', a.optimizationId, '--by', 'oncall', '--reason', 'permission fixed', '--store', store, '--json']);
    expect(retried.code).toBe(0);
    expect(json(retried)).toMatchObject({ optimizationId: a.optimizationId, status: 'rolling-back', by: 'oncall', reason: 'permission fixed' });
    const resolved = await optex(['resolve', b.optimizationId, '--by', 'oncall', '--note', 'deleted snap by hand', '--store', store]);
    expect(resolved.code).toBe(0);
    expect(resolved.stdout).toContain(`${b.optimizationId}: resolved.`);

    const after = json<Report>(await optex(['resume', '--store', store, ...cloud, '--json']));
    expect(byRec(after, 'op-delete-1').status).toBe('rolled-back');
    expect(byRec(after, 'op-delete-2').status).toBe('resolved');
    expect(after.summary.byStatus).toMatchObject({ 'rolled-back': 1, resolved: 1 });
    expect(after.summary).toMatchObject({ failedExecutions: 2, rollbacks: 2 });
    const state = json<FleetView>(await optex(['fleet', '--store', store, ...cloud, '--json']));
    expect(state.calls.filter((c) => c.operation === 'deleteSnapshot').map((c) => c.result)).toEqual(['UnauthorizedOperation', 'UnauthorizedOperation', 'ok']);

    const history = json<{ events: { type: string; data: Record<string, unknown> }[] }>(await optex(['history', a.optimizationId, '--store', store, '--json']));
    const types = history.events.map((e) => e.type);
    expect(types.slice(types.indexOf('RollbackFailed'))).toEqual(['RollbackFailed', 'RollbackRetried', 'RollbackStepStarted', 'RollbackStepCompleted', 'RollbackCompleted']);
    expect(history.events.find((e) => e.type === 'RollbackRetried')?.data).toMatchObject({ by: 'oncall', reason: 'permission fixed' });
    const again = await optex(['resolve', b.optimizationId, '--by', 'oncall', '--note', 'twice', '--store', store]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/resolved, expected rollback-failed, reconciliation-needed/);
  });
});

describe('a resource held by another optimization', () => {
  // vol-…2's delete is refused once and so is its rollback's DeleteSnapshot: the delete ends rollback-failed and holds the volume.
  const fleet = {
    volumes: [{ id: 'vol-0hd0000000000002', accountId: '123456789012', region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' }],
    faults: [
      { resourceId: 'vol-0hd0000000000002', operation: 'DeleteVolume', error: 'UnauthorizedOperation', times: 1 },
      { resourceId: '*', operation: 'DeleteSnapshot', error: 'UnauthorizedOperation', times: 1 },
    ],
  };
  const rec = (id: string, action: Record<string, unknown>) =>
    JSON.stringify({ recommendationId: id, source: 'e2e', accountId: '123456789012', region: 'us-east-1', resource: { type: 'ec2:volume', id: 'vol-0hd0000000000002' }, action, estimatedMonthlySavings: 2, currency: 'USD' });

  it('an approved optimization whose resource a rollback-failed one holds says so (run, resume, show) and runs once that one is resolved', async () => {
    const dir = tempDir('held');
    const fleetFile = join(dir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(fleet));
    const store = `sqlite:${join(dir, 'events.db')}`;
    const common = ['--store', store, '--cloud', `simulated:${fleetFile}`, '--policy', 'test/fixtures/policy-auto.json'];
    const first = json<Report>(await optex(['run', '-', ...common, '--json'], { input: rec('held-delete', { type: 'delete-volume' }) }));
    const holder = byRec(first, 'held-delete');
    expect(holder.status).toBe('rollback-failed');

    const second = await optex(['run', '-', ...common, '--json'], { input: rec('held-gp3', { type: 'modify-volume', targetVolumeType: 'gp3' }) });
    expect(second.code).toBe(0);
    const waiting = byRec(json<Report>(second), 'held-gp3');
    expect(waiting.status).toBe('approved');
    const why = `ec2:volume vol-0hd0000000000002 is held by optimization ${holder.optimizationId} (rollback-failed): an operator retries its rollback (optex retry-rollback) or resolves it (optex resolve)`;
    expect((json<Report>(second) as Report & { waitingOnResource?: unknown }).waitingOnResource).toEqual([
      { optimizationId: waiting.optimizationId, resourceId: 'vol-0hd0000000000002', heldBy: { optimizationId: holder.optimizationId, status: 'rollback-failed' }, reason: why },
    ]);
    const resumed = await optex(['resume', ...common]);
    expect(resumed.stdout).toContain(`1 approved, waiting for a resource another optimization holds:\n  ${waiting.optimizationId}: ${why}\nOnce it is released, run optex resume.`);
    const show = await optex(['show', 'held-gp3', '--store', store]);
    expect(show.stdout).toContain(`  waiting         resource-held: ${why}`);
    expect(json<{ waiting: unknown }>(await optex(['show', 'held-delete', '--store', store, '--json'])).waiting).toBeNull();

    expect((await optex(['resolve', holder.optimizationId, '--by', 'oncall', '--note', 'snapshot deleted by hand', '--store', store])).code).toBe(0);
    const after = await optex(['resume', ...common, '--json']);
    expect(byRec(json<Report>(after), 'held-gp3').status).toBe('completed');
    expect(json<Report & { waitingOnResource?: unknown }>(after).waitingOnResource).toBeUndefined();
  });
});

describe('approver roster', () => {
  it('only someone holding the requested authority approves, identities compared whatever the case, recorded as the roster id', async () => {
    const dir = tempDir('roster');
    const store = `sqlite:${join(dir, 'events.db')}`;
    const first = json<Report>(await optex(['run', FIXTURE, '--store', store, '--cloud', `simulated:${FLEET}`, '--policy', 'test/fixtures/policy-roster.json', '--json']));
    const id = byRec(first, 'e2e-rightsize-ok').optimizationId; // MEDIUM: team-lead

    const stranger = await optex(['approve', id, '--by', 'mallory', '--store', store]);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/mallory may not decide .* needs the team-lead authority and the roster names alice@acme\.example$/m);
    const board = await optex(['deny', id, '--by', 'carol', '--reason', 'no', '--store', store]);
    expect(board.code).toBe(1); // change-board, but the policy says only the requested authority decides

    const approved = await optex(['approve', id, '--by', 'ALICE', '--store', store, '--json']);
    expect(approved.code).toBe(0);
    expect(json(approved)).toMatchObject({ optimizationId: id, status: 'approved', approvers: ['alice@acme.example'] });
    const history = json<{ events: { type: string; data: Record<string, unknown> }[] }>(await optex(['history', id, '--store', store, '--json']));
    expect(history.events.find((e) => e.type === 'ApprovalRequested')?.data).toMatchObject({ authority: 'team-lead', eligibleApprovers: [{ id: 'alice@acme.example', aliases: ['alice'] }] });
    expect(history.events.find((e) => e.type === 'ApprovalGranted')?.data).toMatchObject({ by: 'alice@acme.example' });
  });

  it('someone taken off the roster after approval was asked may no longer decide: approve and deny judge by the remembered policy as it is now too', async () => {
    const dir = tempDir('roster-now');
    const store = `sqlite:${join(dir, 'events.db')}`;
    const policy = join(dir, 'policy.json');
    const roster = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/policy-roster.json'), 'utf8')) as { approval: { roster: { id: string }[] } };
    const withBob = { ...roster, approval: { ...roster.approval, roster: [...roster.approval.roster, { id: 'bob@acme.example', aliases: ['bob'], authorities: ['team-lead'] }] } };
    writeFileSync(policy, JSON.stringify(withBob));
    const first = json<Report>(await optex(['run', FIXTURE, '--store', store, '--cloud', `simulated:${FLEET}`, '--policy', policy, '--json']));
    const id = byRec(first, 'e2e-rightsize-ok').optimizationId; // MEDIUM: team-lead, asked of alice and bob
    writeFileSync(policy, JSON.stringify(roster)); // bob leaves

    for (const args of [['approve', id, '--by', 'bob'], ['deny', id, '--by', 'bob', '--reason', 'no']]) {
      const refused = await optex([...args, '--store', store]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/bob may not decide .* needs the team-lead authority and the roster in force names alice@acme\.example$/m);
    }
    const approved = await optex(['approve', id, '--by', 'alice', '--store', store, '--json']);
    expect(json(approved)).toMatchObject({ optimizationId: id, status: 'approved', approvers: ['alice@acme.example'] });
  });

  it('a policy file with a bad roster entry exits 2 naming its path', async () => {
    const dir = tempDir('roster-bad');
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ approval: { roster: [{ id: 'alice', authorities: ['boss'] }] } }));
    const result = await optex(['run', FIXTURE, '--store', 'memory:', '--policy', policy]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('approval.roster.0.authorities.0');
  });
});

describe('progress on stderr', () => {
  it('prints no progress line into a pipe, however long the run (the TTY decision itself: apps/optex/src/cli/progress.spec.ts)', async () => {
    const store = `sqlite:${join(tempDir('progress'), 'events.db')}`;
    const delayMs = 250;
    const result = await optex(['run', FIXTURE, '--store', store, '--cloud', `simulated:${FLEET}`, '--policy', 'test/fixtures/policy-auto.json', '--batch-mode', 'sequential'], {
      env: { OPTEX_EC2_CALL_DELAY_MS: String(delayMs) },
    });
    expect(result.code).toBe(0);
    // Every EC2 call waited `delayMs` first: the run lasted longer than the second after which a terminal gets progress.
    const fleet = json<FleetView>(await optex(['fleet', '--store', store, '--cloud', `simulated:${FLEET}`, '--json']));
    expect(fleet.calls.length * delayMs).toBeGreaterThan(2000);
    expect(result.stderr).not.toMatch(/settled after/);
    expect(result.stderr).not.toContain('\x1b');
    expect(result.stdout).toMatch(/^Received 9 recommendations/m);
  });
});
