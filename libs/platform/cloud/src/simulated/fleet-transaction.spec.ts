import { validateFleetState } from './fleet-schema';
import { FleetTransaction, LiveFleet } from './fleet-transaction';
import { ACCOUNT, REGION, fixtureFleet } from './fleet.fixture';

function live(): LiveFleet {
  const counters = { snapshot: 0, volume: 0, address: 0, reservedInstances: 0, listing: 0 };
  return new LiveFleet(validateFleetState({ ...fixtureFleet(), simulator: { version: 1, counters, reservedInstances: [], listings: [], releasedAddresses: [] } }, 'fixture'));
}

describe('FleetTransaction (what a simulated fleet call changed)', () => {
  it('reports only the records a call changed, created or removed, and the counters', () => {
    const fleet = live();
    const tx = new FleetTransaction(fleet);
    const instance = tx.state.instances.find((i) => i.id === 'i-running')!;
    instance.state = 'stopped';
    instance.tags!['touched'] = 'yes';
    tx.state.snapshots.push({ id: 'snap-new', accountId: ACCOUNT, region: REGION, sizeGiB: 1 });
    const volume = tx.state.volumes.find((v) => v.id === 'vol-io1')!;
    tx.state.volumes.splice(tx.state.volumes.indexOf(volume), 1);
    tx.state.simulator.counters.snapshot += 1;
    const changes = tx.changes();
    expect(changes.upserts.map((u) => `${u.key.kind}/${u.key.id}`).sort()).toEqual(['instances/i-running', 'snapshots/snap-new']);
    expect(changes.deletes).toEqual([{ kind: 'volumes', account: ACCOUNT, region: REGION, id: 'vol-io1' }]);
    expect([...changes.meta]).toEqual(['counters']);
    expect(fleet.lookup('snapshots', ACCOUNT, REGION, 'snap-new')).toBeDefined();
    expect(fleet.lookup('volumes', ACCOUNT, REGION, 'vol-io1')).toBeUndefined();
  });

  it('rolls every change back, indexes included, but keeps what was kept', () => {
    const fleet = live();
    const before = structuredClone(fleet.state);
    const tx = new FleetTransaction(fleet);
    tx.state.instances.find((i) => i.id === 'i-running')!.state = 'stopped';
    delete tx.state.volumes.find((v) => v.id === 'vol-gp2-500')!.tags;
    tx.state.addresses.splice(0, 1);
    tx.state.volumes.push({ id: 'vol-new', accountId: ACCOUNT, region: REGION, volumeType: 'gp3', sizeGiB: 1, state: 'available' });
    tx.state.simulator.counters.volume = 7;
    tx.rollback();
    expect(fleet.state).toEqual(before);
    expect(fleet.lookup('volumes', ACCOUNT, REGION, 'vol-new')).toBeUndefined();
    expect(fleet.lookup('addresses', ACCOUNT, REGION, 'eipalloc-free')).toBe(fleet.state.addresses[0]);
    expect(tx.changes().upserts).toEqual([]);
  });

  it('stores plain objects, never the proxies it handed out', () => {
    const fleet = live();
    const tx = new FleetTransaction(fleet);
    const source = tx.state.volumes.find((v) => v.id === 'vol-gp2-500')!;
    tx.state.volumes.push({ ...source, id: 'vol-copy', tags: source.tags });
    expect(() => structuredClone(fleet.state)).not.toThrow();
  });

  it('refuses list changes it cannot track', () => {
    const tx = new FleetTransaction(live());
    expect(() => tx.state.volumes.pop()).toThrow(/pop\(\) on the volumes list is not tracked/);
    expect(() => {
      tx.state.instances[0] = tx.state.instances[1]!;
    }).toThrow(/not tracked/);
  });
});
