import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FleetFileError } from './fleet-schema';
import { SimulatedFleet } from './simulated-fleet';
import { stateFileFor } from './state-store';
import { fixtureFleet, ref } from './fleet.fixture';

const ec2 = (awsCode: string) => expect.objectContaining({ name: 'Ec2Error', awsCode });

describe('SimulatedFleet persistence', () => {
  let dir: string;
  let fleetFile: string;
  let statePath: string;
  let fleetText: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'optex-fleet-'));
    fleetFile = join(dir, 'fleet.json');
    statePath = join(dir, 'store', 'events.db.fleet.db');
    fleetText = JSON.stringify(fixtureFleet({ faults: [{ resourceId: 'i-stopped', operation: 'startInstance', error: 'RequestLimitExceeded', times: 2 }] }), null, 2);
    writeFileSync(fleetFile, fleetText);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The stored rows, read from outside the fleet: `kind/id` → record. */
  function rows(): Map<string, Record<string, unknown>> {
    const db = new Database(statePath, { readonly: true });
    try {
      const all = db.prepare('SELECT kind, id, body FROM fleet_resources').all() as Array<{ kind: string; id: string; body: string }>;
      return new Map(all.map((r) => [`${r.kind}/${r.id}`, JSON.parse(r.body) as Record<string, unknown>]));
    } finally {
      db.close();
    }
  }

  it('lives in memory without a state path: a second open starts from the file again', async () => {
    const first = await SimulatedFleet.open({ fleetFile });
    await first.stopInstance(ref('i-running'));
    const second = await SimulatedFleet.open({ fleetFile });
    await expect(second.describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'running' });
    expect(readFileSync(fleetFile, 'utf8')).toBe(fleetText);
    expect(readdirSync(dir)).toEqual(['fleet.json']);
  });

  it('copies the fleet into the state database on first open (one row per resource), creating its directory', async () => {
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    const stored = rows();
    const fleet = JSON.parse(fleetText) as Record<string, Array<Record<string, unknown>>>;
    expect(stored.size).toBe(Object.values(fleet).reduce((n, list) => n + list.length, 0));
    expect(stored.get('instances/i-running')).toEqual(fleet['instances']![0]);
    expect(stored.get('faults/#0')).toEqual(fleet['faults']![0]);
    expect(sim.snapshot().simulator).toMatchObject({ version: 1, counters: { snapshot: 0, volume: 0, address: 0, reservedInstances: 0, listing: 0 } });
  });

  it('writes each change (only the rows it touched) before the call resolves, and later opens see it', async () => {
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    const before = rows();
    await sim.stopInstance(ref('i-running'));
    const after = rows();
    const changed = [...after].filter(([key, record]) => JSON.stringify(before.get(key)) !== JSON.stringify(record)).map(([key]) => key);
    expect(changed).toEqual(['instances/i-running']);
    expect(after.get('instances/i-running')).toMatchObject({ state: 'stopped' });
    const { snapshotId } = await sim.createSnapshot(ref('vol-gp2-500'), { description: 'd', tags: { k: 'v' } });
    expect(rows().get(`snapshots/${snapshotId}`)).toMatchObject({ volumeId: 'vol-gp2-500', tags: { k: 'v' } });
    await sim.deleteVolume(ref('vol-io1'));
    expect(rows().has('volumes/vol-io1')).toBe(false);

    const reopened = await SimulatedFleet.open({ fleetFile, statePath });
    await expect(reopened.describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'stopped' });
    await expect(reopened.describeSnapshot(ref(snapshotId))).resolves.toMatchObject({ tags: { k: 'v' } });
    await expect(reopened.describeVolume(ref('vol-io1'))).resolves.toBeUndefined();
    await expect(reopened.createSnapshot(ref('vol-gp2-500'), { description: 'd', tags: {} })).resolves.toEqual({ snapshotId: 'snap-sim-2' });
    expect(reopened.snapshot()).toEqual((await SimulatedFleet.open({ fleetFile, statePath })).snapshot());
  });

  it('writes nothing but the call log for a failed or dry-run call, and undoes a failed call completely', async () => {
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    const before = rows();
    await expect(sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp3' }, { dryRun: true })).rejects.toEqual(ec2('DryRunOperation'));
    await expect(sim.deleteVolume(ref('vol-gp2-2000'))).rejects.toEqual(ec2('VolumeInUse'));
    expect(rows()).toEqual(before);
    expect(sim.calls().map((c) => `${c.operation} ${c.resourceId} ${c.result}`)).toEqual(['modifyVolume vol-gp2-500 DryRunOperation', 'deleteVolume vol-gp2-2000 VolumeInUse']);
  });

  /** Transactions committed to the state file's WAL so far: its frames that end a commit (their "database size" is set). */
  function commitsInWal(): number {
    const wal = readFileSync(`${statePath}-wal`);
    const pageSize = wal.readUInt32BE(8);
    let commits = 0;
    for (let offset = 32; offset + 24 + pageSize <= wal.length; offset += 24 + pageSize) if (wal.readUInt32BE(offset + 4) !== 0) commits += 1;
    return commits;
  }

  it('answers the calls made in one turn together: one commit, in call order, each seeing the changes before it', async () => {
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    const before = commitsInWal();
    const stop = sim.stopInstance(ref('i-running'));
    const modify = sim.modifyInstanceType(ref('i-running'), 'm5.large'); // needs the stop before it
    const refused = sim.deleteVolume(ref('vol-gp2-2000')); // fails alone: the volume is attached
    const remove = sim.deleteVolume(ref('vol-io1'));
    await expect(Promise.all([stop, modify, remove])).resolves.toBeDefined();
    await expect(refused).rejects.toEqual(ec2('VolumeInUse'));
    expect(commitsInWal() - before).toBe(1);
    expect(sim.calls().map((c) => `${c.operation} ${c.resourceId} ${c.result}`)).toEqual([
      'stopInstance i-running ok',
      'modifyInstanceType i-running ok',
      'deleteVolume vol-gp2-2000 VolumeInUse',
      'deleteVolume vol-io1 ok',
    ]);
    expect(rows().get('instances/i-running')).toMatchObject({ state: 'stopped', instanceType: 'm5.large' });
    expect(rows().has('volumes/vol-io1')).toBe(false);

    await sim.startInstance(ref('i-running'));
    await sim.describeInstance(ref('i-running'));
    expect(commitsInWal() - before).toBe(3); // calls awaited one by one: a commit each
  });

  it('fails every call of a group whose commit fails, and answers the next calls from the file again', async () => {
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    const stop = sim.stopInstance(ref('i-running'));
    const remove = sim.deleteVolume(ref('vol-io1'));
    const other = new Database(statePath);
    other.exec('ALTER TABLE calls RENAME TO calls_elsewhere'); // the group's call-log inserts now fail inside its transaction
    // better-sqlite3's SqliteError may come from another test file's realm (the addon keeps the first one's class): its message, not instanceof.
    const messageOf = (failed: Promise<unknown>) => failed.then(() => 'resolved', (error: { message?: unknown }) => String(error.message));
    await expect(messageOf(stop)).resolves.toMatch(/no such table: calls/);
    await expect(messageOf(remove)).resolves.toMatch(/no such table: calls/);
    other.exec('ALTER TABLE calls_elsewhere RENAME TO calls');
    other.close();
    await expect(sim.describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'running' });
    await expect(sim.describeVolume(ref('vol-io1'))).resolves.toMatchObject({ id: 'vol-io1' });
    expect(rows().get('instances/i-running')).toMatchObject({ state: 'running' });
    expect(sim.calls().map((c) => c.operation)).toEqual(['describeInstance', 'describeVolume']);
  });

  it('answers the calls already made before it closes', async () => {
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    const stop = sim.stopInstance(ref('i-running'));
    await Promise.resolve(); // the call reaches the store (after its latency, none here)
    await Promise.resolve();
    sim.close();
    await expect(stop).resolves.toBeUndefined();
    await expect((await SimulatedFleet.open({ fleetFile, statePath })).describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'stopped' });
    await expect(sim.describeInstance(ref('i-running'))).rejects.toThrow(/closed/);
  });

  it('starts from the JSON state file an earlier optex kept beside the store (events.db.fleet.json), leaving it as it is', async () => {
    const earlier = SimulatedFleet.fromFleet(JSON.parse(fleetText));
    await earlier.stopInstance(ref('i-running'));
    const legacy = { ...earlier.snapshot(), simulator: { ...earlier.snapshot().simulator, fleetSha256: createHash('sha256').update(fleetText).digest('hex') } };
    const legacyPath = join(dir, 'store', 'events.db.fleet.json');
    mkdirSync(join(dir, 'store'));
    writeFileSync(legacyPath, JSON.stringify(legacy));
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    await expect(sim.describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'stopped' });
    expect(JSON.parse(readFileSync(legacyPath, 'utf8'))).toEqual(legacy);
    await sim.startInstance(ref('i-running'));
    await expect((await SimulatedFleet.open({ fleetFile, statePath })).describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'running' });
  });

  it('persists fault consumption across opens', async () => {
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    await expect(sim.startInstance(ref('i-stopped'))).rejects.toEqual(ec2('RequestLimitExceeded'));
    const reopened = await SimulatedFleet.open({ fleetFile, statePath });
    await expect(reopened.startInstance(ref('i-stopped'))).rejects.toEqual(ec2('RequestLimitExceeded'));
    const third = await SimulatedFleet.open({ fleetFile, statePath });
    await third.startInstance(ref('i-stopped'));
    await expect(third.describeInstance(ref('i-stopped'))).resolves.toMatchObject({ state: 'running' });
  });

  it('never rewrites the fleet file', async () => {
    const before = statSync(fleetFile);
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    await sim.stopInstance(ref('i-running'));
    await sim.deleteVolume(ref('vol-gp2-500'));
    await expect(sim.startInstance(ref('i-stopped'))).rejects.toEqual(ec2('RequestLimitExceeded'));
    expect(readFileSync(fleetFile, 'utf8')).toBe(fleetText);
    expect(statSync(fleetFile).mtimeMs).toBe(before.mtimeMs);
    await expect(SimulatedFleet.open({ fleetFile, statePath: fleetFile })).rejects.toThrow(FleetFileError);
    expect(readFileSync(fleetFile, 'utf8')).toBe(fleetText);
  });

  it('writes nothing but its SQLite file (and its WAL) beside the store', async () => {
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    await sim.stopInstance(ref('i-running'));
    await sim.startInstance(ref('i-running'));
    expect(readdirSync(join(dir, 'store')).filter((name) => !name.startsWith('events.db.fleet.db'))).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['fleet.json', 'store']);
  });

  it('sees changes another process (another fleet object) wrote to the same state file', async () => {
    const one = await SimulatedFleet.open({ fleetFile, statePath });
    const two = await SimulatedFleet.open({ fleetFile, statePath });
    await one.stopInstance(ref('i-running'));
    await expect(two.describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'stopped' });
    await two.modifyInstanceType(ref('i-running'), 'm5.large');
    await expect(one.describeInstance(ref('i-running'))).resolves.toMatchObject({ instanceType: 'm5.large', state: 'stopped' });
  });

  it('refuses a state file copied from a different fleet file, naming both', async () => {
    await SimulatedFleet.open({ fleetFile, statePath });
    writeFileSync(fleetFile, JSON.stringify(fixtureFleet({ faults: [] })));
    const error = await SimulatedFleet.open({ fleetFile, statePath }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FleetFileError);
    expect((error as Error).message).toContain(statePath);
    expect((error as Error).message).toContain(`simulator.fleetSha256: this state was copied from a different fleet file than ${fleetFile}`);
  });

  it('reports an unreadable fleet file, an invalid one and a corrupt state file with the file and the field', async () => {
    await expect(SimulatedFleet.open({ fleetFile: join(dir, 'missing.json') })).rejects.toThrow(/missing\.json: cannot read the fleet file/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ volumes: [{ id: 'v', accountId: '111122223333', region: 'us-east-1', volumeType: 'gp2', sizeGiB: '8', state: 'available' }] }));
    await expect(SimulatedFleet.open({ fleetFile: bad })).rejects.toThrow(`${bad}: volumes[0].sizeGiB: expected number, received string`);
    (await SimulatedFleet.open({ fleetFile, statePath })).close();
    const db = new Database(statePath);
    const body = JSON.parse((db.prepare("SELECT body FROM fleet_resources WHERE kind = 'instances' AND id = 'i-stopped'").get() as { body: string }).body);
    db.prepare("UPDATE fleet_resources SET body = ? WHERE kind = 'instances' AND id = 'i-stopped'").run(JSON.stringify({ ...body, state: 'sleeping' }));
    db.close();
    await expect(SimulatedFleet.open({ fleetFile, statePath })).rejects.toThrow(new RegExp(`events\\.db\\.fleet\\.db: instances\\[1\\]\\.state: `));
    const notADatabase = join(dir, 'old.fleet.json');
    writeFileSync(notADatabase, '{"instances": []}');
    await expect(SimulatedFleet.open({ fleetFile, statePath: notADatabase })).rejects.toThrow(/old\.fleet\.json: cannot open the fleet state/);
  });

  it('makes every call take latencyMs when asked', async () => {
    const sim = await SimulatedFleet.open({ fleetFile, latencyMs: 40 });
    const started = Date.now();
    await sim.describeInstance(ref('i-running'));
    await sim.stopInstance(ref('i-running'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect(() => SimulatedFleet.fromFleet({}, { latencyMs: -1 })).toThrow(RangeError);
  });
});

describe('stateFileFor', () => {
  it('puts the fleet state beside a SQLite store and nowhere for stores without a file', () => {
    expect(stateFileFor('sqlite:.optex/events.db')).toBe('.optex/events.db.fleet.db');
    expect(stateFileFor('sqlite:/var/lib/optex/x.db')).toBe('/var/lib/optex/x.db.fleet.db');
    expect(stateFileFor('sqlite::memory:')).toBeUndefined();
    expect(stateFileFor('SQLITE:.optex/events.db')).toBe('.optex/events.db.fleet.db'); // as createEventStore reads the scheme
    expect(stateFileFor('memory:')).toBeUndefined();
    expect(stateFileFor('esdb://localhost:2113?tls=false')).toBeUndefined();
  });
});
