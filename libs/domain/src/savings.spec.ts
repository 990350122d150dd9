import { observed, recommendation, recs } from './__fixtures__';
import { defaultPriceBook as pb } from './pricing';
import type { ObservedResource } from './types';
import { accuracyPct, actualMonthlySavings, expectedOutcomeProblems, monthlyCostOf, savingsQuote } from './savings';

const R = 'us-east-1';
const running = observed.runningInstance;
const gp2 = observed.gp2Volume;

describe('monthlyCostOf', () => {
  it('prices a running instance at hourly × 730 and a stopped one at 0', () => {
    expect(monthlyCostOf(running, R, pb)).toBe(140.16);
    expect(monthlyCostOf(observed.stoppedInstance, R, pb)).toBe(0);
  });

  it('returns undefined for a running instance of an unknown type', () => {
    expect(monthlyCostOf({ ...running, instanceType: 'z9.huge' }, R, pb)).toBeUndefined();
  });

  it('prices volumes, snapshots and addresses', () => {
    expect(monthlyCostOf(gp2, R, pb)).toBe(10);
    expect(monthlyCostOf(observed.snapshot, R, pb)).toBe(5);
    expect(monthlyCostOf(observed.address, R, pb)).toBe(3.65);
  });

  it('prices a volume with its provisioned IOPS and throughput', () => {
    expect(monthlyCostOf({ ...gp2, volumeType: 'gp3', sizeGiB: 2000, iops: 6000, throughput: 250 }, R, pb)).toBe(180);
    expect(monthlyCostOf({ ...gp2, volumeType: 'io1', sizeGiB: 400, iops: 6000 }, R, pb)).toBe(440);
  });

  it('does not price a reserved instances offering (not a recurring resource)', () => {
    expect(monthlyCostOf(observed.offering, R, pb)).toBeUndefined();
  });
});

describe('actualMonthlySavings', () => {
  it('rightsize m5.xlarge → m5.large running saves (0.192 − 0.096) × 730 = 70.08', () => {
    expect(actualMonthlySavings(recs.rightsize, running, { ...running, instanceType: 'm5.large' }, R, pb)).toBe(70.08);
  });

  it('rightsize of a stopped instance saves nothing on compute', () => {
    expect(actualMonthlySavings(recs.rightsize, observed.stoppedInstance, { ...observed.stoppedInstance, instanceType: 'm5.large' }, R, pb)).toBe(0);
  });

  it('rightsize to an unknown type has no measurable savings', () => {
    expect(actualMonthlySavings(recs.rightsize, running, { ...running, instanceType: 'z9.huge' }, R, pb)).toBeUndefined();
  });

  it('stop-idle saves the whole compute cost', () => {
    expect(actualMonthlySavings(recs.stopIdle, running, observed.stoppedInstance, R, pb)).toBe(140.16);
  });

  it('modify-volume gp2 → gp3 on 100 GiB saves 2.00', () => {
    expect(actualMonthlySavings(recs.modifyVolume, gp2, { ...gp2, volumeType: 'gp3' }, R, pb)).toBe(2);
  });

  it('needs the resource after the change for before/after actions', () => {
    expect(actualMonthlySavings(recs.modifyVolume, gp2, undefined, R, pb)).toBeUndefined();
  });

  it('delete-volume with a snapshot saves the volume cost minus the snapshot kept', () => {
    expect(actualMonthlySavings(recs.deleteVolume, gp2, undefined, R, pb)).toBe(5);
    expect(actualMonthlySavings(recs.deleteVolume, gp2, undefined, R, pb, { snapshotId: 'snap-1' })).toBe(5);
  });

  it('delete-volume without a snapshot saves the whole volume cost', () => {
    expect(actualMonthlySavings(recs.deleteVolumeNoSnapshot, gp2, undefined, R, pb)).toBe(10);
    expect(actualMonthlySavings(recs.deleteVolume, gp2, undefined, R, pb, {})).toBe(10);
  });

  it('delete-snapshot saves the snapshot cost; release-address 3.65', () => {
    expect(actualMonthlySavings(recs.deleteSnapshot, observed.snapshot, undefined, R, pb)).toBe(5);
    expect(actualMonthlySavings(recs.releaseAddress, observed.address, undefined, R, pb)).toBe(3.65);
  });

  it('purchase-reserved-instances saves (on-demand − amortised upfront − recurring) × count', () => {
    // m5.large on demand 70.08/month; 500 upfront over 365 days = 12 months of 730 h → 41.666.../month.
    const months = 31536000 / (730 * 3600);
    const expected = Math.round((70.08 - 500 / months) * 2 * 100) / 100;
    expect(actualMonthlySavings(recs.purchaseRI, observed.offering, undefined, R, pb)).toBe(expected);
    expect(expected).toBeCloseTo(56.83, 2);
  });

  it('counts the recurring hourly charge of an RI', () => {
    const offering = { ...observed.offering, fixedPrice: 0, recurringHourly: 0.06 };
    expect(actualMonthlySavings(recs.purchaseRI, offering, undefined, R, pb)).toBe(52.56);
  });

  it('returns undefined when the before resource is of the wrong kind', () => {
    expect(actualMonthlySavings(recs.deleteSnapshot, gp2, undefined, R, pb)).toBeUndefined();
  });
});

