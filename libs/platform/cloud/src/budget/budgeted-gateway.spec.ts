import { optexFigures, type BucketFigures, type Ec2Bucket } from '@optex/domain';
import { CallHeldError, type Ec2Error } from '@optex/ports';
import { SimulatedFleet } from '../simulated/simulated-fleet';
import { BudgetedEc2Gateway } from './budgeted-gateway';
import { Ec2ApiBudget } from './ec2-api-budget';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const volumes = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `vol-${String(i).padStart(17, '0')}`, accountId: ACCOUNT, region: REGION, volumeType: 'gp2', sizeGiB: 100, state: 'available' }));
const ref = (i: number) => ({ accountId: ACCOUNT, region: REGION, id: `vol-${String(i).padStart(17, '0')}` });

describe('Ec2ApiBudget', () => {
  it('given an empty bucket, a caller waits for the refill, and callers are served in arrival order', async () => {
    let now = 0;
    const slept: number[] = [];
    const budget = new Ec2ApiBudget({
      figures: () => ({ capacity: 2, refillPerSecond: 4 }),
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    });
    const order: number[] = [];
    await Promise.all([1, 2, 3, 4].map((n) => budget.spend({ accountId: ACCOUNT, region: REGION }, 'ModifyVolume').then(() => order.push(n))));
    expect(order).toEqual([1, 2, 3, 4]);
    expect(slept).toEqual([250, 250]); // two from the full bucket, then one every 250 ms
    expect(budget.stats()).toEqual({ spent: { mutating: 4 }, waits: 2, waitedMs: 500 });
  });

  it('waits at most 2^31 - 1 ms at a time (setTimeout fires at once beyond it), then looks again', async () => {
    let now = 0;
    const slept: number[] = [];
    const budget = new Ec2ApiBudget({
      figures: () => ({ capacity: 1, refillPerSecond: 1e-7 }), // one token every 10^7 s, ~116 days
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    });
    await budget.spend({ accountId: ACCOUNT, region: REGION }, 'ModifyVolume');
    await budget.spend({ accountId: ACCOUNT, region: REGION }, 'ModifyVolume');
    expect(slept.every((ms) => ms <= 2 ** 31 - 1)).toBe(true);
    expect(slept.slice(0, 4)).toEqual([2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1]);
    expect(now).toBeGreaterThanOrEqual(1e10); // the token came when due, not before
    expect(now).toBeLessThan(1e10 + 2 ** 31);
  });

  it('keeps one bucket per account, region and EC2 bucket', async () => {
    const budget = new Ec2ApiBudget({ figures: () => ({ capacity: 1, refillPerSecond: 0.001 }), now: () => 0, sleep: () => new Promise(() => undefined) });
    await budget.spend({ accountId: ACCOUNT, region: REGION }, 'ModifyVolume');
    await budget.spend({ accountId: ACCOUNT, region: 'eu-west-1' }, 'ModifyVolume');
    await budget.spend({ accountId: '210987654321', region: REGION }, 'ModifyVolume');
    await budget.spend({ accountId: ACCOUNT, region: REGION }, 'DescribeVolumes');
    await budget.spend({ accountId: ACCOUNT, region: REGION }, 'DeleteVolume');
    expect(budget.stats().spent).toEqual({ mutating: 3, 'non-mutating': 1, DeleteVolume: 1 });
  });
});

describe('the simulated fleet throttles as EC2 does; optex spending its budget is never throttled', () => {
  const limits: Partial<Record<Ec2Bucket, BucketFigures>> = { mutating: { capacity: 6, refillPerSecond: 30 }, 'non-mutating': { capacity: 10, refillPerSecond: 60 } };

  it('without the budget, a burst beyond the bucket is answered RequestLimitExceeded (logged, transient)', async () => {
    // The fleet's clock stands still, so nothing refills during the burst however slow the machine: 6 tokens, 6 calls pass.
    const instant = new Date('2026-01-01T00:00:00Z');
    const fleet = SimulatedFleet.fromFleet({ volumes: volumes(12), apiLimits: limits }, { clock: { now: () => instant } });
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => fleet.modifyVolume(ref(i), { volumeType: 'gp3' })));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as Ec2Error);
    expect(refused).toHaveLength(6);
    expect(refused.every((e) => e.awsCode === 'RequestLimitExceeded' && e.transient)).toBe(true);
    expect(fleet.calls().filter((c) => c.result === 'RequestLimitExceeded')).toHaveLength(refused.length);
  });

  it('through the budget (half the figures), 40 modifications and 40 describes in a burst: all succeed, 0 throttled, paced by the refill', async () => {
    const fleet = SimulatedFleet.fromFleet({ volumes: volumes(40), apiLimits: limits });
    const base = fleet.apiLimits as Record<Ec2Bucket, BucketFigures>;
    const budget = new Ec2ApiBudget({ figures: (b) => optexFigures({ enabled: true, customerShare: 0.5, buckets: {} }, b, base) });
    const gateway = new BudgetedEc2Gateway(fleet, budget);
    const started = Date.now();
    await Promise.all(Array.from({ length: 40 }, (_, i) => Promise.all([gateway.describeVolume(ref(i)), gateway.modifyVolume(ref(i), { volumeType: 'gp3' })])));
    const elapsed = Date.now() - started;
    expect(fleet.calls().filter((c) => c.result === 'RequestLimitExceeded')).toEqual([]);
    expect(fleet.calls().filter((c) => c.operation === 'modifyVolume' && c.result === 'ok')).toHaveLength(40);
    // optex's mutating bucket: 3 at once, then 15 a second → the 40th modification no sooner than (40 − 3) / 15 s
    expect(elapsed).toBeGreaterThanOrEqual(((40 - 3) / 15) * 1000 - 50);
    expect(budget.stats().spent).toEqual({ mutating: 40, 'non-mutating': 40 });
  });
});

describe('a call that waited for its token asks beforeSend (the kill switch) before it is sent', () => {
  it('given calls queued behind an empty bucket, when the switch engages while they wait, then the waiting ones are not sent and nothing reads only', async () => {
    let now = 0;
    let paused = false;
    const fleet = SimulatedFleet.fromFleet({ volumes: volumes(3) });
    const budget = new Ec2ApiBudget({
      figures: () => ({ capacity: 1, refillPerSecond: 1 }),
      now: () => now,
      sleep: async (ms) => {
        paused = true; // the operator pauses while the second call waits for its token
        now += ms;
      },
    });
    const gateway = new BudgetedEc2Gateway(fleet, budget);
    const beforeSend = async () => {
      if (paused) throw new CallHeldError('held');
    };
    await gateway.modifyVolume(ref(0), { volumeType: 'gp3' }, { beforeSend }); // the bucket's one token: sent at once
    const results = await Promise.allSettled([1, 2].map((i) => gateway.modifyVolume(ref(i), { volumeType: 'gp3' }, { beforeSend })));
    expect(results.map((r) => (r as PromiseRejectedResult).reason)).toEqual([expect.any(CallHeldError), expect.any(CallHeldError)]);
    expect(fleet.calls().filter((c) => c.operation === 'modifyVolume').map((c) => c.resourceId)).toEqual([ref(0).id]);
    expect(await gateway.describeVolume(ref(1))).toMatchObject({ volumeType: 'gp2' }); // reads are never held
  });
});
