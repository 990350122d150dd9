import { SimulatedFleet } from './simulated-fleet';
import { ACCOUNT, ManualClock, OTHER_ACCOUNT, OTHER_REGION, REGION, fixtureFleet, ref } from './fleet.fixture';

const ec2 = (awsCode: string) => expect.objectContaining({ name: 'Ec2Error', awsCode });

describe('SimulatedFleet addresses', () => {
  let sim: SimulatedFleet;
  beforeEach(() => {
    sim = SimulatedFleet.fromFleet(fixtureFleet());
  });

  it('describes an address by allocation id within its account and region', async () => {
    await expect(sim.describeAddress(ref('eipalloc-used'))).resolves.toEqual({ allocationId: 'eipalloc-used', publicIp: '203.0.113.11', associationId: 'eipassoc-1' });
    await expect(sim.describeAddress(ref('eipalloc-free'))).resolves.toEqual({ allocationId: 'eipalloc-free', publicIp: '203.0.113.10' });
    await expect(sim.describeAddress(ref('eipalloc-free', OTHER_ACCOUNT))).resolves.toBeUndefined();
    await expect(sim.describeAddress(ref('eipalloc-free', ACCOUNT, OTHER_REGION))).resolves.toBeUndefined();
  });

  it('refuses to release an associated address (InvalidIPAddress.InUse)', async () => {
    await expect(sim.releaseAddress(ref('eipalloc-used'))).rejects.toEqual(ec2('InvalidIPAddress.InUse'));
    await expect(sim.describeAddress(ref('eipalloc-used'))).resolves.toBeDefined();
  });

  it('releases an unassociated address; an unknown allocation fails with InvalidAllocationID.NotFound', async () => {
    await sim.releaseAddress(ref('eipalloc-free'));
    await expect(sim.describeAddress(ref('eipalloc-free'))).resolves.toBeUndefined();
    await expect(sim.releaseAddress(ref('eipalloc-free'))).rejects.toEqual(ec2('InvalidAllocationID.NotFound'));
    await expect(sim.releaseAddress(ref('eipalloc-used', OTHER_ACCOUNT))).rejects.toEqual(ec2('InvalidAllocationID.NotFound'));
  });

  it('recovers a released public IP for the account that released it, once', async () => {
    await sim.releaseAddress(ref('eipalloc-free'));
    await expect(sim.allocateAddress({ accountId: OTHER_ACCOUNT, region: REGION, publicIp: '203.0.113.10' })).rejects.toEqual(ec2('InvalidAddress.NotFound'));
    await expect(sim.allocateAddress({ accountId: ACCOUNT, region: REGION, publicIp: '203.0.113.10' })).resolves.toEqual({
      allocationId: 'eipalloc-sim-1',
      publicIp: '203.0.113.10',
    });
    await expect(sim.describeAddress(ref('eipalloc-sim-1'))).resolves.toEqual({ allocationId: 'eipalloc-sim-1', publicIp: '203.0.113.10' });
    await expect(sim.allocateAddress({ accountId: ACCOUNT, region: REGION, publicIp: '203.0.113.10' })).rejects.toEqual(ec2('InvalidAddress.NotFound'));
  });

  it('refuses an IP that is in use or was never the account\'s (InvalidAddress.NotFound)', async () => {
    await expect(sim.allocateAddress({ accountId: ACCOUNT, region: REGION, publicIp: '203.0.113.11' })).rejects.toEqual(ec2('InvalidAddress.NotFound'));
    await expect(sim.allocateAddress({ accountId: ACCOUNT, region: REGION, publicIp: '192.0.2.77' })).rejects.toEqual(ec2('InvalidAddress.NotFound'));
  });

  it('allocates fresh addresses from a documentation range when no IP is asked for', async () => {
    await expect(sim.allocateAddress({ accountId: ACCOUNT, region: REGION })).resolves.toEqual({ allocationId: 'eipalloc-sim-1', publicIp: '198.51.100.1' });
    await expect(sim.allocateAddress({ accountId: ACCOUNT, region: REGION })).resolves.toEqual({ allocationId: 'eipalloc-sim-2', publicIp: '198.51.100.2' });
  });
});

