import { SimulatedFleet } from './simulated-fleet';
import { FleetFileError } from './fleet-schema';
import { ACCOUNT, OTHER_ACCOUNT, fixtureFleet, ref } from './fleet.fixture';

const ec2 = (awsCode: string) => expect.objectContaining({ name: 'Ec2Error', awsCode });

describe('SimulatedFleet credentials account', () => {
  it('reports the account the fleet file declares, as STS GetCallerIdentity would', async () => {
    await expect(SimulatedFleet.fromFleet(fixtureFleet({ accountId: ACCOUNT })).credentialsAccountId()).resolves.toBe(ACCOUNT);
  });

  it('reports nothing when the file declares no account (files written before the field: no check is made)', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet());
    await expect(sim.credentialsAccountId()).resolves.toBeUndefined();
    await expect(sim.describeInstance(ref('i-other-account', OTHER_ACCOUNT))).resolves.toMatchObject({ id: 'i-other-account' });
  });

  it('refuses a call for another account with AccountMismatch before answering it (nothing in the call log)', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet({ accountId: ACCOUNT }));
    await expect(sim.describeInstance(ref('i-other-account', OTHER_ACCOUNT))).rejects.toEqual(ec2('AccountMismatch'));
    await expect(sim.stopInstance(ref('i-other-account', OTHER_ACCOUNT))).rejects.toEqual(ec2('AccountMismatch'));
    await expect(sim.findVolumeByClientToken({ accountId: OTHER_ACCOUNT, region: 'us-east-1' }, 't-1')).rejects.toEqual(ec2('AccountMismatch'));
    expect(sim.calls()).toEqual([]);
    await expect(sim.describeInstance(ref('i-running'))).resolves.toMatchObject({ id: 'i-running' });
    expect(sim.calls().map((c) => c.operation)).toEqual(['describeInstance']);
  });

  it('names a declared account that is not 12 digits', () => {
    expect(() => SimulatedFleet.fromFleet(fixtureFleet({ accountId: '42' }), { name: 'fleet.json' })).toThrow(FleetFileError);
    expect(() => SimulatedFleet.fromFleet(fixtureFleet({ accountId: '42' }), { name: 'fleet.json' })).toThrow(/fleet\.json: accountId: expected a 12-digit AWS account id/);
  });

  it('describes an address with its tags (the opt-out tag is read from them)', async () => {
    const sim = SimulatedFleet.fromFleet({ addresses: [{ allocationId: 'eipalloc-1', accountId: ACCOUNT, region: 'us-east-1', publicIp: '203.0.113.9', tags: { 'optex:skip': 'true' } }] });
    await expect(sim.describeAddress(ref('eipalloc-1'))).resolves.toEqual({ allocationId: 'eipalloc-1', publicIp: '203.0.113.9', tags: { 'optex:skip': 'true' } });
  });
});
