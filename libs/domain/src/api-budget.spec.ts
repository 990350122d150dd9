import { AWS_EC2_BUCKETS, DEFAULT_API_BUDGET, bucketOf, optexFigures, refill, takeToken } from './api-budget';
import { defaultPolicy, parsePolicy } from './policy';

describe('EC2 request budget (token buckets)', () => {
  it('each API action spends from its bucket: its own, else mutating or non-mutating', () => {
    expect(bucketOf('DescribeVolumes')).toBe('non-mutating');
    expect(bucketOf('GetConsoleOutput')).toBe('non-mutating');
    expect(bucketOf('ModifyVolume')).toBe('mutating');
    expect(bucketOf('StopInstances')).toBe('mutating');
    expect(bucketOf('StartInstances')).toBe('StartInstances');
    expect(bucketOf('DeleteVolume')).toBe('DeleteVolume');
    expect(bucketOf('PurchaseReservedInstancesOffering')).toBe('PurchaseReservedInstancesOffering');
  });

  it('given a bucket never used, when a call comes, then it is full and the call takes one token', () => {
    const figures = { capacity: 3, refillPerSecond: 2 };
    const first = takeToken(undefined, figures, 1_000);
    expect(first).toEqual({ granted: true, state: { tokens: 2, atMs: 1_000 } });
  });

  it('given an empty bucket, when a call comes, then it is refused with the wait until the next whole token', () => {
    const figures = { capacity: 3, refillPerSecond: 2 };
    const empty = { tokens: 0.25, atMs: 5_000 };
    expect(takeToken(empty, figures, 5_000)).toEqual({ granted: false, state: empty, waitMs: 375 });
    // 375 ms later: 0.25 + 0.75 = 1 token
    expect(takeToken(empty, figures, 5_375)).toMatchObject({ granted: true, state: { tokens: 0, atMs: 5_375 } });
  });

  it('refills with elapsed time up to the capacity, never back in time', () => {
    const figures = { capacity: 3, refillPerSecond: 2 };
    expect(refill({ tokens: 0, atMs: 0 }, figures, 10_000)).toEqual({ tokens: 3, atMs: 10_000 });
    expect(refill({ tokens: 1, atMs: 2_000 }, figures, 1_000)).toEqual({ tokens: 1, atMs: 2_000 });
  });

  it("optex allows itself the account's figures less the customer's share (default 50 %), policy figures replacing AWS's", () => {
    expect(optexFigures(DEFAULT_API_BUDGET, 'mutating')).toEqual({ capacity: 25, refillPerSecond: 2.5 });
    expect(optexFigures(DEFAULT_API_BUDGET, 'PurchaseReservedInstancesOffering')).toEqual({ capacity: 2, refillPerSecond: 2.5 });
    const raised = { enabled: true, customerShare: 0.2, buckets: { mutating: { capacity: 200, refillPerSecond: 20 } } };
    expect(optexFigures(raised, 'mutating')).toEqual({ capacity: 160, refillPerSecond: 16 });
    expect(optexFigures(raised, 'non-mutating')).toEqual({ capacity: 80, refillPerSecond: AWS_EC2_BUCKETS['non-mutating'].refillPerSecond * 0.8 });
  });

  it('the policy file sets apiBudget; bad values are named by their path', () => {
    expect(defaultPolicy.apiBudget).toEqual({ enabled: true, customerShare: 0.5, buckets: {} });
    const ok = parsePolicy({ apiBudget: { customerShare: 0.3, buckets: { StartInstances: { capacity: 10, refillPerSecond: 4 } } } });
    expect(ok.ok && ok.value.apiBudget).toEqual({ enabled: true, customerShare: 0.3, buckets: { StartInstances: { capacity: 10, refillPerSecond: 4 } } });
    const bad = parsePolicy({ apiBudget: { customerShare: 1, buckets: { mutating: { capacity: 0, refillPerSecond: 5 }, Teleport: { capacity: 1, refillPerSecond: 1 } } } });
    expect(bad.ok).toBe(false);
    const paths = bad.ok ? [] : bad.errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['apiBudget.customerShare', 'apiBudget.buckets.mutating.capacity']));
    expect(bad.ok ? '' : bad.errors.map((e) => e.message).join(' ')).toMatch(/Teleport/);
    // a refill so slow that optex would wait hours (or, past 2^31 ms, spin) for each call
    const slow = parsePolicy({ apiBudget: { buckets: { mutating: { capacity: 1, refillPerSecond: 0.0000001 } } } });
    expect(!slow.ok && slow.errors.map((e) => `${e.path}: ${e.message}`)).toEqual(['apiBudget.buckets.mutating.refillPerSecond: apiBudget.buckets.mutating.refillPerSecond must be at least 0.01 (one request per 100 s), got 1e-7']);
  });
});