describe('SimulatedFleet Reserved Instances', () => {
  let clock: ManualClock;
  let sim: SimulatedFleet;
  beforeEach(() => {
    clock = new ManualClock();
    sim = SimulatedFleet.fromFleet(fixtureFleet(), { clock });
  });

  it('describes offerings of the ref\'s region, for any account', async () => {
    const expected = { offeringId: 'offer-m5', instanceType: 'm5.large', fixedPrice: 500, recurringHourly: 0.02, durationSeconds: 31536000 };
    await expect(sim.describeReservedInstancesOffering(ref('offer-m5'))).resolves.toEqual(expected);
    await expect(sim.describeReservedInstancesOffering(ref('offer-m5', OTHER_ACCOUNT))).resolves.toMatchObject(expected);
    await expect(sim.describeReservedInstancesOffering(ref('offer-m5', ACCOUNT, OTHER_REGION))).resolves.toBeUndefined();
  });

  it('purchases an offering and records the Reserved Instances', async () => {
    await expect(sim.purchaseReservedInstancesOffering({ accountId: ACCOUNT, region: REGION, offeringId: 'offer-m5', instanceCount: 2, limitPrice: 1000 })).resolves.toEqual({
      reservedInstancesId: 'ri-sim-1',
    });
    expect(sim.snapshot().simulator.reservedInstances).toEqual([
      {
        reservedInstancesId: 'ri-sim-1',
        accountId: ACCOUNT,
        region: REGION,
        offeringId: 'offer-m5',
        instanceType: 'm5.large',
        instanceCount: 2,
        fixedPrice: 500,
        recurringHourly: 0.02,
        durationSeconds: 31536000,
        purchasedAt: clock.now().toISOString(),
      },
    ]);
  });

  it('refuses a purchase whose upfront total exceeds the limit price (LimitPriceExceeded)', async () => {
    await expect(sim.purchaseReservedInstancesOffering({ accountId: ACCOUNT, region: REGION, offeringId: 'offer-m5', instanceCount: 3, limitPrice: 1499.99 })).rejects.toEqual(
      ec2('LimitPriceExceeded'),
    );
    expect(sim.snapshot().simulator.reservedInstances).toEqual([]);
  });

  it('refuses an unknown offering (InvalidReservedInstancesOfferingId.NotFound) or a bad count (InvalidParameterValue)', async () => {
    await expect(sim.purchaseReservedInstancesOffering({ accountId: ACCOUNT, region: REGION, offeringId: 'offer-eu', instanceCount: 1 })).rejects.toEqual(
      ec2('InvalidReservedInstancesOfferingId.NotFound'),
    );
    await expect(sim.purchaseReservedInstancesOffering({ accountId: ACCOUNT, region: REGION, offeringId: 'offer-m5', instanceCount: 0 })).rejects.toEqual(ec2('InvalidParameterValue'));
  });

  it('lists purchased Reserved Instances on the Marketplace, up to the purchased count', async () => {
    const { reservedInstancesId } = await sim.purchaseReservedInstancesOffering({ accountId: ACCOUNT, region: REGION, offeringId: 'offer-m5', instanceCount: 2 });
    const listing = { accountId: ACCOUNT, region: REGION, reservedInstancesId, instanceCount: 2, price: 900 };
    await expect(sim.createReservedInstancesListing({ ...listing, instanceCount: 3 })).rejects.toEqual(ec2('InvalidParameterValue'));
    await expect(sim.createReservedInstancesListing(listing)).resolves.toEqual({ listingId: 'listing-sim-1' });
    expect(sim.snapshot().simulator.listings).toEqual([{ listingId: 'listing-sim-1', ...listing, createdAt: clock.now().toISOString() }]);
    await expect(sim.createReservedInstancesListing({ ...listing, instanceCount: 1 })).rejects.toEqual(ec2('InvalidParameterValue'));
  });

  it('refuses to list Reserved Instances the account does not hold (InvalidReservedInstancesId.NotFound)', async () => {
    const { reservedInstancesId } = await sim.purchaseReservedInstancesOffering({ accountId: ACCOUNT, region: REGION, offeringId: 'offer-m5', instanceCount: 1 });
    await expect(sim.createReservedInstancesListing({ accountId: OTHER_ACCOUNT, region: REGION, reservedInstancesId, instanceCount: 1, price: 1 })).rejects.toEqual(
      ec2('InvalidReservedInstancesId.NotFound'),
    );
  });
});