describe('accuracyPct', () => {
  it('is 100 for an exact estimate', () => {
    expect(accuracyPct(70.08, 70.08)).toBe(100);
  });

  it('is 100 × (1 − |a − e| / e), 1 decimal', () => {
    expect(accuracyPct(90, 100)).toBe(90);
    expect(accuracyPct(110, 100)).toBe(90);
    expect(accuracyPct(2, 3)).toBe(66.7);
  });

  it('never goes below 0', () => {
    expect(accuracyPct(300, 100)).toBe(0);
    expect(accuracyPct(-50, 100)).toBe(0);
  });

  it('is 100 when both are 0 and 0 when only the estimate is 0', () => {
    expect(accuracyPct(0, 0)).toBe(100);
    expect(accuracyPct(5, 0)).toBe(0);
  });
});

describe('expectedOutcomeProblems', () => {
  it('accepts a rightsized instance of the target type in its former state', () => {
    expect(expectedOutcomeProblems(recs.rightsize, running, { ...running, instanceType: 'm5.large' })).toEqual([]);
  });

  it('reports a rightsized instance of the wrong type or state', () => {
    expect(expectedOutcomeProblems(recs.rightsize, running, { ...observed.stoppedInstance })).toEqual([
      'instance i-0abc is m5.xlarge, expected m5.large',
      'instance i-0abc is stopped, expected running as before the change',
    ]);
  });

  it('reports a vanished instance', () => {
    expect(expectedOutcomeProblems(recs.rightsize, running, undefined)).toEqual(['instance i-0abc not found after the change']);
  });

  it('expects a stopped instance after stop-idle', () => {
    expect(expectedOutcomeProblems(recs.stopIdle, running, observed.stoppedInstance)).toEqual([]);
    expect(expectedOutcomeProblems(recs.stopIdle, running, running)).toEqual(['instance i-0abc is running, expected stopped']);
  });

  it('expects the target volume type (and named IOPS) after modify-volume', () => {
    expect(expectedOutcomeProblems(recs.modifyVolume, gp2, { ...gp2, volumeType: 'gp3' })).toEqual([]);
    expect(expectedOutcomeProblems(recs.modifyVolume, gp2, gp2)).toEqual(['volume vol-0abc is gp2, expected gp3']);
    const rec = recommendation({ type: 'modify-volume', targetVolumeType: 'gp3', iops: 4000 });
    expect(expectedOutcomeProblems(rec, gp2, { ...gp2, volumeType: 'gp3', iops: 3000 })).toEqual(['volume vol-0abc has 3000 IOPS, expected 4000']);
  });

  it('expects deleted and released resources to be gone', () => {
    expect(expectedOutcomeProblems(recs.deleteVolume, gp2, undefined)).toEqual([]);
    expect(expectedOutcomeProblems(recs.deleteVolume, gp2, { ...gp2, state: 'deleting' })).toEqual([]);
    expect(expectedOutcomeProblems(recs.deleteVolume, gp2, gp2)).toEqual(['ec2:volume vol-0abc still exists after the deletion']);
    expect(expectedOutcomeProblems(recs.deleteSnapshot, observed.snapshot, observed.snapshot)).toEqual(['ec2:snapshot snap-0abc still exists after the deletion']);
    expect(expectedOutcomeProblems(recs.releaseAddress, observed.address, undefined)).toEqual([]);
    expect(expectedOutcomeProblems(recs.releaseAddress, observed.address, observed.address)).toEqual(['address eipalloc-0abc is still allocated after the release']);
  });

  it('has nothing to check after an RI purchase', () => {
    expect(expectedOutcomeProblems(recs.purchaseRI, observed.offering, undefined)).toEqual([]);
  });
});

