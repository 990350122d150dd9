import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ensureBuilt, json, optex, tempDir } from './support/cli';

jest.setTimeout(120_000);

// Backup snapshots follow the policy's retention: a delete-volume's backup is listed by `optex backups`, expired by
// `optex backups expire` once older than backups.retentionDays (judged at OPTEX_NOW, set relative to the real clock so
// the test passes on any date), recorded in the optimization's stream, and the optimization is then not reversible.

interface Backup {
  optimizationId: string;
  volumeId: string;
  snapshotId: string;
  createdAt: string;
  expiresAt: string | null;
  status: string;
  reason: string;
}
interface Expired {
  optimizationId: string;
  volumeId: string;
  snapshotId: string;
  outcome?: string;
  error?: { code: string; message: string };
}
interface FleetView {
  volumes: { id: string }[];
  snapshots: { id: string; volumeId?: string; tags?: Record<string, string> }[];
  calls: { operation: string; resource: string; dryRun: boolean; result: string }[];
}

const ACCOUNT = '123456789012';
const volume = (id: string, tags: Record<string, string> = {}) => ({ id, accountId: ACCOUNT, region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available', tags });
const deletion = (id: string, volumeId: string) => ({
  recommendationId: id,
  source: 'e2e',
  accountId: ACCOUNT,
  region: 'us-east-1',
  resource: { type: 'ec2:volume', id: volumeId },
  action: { type: 'delete-volume', snapshotFirst: true },
  estimatedMonthlySavings: 10,
  currency: 'USD',
});
const inDays = (days: number) => new Date(Date.now() + days * 24 * 3600 * 1000).toISOString();

beforeAll(() => ensureBuilt());

describe('optex backups: backup snapshots follow the retention setting', () => {
  const dir = tempDir('backups');
  const storePath = join(dir, 'events.db');
  const store = `sqlite:${storePath}`;
  const fleetFile = join(dir, 'fleet.json');
  const policyFile = join(dir, 'policy.json');
  const recsFile = join(dir, 'recs.json');
  writeFileSync(fleetFile, JSON.stringify({ accountId: ACCOUNT, volumes: [volume('vol-0bak000000000001', { team: 'data' }), volume('vol-0bak000000000002')] }));
  // HIGH (a deletion) approved automatically so the run completes both; backups kept a week.
  writeFileSync(policyFile, JSON.stringify({ approval: { autoApprove: { maxLevel: 'HIGH', maxMonthlySavings: 100 } }, backups: { retentionDays: 7 } }));
  writeFileSync(recsFile, JSON.stringify([deletion('bak-1', 'vol-0bak000000000001'), deletion('bak-2', 'vol-0bak000000000002')]));
  const backupsOf = async (env: NodeJS.ProcessEnv = {}) => json<{ retentionDays: number; backups: Backup[] }>(await optex(['backups', '--store', store, '--json'], { env }));
  const fleet = async () => json<FleetView>(await optex(['fleet', '--store', store, '--json']));
  let byVolume: Record<string, Backup>;

  it('refuses a store that does not exist, as the other read commands do', async () => {
    const result = await optex(['backups', '--store', `sqlite:${join(dir, 'nothing.db')}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/does not exist/);
  });

  it('lists the backup each delete-volume took, kept for the retention of the policy remembered with the store', async () => {
    const run = await optex(['run', recsFile, '--store', store, '--cloud', `simulated:${fleetFile}`, '--policy', policyFile, '--json']);
    expect(run.code).toBe(0);
    expect(json<{ optimizations: { status: string }[] }>(run).optimizations.map((o) => o.status)).toEqual(['completed', 'completed']);
    const listed = await backupsOf();
    expect(listed.retentionDays).toBe(7);
    expect(listed.backups).toHaveLength(2);
    byVolume = Object.fromEntries(listed.backups.map((b) => [b.volumeId, b]));
    for (const b of listed.backups) {
      expect(b.status).toBe('kept');
      expect(Date.parse(b.expiresAt!) - Date.parse(b.createdAt)).toBe(7 * 24 * 3600 * 1000);
    }
    const snapshots = (await fleet()).snapshots;
    expect(snapshots.map((s) => s.id).sort()).toEqual(listed.backups.map((b) => b.snapshotId).sort());

    const text = await optex(['backups', '--store', store]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/OPTIMIZATION +VOLUME +SNAPSHOT +CREATED +EXPIRES +STATUS/);
    expect(text.stdout).toMatch(/2 backup snapshot\(s\), retention 7 day\(s\); 0 due\./);
  });

  it('expires nothing within the retention', async () => {
    const result = await optex(['backups', 'expire', '--store', store]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/No backup snapshot is due \(retention 7 day\(s\)\)/);
    expect((await fleet()).snapshots).toHaveLength(2);
  });

  it('past the retention: a dry run says what it would do and changes nothing', async () => {
    // Someone registered an image from the second backup: EC2 refuses to delete a snapshot an image uses.
    const fleetDb = new Database(`${storePath}.fleet.db`);
    try {
      const row = fleetDb.prepare('SELECT kind, account, region, id, body FROM fleet_resources WHERE id = ?').get(byVolume['vol-0bak000000000002']!.snapshotId) as { kind: string; account: string; region: string; id: string; body: string };
      fleetDb.prepare('UPDATE fleet_resources SET body = ? WHERE kind = ? AND account = ? AND region = ? AND id = ?').run(JSON.stringify({ ...JSON.parse(row.body), usedByImage: 'ami-0bak00000000001' }), row.kind, row.account, row.region, row.id);
    } finally {
      fleetDb.close();
    }
    const env = { OPTEX_NOW: inDays(8) };
    expect((await backupsOf(env)).backups.map((b) => b.status)).toEqual(['due', 'due']);
    const dry = await optex(['backups', 'expire', '--dry-run', '--store', store, '--json'], { env });
    expect(dry.code).toBe(0);
    const outcomes = Object.fromEntries(json<{ dryRun: boolean; expired: Expired[] }>(dry).expired.map((e) => [e.volumeId, e.outcome]));
    expect(outcomes).toEqual({ 'vol-0bak000000000001': 'deleted', 'vol-0bak000000000002': 'refused' });
    expect((await fleet()).snapshots).toHaveLength(2);
    expect((await backupsOf(env)).backups.map((b) => b.status)).toEqual(['due', 'due']);
  });

  it('past the retention: deletes the due backup, records the expiry, reports the one an image uses and leaves it', async () => {
    const env = { OPTEX_NOW: inDays(8) };
    // The order `expire` takes the due backups in: the listing's (created, then optimization id). The two snapshots
    // were taken by executions running side by side, so which comes first is the run's, not the test's.
    const order = (await backupsOf(env)).backups.map((b) => b.snapshotId);
    const result = await optex(['backups', 'expire', '--store', store], { env });
    expect(result.code).toBe(0);
    const first = byVolume['vol-0bak000000000001']!;
    const second = byVolume['vol-0bak000000000002']!;
    expect(result.stdout).toMatch(/Expired 1 of 2 due backup snapshot\(s\), 1 refused by EC2 and left as it is, retention 7 day\(s\):/);
    expect(result.stdout).toContain(`${first.snapshotId} of vol-0bak000000000001`);
    expect(result.stdout).toMatch(/refused by EC2, left as it is and not tried again: InvalidSnapshot\.InUse/);

    const after = await fleet();
    expect(after.snapshots.map((s) => s.id)).toEqual([second.snapshotId]);
    const resultOf: Record<string, string> = { [first.snapshotId]: 'ok', [second.snapshotId]: 'InvalidSnapshot.InUse' };
    expect([...order].sort()).toEqual([first.snapshotId, second.snapshotId].sort());
    expect(after.calls.filter((c) => c.operation === 'deleteSnapshot' && !c.dryRun).map((c) => [c.resource, c.result])).toEqual(order.map((id) => [id, resultOf[id]]));

    const history = json<{ events: { type: string; data: Record<string, unknown> }[] }>(await optex(['history', first.optimizationId, '--store', store, '--json']));
    expect(history.events.at(-1)).toMatchObject({ type: 'BackupSnapshotExpired', data: { snapshotId: first.snapshotId, volumeId: 'vol-0bak000000000001', retentionDays: 7, outcome: 'deleted' } });
    const refused = json<{ events: { type: string; data: Record<string, unknown> }[] }>(await optex(['history', second.optimizationId, '--store', store, '--json']));
    expect(refused.events.at(-1)).toMatchObject({ type: 'BackupSnapshotExpired', data: { outcome: 'refused', error: { code: 'InvalidSnapshot.InUse' } } });

    const listed = await backupsOf(env);
    expect(listed.backups.map((b) => b.snapshotId)).toEqual(order); // listed in the same order as before
    expect(Object.fromEntries(listed.backups.map((b) => [b.volumeId, b.status]))).toEqual({ 'vol-0bak000000000001': 'deleted', 'vol-0bak000000000002': 'refused' });
  });

  it('a refused backup is not tried again, and the expired optimizations are no longer reversible', async () => {
    const again = await optex(['backups', 'expire', '--store', store], { env: { OPTEX_NOW: inDays(30) } });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/No backup snapshot is due/);
    expect((await fleet()).calls.filter((c) => c.operation === 'deleteSnapshot' && !c.dryRun)).toHaveLength(2);

    const list = json<{ optimizations: { volumeId?: string; reversible: string }[] }>(await optex(['list', '--store', store, '--json']));
    expect(list.optimizations.map((o) => o.reversible)).toEqual(['no', 'no']);
    const first = byVolume['vol-0bak000000000001']!;
    const show = await optex(['show', first.optimizationId, '--store', store]);
    expect(show.stdout).toMatch(/Backup: .* expired .* after 7 day\(s\): deleted\. Not reversible any more\./);
    expect(show.stdout).toMatch(/^ {2}reversible: yes when approved; now no \(its backup snapshot expired\)$/m);
    expect(json<{ reversible: string; plan: { reversible: string } }>(await optex(['show', first.optimizationId, '--store', store, '--json']))).toMatchObject({ reversible: 'no', plan: { reversible: 'yes' } });
    // The refused one still exists: show does not say the volume cannot be restored.
    const kept = await optex(['show', byVolume['vol-0bak000000000002']!.optimizationId, '--store', store]);
    expect(kept.stdout).toMatch(/Backup: .*; due .* after 7 day\(s\), its deletion refused by EC2 \(InvalidSnapshot\.InUse: .*\), left as it is: left to people, optex no longer rolls back with it \(the snapshot still exists: a person may restore the volume from it\)\./);
    expect(kept.stdout).not.toMatch(/Not reversible any more/);
    const text = await optex(['history', first.optimizationId, '--store', store, '--wide']);
    expect(text.stdout).toMatch(/BackupSnapshotExpired .* after 7 day\(s\): deleted; no longer reversible/);
    // No operator action rolls a completed deletion back (a failed stage gate would, and is refused: the domain's spec).
    const retry = await optex(['retry-rollback', first.optimizationId, '--by', 'oncall', '--reason', 'bring it back', '--store', store]);
    expect(retry.code).toBe(1);
  });
});
