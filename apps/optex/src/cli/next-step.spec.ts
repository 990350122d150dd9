import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventStore } from '@optex/event-store';
import { silentLogger } from '@optex/ports';
import { startEsdbEmulator, type EsdbEmulator } from '@optex/testing';
import { main } from './program';

// What a command says carries its work on must fit the store: on a SQLite store, `optex resume`; on EventStoreDB
// (esdb://, the store the five services drive) the services do, and `optex resume` there would start a second engine —
// with the simulated cloud unless given --cloud — beside them (it failed a real optimization once).

const ROOT = join(__dirname, '..', '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'optex-next-step-'));
let emulator: EsdbEmulator;
beforeAll(async () => {
  emulator = await startEsdbEmulator();
});
afterAll(async () => {
  await emulator.stop();
  rmSync(dir, { recursive: true, force: true });
});

const AT = '2026-12-02T10:00:00.000Z';
const recommendation = (n: number) => ({ recommendationId: `rec-${n}`, source: 'spec', accountId: '123456789012', region: 'eu-west-1', resource: { type: 'ec2:volume', id: `vol-${n}` }, action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 2, currency: 'USD' });
const idOf = (n: number) => `8a0c6c2e-6c1f-5f39-9d0e-${String(n).padStart(12, '0')}`;
let seq = 0;
const eventId = () => `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;

/** An optimization awaiting one approval, and a batch halted by its limit, appended to `url`. */
async function seed(url: string, n: number): Promise<{ optimizationId: string; batchId: string }> {
  const store = await createEventStore(url);
  const optimizationId = idOf(n);
  const batchId = `batch-spec-${n}`;
  try {
    for (const [type, data] of [
      ['OptimizationReceived', { recommendation: recommendation(n), dryRun: false, deliveryId: 'd' }],
      ['RiskAssessed', { baseLevel: 'MEDIUM', level: 'MEDIUM', factors: [], policyVersion: 'default-v1' }],
      ['ApprovalRequested', { authority: 'finops-manager', requiredApprovals: 1, expiresAt: '2099-12-09T10:00:00.000Z' }],
    ] as const) {
      await store.appendToStream(`optimization-${optimizationId}`, [{ id: eventId(), type, data: { optimizationId, at: AT, ...data }, metadata: { schemaVersion: 1, recordedBy: 'spec' } }], 'any');
    }
    for (const [type, data] of [
      ['BatchPlanned', { mode: 'parallel', maxParallel: 4, notBefore: AT, optimizationIds: [optimizationId] }],
      ['BatchHalted', { rule: 'batch-limit', reason: 'limit of 1 reached', dispatched: 1, errors: 0 }],
    ] as const) {
      await store.appendToStream(`batch-${batchId}`, [{ id: eventId(), type, data: { batchId, at: AT, ...data }, metadata: { schemaVersion: 1, recordedBy: 'spec' } }], 'any');
    }
  } finally {
    await store.close();
  }
  return { optimizationId, batchId };
}

async function optex(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s), logger: silentLogger });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const SERVICES = /The services running on this store .*: no resume is needed \(optex resume --store … is only for a store no services run on\)\.$/;

describe('approve, deny, resume-execution, continue-batch: the next step fits the store', () => {
  it('on an esdb:// store: the services pick it up; never "Run optex resume"', async () => {
    const store = emulator.url;
    const a = await seed(store, 1);
    const b = await seed(store, 2);

    const approved = await optex(['approve', a.optimizationId, '--by', 'alice', '--store', store]);
    expect(approved.code).toBe(0);
    expect(approved.stdout).toBe(`${a.optimizationId}: approved. The services running on this store pick it up: no resume is needed (optex resume --store … is only for a store no services run on).`);

    const denied = await optex(['deny', b.optimizationId, '--by', 'bob', '--reason', 'still in use', '--store', store]);
    expect(denied.code).toBe(0);
    expect(denied.stdout).toMatch(SERVICES);

    expect((await optex(['pause', '--by', 'oncall', '--reason', 'incident', '--store', store])).code).toBe(0);
    const lifted = await optex(['resume-execution', '--by', 'oncall', '--reason', 'over', '--store', store]);
    expect(lifted.code).toBe(0);
    expect(lifted.stdout).toMatch(/^Execution is running\. The services running on this store continue what waited: no resume is needed/);

    const continued = await optex(['continue-batch', a.batchId, '--by', 'oncall', '--reason', 'checked', '--store', store]);
    expect(continued.code).toBe(0);
    expect(continued.stdout).toMatch(SERVICES);

    for (const out of [approved, denied, lifted, continued]) expect(out.stdout).not.toMatch(/Run optex resume/);
  });

  it('on a sqlite: store: Run optex resume, as before', async () => {
    const store = `sqlite:${join(dir, 'events.db')}`;
    const a = await seed(store, 3);
    const approved = await optex(['approve', a.optimizationId, '--by', 'alice', '--store', store]);
    expect(approved.stdout).toBe(`${a.optimizationId}: approved. Run optex resume to continue processing.`);
    expect((await optex(['pause', '--by', 'oncall', '--reason', 'incident', '--store', store])).code).toBe(0);
    expect((await optex(['resume-execution', '--by', 'oncall', '--reason', 'over', '--store', store])).stdout).toBe('Execution is running. Run optex resume to continue what waited.');
    expect((await optex(['continue-batch', a.batchId, '--by', 'oncall', '--reason', 'checked', '--store', store])).stdout).toMatch(/\)\. Run optex resume to dispatch what waited\.$/);
    const typo = await optex(['continue-batch', `${a.batchId}x`, '--by', 'oncall', '--reason', 'checked', '--store', store]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toBe(`optex continue-batch: no such batch "${a.batchId}x": none of that id was planned on this store`);
  });
});

describe('retry-rollback, and the hints of the run report: the next step fits the store', () => {
  // A delete-volume whose DeleteVolume is refused: its rollback (deleting the backup snapshot) is refused too.
  const fleet = {
    volumes: [{ id: 'vol-0op0000000000001', accountId: '123456789012', region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' }],
    faults: [
      { resourceId: 'vol-0op0000000000001', operation: 'DeleteVolume', error: 'UnauthorizedOperation', times: 1 },
      { resourceId: '*', operation: 'DeleteSnapshot', error: 'UnauthorizedOperation', times: 1 },
    ],
  };
  const failing = JSON.stringify({ recommendationId: 'op-delete-1', source: 'spec', accountId: '123456789012', region: 'us-east-1', resource: { type: 'ec2:volume', id: 'vol-0op0000000000001' }, action: { type: 'delete-volume' }, estimatedMonthlySavings: 10, currency: 'USD' });
  let fleetFile: string;
  let input: string;
  beforeAll(() => {
    fleetFile = join(dir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(fleet));
    input = join(dir, 'recs.ndjson');
    writeFileSync(input, `${failing}\n`);
  });

  async function rollbackFailed(store: string): Promise<string> {
    const run = await optex(['run', input, '--store', store, '--cloud', `simulated:${fleetFile}`, '--policy', join(ROOT, 'test/fixtures/policy-auto.json'), '--json']);
    expect(run.code).toBe(0);
    const optimization = (JSON.parse(run.stdout) as { optimizations: { optimizationId: string; status: string }[] }).optimizations[0]!;
    expect(optimization.status).toBe('rollback-failed');
    return optimization.optimizationId;
  }

  it('on an esdb:// store: the services carry the rollback on', async () => {
    const store = `${emulator.url}`;
    const id = await rollbackFailed(store);
    const retried = await optex(['retry-rollback', id, '--by', 'oncall', '--reason', 'permission fixed', '--store', store]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toBe(`${id}: rolling-back. The services running on this store carry the rollback on: no resume is needed (optex resume --store … is only for a store no services run on).`);
  });

  it('on a sqlite: store: Run optex resume to carry the rollback on, as before', async () => {
    const store = `sqlite:${join(dir, 'rollback.db')}`;
    const id = await rollbackFailed(store);
    const retried = await optex(['retry-rollback', id, '--by', 'oncall', '--reason', 'permission fixed', '--store', store]);
    expect(retried.stdout).toBe(`${id}: rolling-back. Run optex resume to carry the rollback on.`);
  });

  it('the report of a run on an esdb:// store says the services carry waiting approvals on', async () => {
    const awaiting = join(dir, 'awaiting.ndjson');
    writeFileSync(awaiting, `${failing.replace('op-delete-1', 'op-delete-approve')}\n`);
    const run = await optex(['run', awaiting, '--store', emulator.url, '--cloud', `simulated:${fleetFile}`, '--policy', join(ROOT, 'examples/policy.json')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('1 awaiting approval: optex approve <OPTIMIZATION-ID> --by NAME, and the services running on this store carry it on (optex resume --store … is only for a store no services run on).');
    expect(run.stdout).not.toMatch(/then optex resume/);
  });
});