describe('savingsQuote: net of every charge the change adds', () => {
  const volume = (overrides: Partial<Extract<ObservedResource, { kind: 'volume' }>>): ObservedResource => ({ ...gp2, ...overrides });
  const toGp3 = recommendation({ type: 'modify-volume', targetVolumeType: 'gp3' });

  it('nets gp3 IOPS and throughput above the baseline: gp2 2,000 GiB → gp3 6,000 IOPS / 250 MiB/s saves 20, not 40', () => {
    const quote = savingsQuote(toGp3, volume({ sizeGiB: 2000 }), volume({ volumeType: 'gp3', sizeGiB: 2000, iops: 6000, throughput: 250 }), R, pb);
    expect(quote).toEqual({ usd: 20 });
  });

  it('nets io1 provisioned IOPS: io1 400 GiB, 6,000 IOPS → gp3 keeping 6,000 IOPS / 250 MiB/s saves 388', () => {
    const quote = savingsQuote(toGp3, volume({ volumeType: 'io1', sizeGiB: 400, iops: 6000 }), volume({ volumeType: 'gp3', sizeGiB: 400, iops: 6000, throughput: 250 }), R, pb);
    expect(quote).toEqual({ usd: 388 });
  });

  it("prices another region with that region's figures (ap-northeast-1 gp2 100 GiB → gp3 128 MiB/s: 12 − 9.744)", () => {
    const quote = savingsQuote({ ...toGp3, region: 'ap-northeast-1' }, volume({ sizeGiB: 100 }), volume({ volumeType: 'gp3', sizeGiB: 100, iops: 3000, throughput: 128 }), 'ap-northeast-1', pb);
    expect(quote).toEqual({ usd: 2.26 });
  });

  it('is negative when the change costs more', () => {
    const upsize = recommendation({ type: 'rightsize', currentInstanceType: 'm5.large', targetInstanceType: 'm5.xlarge' });
    expect(savingsQuote(upsize, { ...running, instanceType: 'm5.large' }, running, R, pb)).toEqual({ usd: -70.08 });
  });

  it('reports a type or region the book lacks as unpriced, naming it', () => {
    expect(savingsQuote(recs.rightsize, running, { ...running, instanceType: 'm5.large' }, 'sa-east-1', pb)).toEqual({ unpriced: ['region sa-east-1 (not in the price book)'] });
    expect(savingsQuote(recs.rightsize, running, { ...running, instanceType: 'z9.huge' }, R, pb)).toEqual({ unpriced: ['instance type z9.huge in us-east-1'] });
  });

  it('has nothing to compare (an empty unpriced list) when the resource after the change is missing', () => {
    expect(savingsQuote(recs.rightsize, running, undefined, R, pb)).toEqual({ unpriced: [] });
  });
});
