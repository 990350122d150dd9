import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
    statePath = join(dir, 'store', 'events.db.fleet.json');
    fleetText = JSON.stringify(fixtureFleet({ faults: [{ resourceId: 'i-stopped', operation: 'startInstance', error: 'RequestLimitExceeded', times: 2 }] }), null, 2);
    writeFileSync(fleetFile, fleetText);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lives in memory without a state path: a second open starts from the file again', async () => {
    const first = await SimulatedFleet.open({ fleetFile });
    await first.stopInstance(ref('i-running'));
    const second = await SimulatedFleet.open({ fleetFile });
    await expect(second.describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'running' });
    expect(readFileSync(fleetFile, 'utf8')).toBe(fleetText);
    expect(readdirSync(dir)).toEqual(['fleet.json']);
  });

  it('copies the fleet into the state file on first open, creating its directory', async () => {
    await SimulatedFleet.open({ fleetFile, statePath });
    const state = JSON.parse(readFileSync(statePath, 'utf8'));
    expect(state.instances).toEqual(JSON.parse(fleetText).instances);
    expect(state.simulator).toMatchObject({ version: 1, counters: { snapshot: 0, volume: 0, address: 0, reservedInstances: 0, listing: 0 } });
  });

  it('writes every change to the state file before the call resolves, and later opens see it', async () => {
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    await sim.stopInstance(ref('i-running'));
    expect(JSON.parse(readFileSync(statePath, 'utf8')).instances[0]).toMatchObject({ id: 'i-running', state: 'stopped' });
    const { snapshotId } = await sim.createSnapshot(ref('vol-gp2-500'), { description: 'd', tags: { k: 'v' } });

    const reopened = await SimulatedFleet.open({ fleetFile, statePath });
    await expect(reopened.describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'stopped' });
    await expect(reopened.describeSnapshot(ref(snapshotId))).resolves.toMatchObject({ tags: { k: 'v' } });
    await expect(reopened.createSnapshot(ref('vol-io1'), { description: 'd', tags: {} })).resolves.toEqual({ snapshotId: 'snap-sim-2' });
    expect(reopened.snapshot()).toEqual(JSON.parse(readFileSync(statePath, 'utf8')));
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

  it('leaves no temporary files behind', async () => {
    const sim = await SimulatedFleet.open({ fleetFile, statePath });
    await sim.stopInstance(ref('i-running'));
    await sim.startInstance(ref('i-running'));
    expect(readdirSync(join(dir, 'store'))).toEqual(['events.db.fleet.json']);
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
    await SimulatedFleet.open({ fleetFile, statePath });
    const state = JSON.parse(readFileSync(statePath, 'utf8'));
    state.instances[1].state = 'sleeping';
    writeFileSync(statePath, JSON.stringify(state));
    await expect(SimulatedFleet.open({ fleetFile, statePath })).rejects.toThrow(new RegExp(`events\\.db\\.fleet\\.json: instances\\[1\\]\\.state: `));
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
    expect(stateFileFor('sqlite:.optex/events.db')).toBe('.optex/events.db.fleet.json');
    expect(stateFileFor('sqlite:/var/lib/optex/x.db')).toBe('/var/lib/optex/x.db.fleet.json');
    expect(stateFileFor('sqlite::memory:')).toBeUndefined();
    expect(stateFileFor('memory:')).toBeUndefined();
    expect(stateFileFor('esdb://localhost:2113?tls=false')).toBeUndefined();
  });
});
