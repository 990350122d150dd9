import { addressMonthly, defaultPriceBook, instanceMonthly, regionPrices, snapshotMonthly, vcpusOf, volumeMonthly } from './pricing';
import type { PriceBook } from './pricing';

const pb = defaultPriceBook;

describe('defaultPriceBook', () => {
  it.each([
    ['t3.micro', 0.0104],
    ['t3.small', 0.0208],
    ['t3.medium', 0.0416],
    ['t3.large', 0.0832],
    ['t3.xlarge', 0.1664],
    ['m5.large', 0.096],
    ['m5.xlarge', 0.192],
    ['m5.2xlarge', 0.384],
    ['m5.4xlarge', 0.768],
    ['m5.8xlarge', 1.536],
    ['m5.12xlarge', 2.304],
    ['c5.large', 0.085],
    ['c5.xlarge', 0.17],
    ['c5.2xlarge', 0.34],
    ['r5.large', 0.126],
    ['r5.xlarge', 0.252],
  ])('prices %s at %p per hour in us-east-1', (type, hourly) => {
    expect(pb.regions['us-east-1']!.instanceHourly[type]).toBe(hourly);
  });

  it('holds the design EBS, snapshot and IPv4 figures and a 730-hour month', () => {
    expect(pb.regions['us-east-1']!.volumeGiBMonth).toEqual({ gp2: 0.1, gp3: 0.08, io1: 0.125, st1: 0.045, sc1: 0.015 });
    expect(pb.regions['us-east-1']!.snapshotGiBMonth).toBe(0.05);
    expect(pb.regions['us-east-1']!.publicIpv4Hourly).toBe(0.005);
    expect(pb.hoursPerMonth).toBe(730);
  });

  it('knows the gp3 baseline', () => {
    expect(pb.gp3Baseline).toEqual({ iops: 3000, throughputMBps: 125 });
  });
});

describe('price functions', () => {
  it('computes instance monthly cost as hourly × 730', () => {
    expect(instanceMonthly(pb, 'us-east-1', 'm5.xlarge')).toBe(140.16);
    expect(instanceMonthly(pb, 'us-east-1', 't3.micro')).toBe(7.592);
  });

  it('returns undefined for an unknown instance type, never a made-up price', () => {
    expect(instanceMonthly(pb, 'us-east-1', 'm7g.large')).toBeUndefined();
    expect(instanceMonthly(pb, 'us-east-1', 'toString')).toBeUndefined();
  });

  it('computes volume cost as per-GiB price × size, without float noise', () => {
    expect(volumeMonthly(pb, 'us-east-1', 'gp2', 100)).toBe(10);
    expect(volumeMonthly(pb, 'us-east-1', 'gp3', 100)).toBe(8);
    expect(volumeMonthly(pb, 'us-east-1', 'gp2', 3)).toBe(0.3);
  });

  it('returns undefined for an unknown volume type', () => {
    expect(volumeMonthly(pb, 'us-east-1', 'io2', 100)).toBeUndefined();
  });

  it('prices snapshots and public IPv4 addresses', () => {
    expect(snapshotMonthly(pb, 'us-east-1', 100)).toBe(5);
    expect(addressMonthly(pb, 'us-east-1')).toBe(3.65);
  });

  it('falls back to us-east-1 figures for a region the book does not list', () => {
    expect(regionPrices(pb, 'eu-west-3')).toBe(pb.regions['us-east-1']);
    expect(instanceMonthly(pb, 'eu-west-3', 'm5.large')).toBe(70.08);
  });

  it("uses a listed region's own figures", () => {
    const book: PriceBook = { ...pb, regions: { ...pb.regions, 'eu-west-1': { ...pb.regions['us-east-1']!, instanceHourly: { 'm5.large': 0.107 } } } };
    expect(instanceMonthly(book, 'eu-west-1', 'm5.large')).toBe(78.11);
    expect(instanceMonthly(book, 'eu-west-1', 'm5.xlarge')).toBeUndefined();
  });

  it.each([
    ['t3.micro', 2],
    ['t3.xlarge', 4],
    ['m5.large', 2],
    ['m5.xlarge', 4],
    ['m5.2xlarge', 8],
    ['m5.4xlarge', 16],
    ['m5.8xlarge', 32],
    ['m5.12xlarge', 48],
    ['c5.2xlarge', 8],
    ['r5.xlarge', 4],
  ])('knows %s has %p vCPUs', (type, vcpus) => {
    expect(vcpusOf(pb, type)).toBe(vcpus);
  });

  it('returns undefined vCPUs for an unknown type', () => {
    expect(vcpusOf(pb, 'x1e.32xlarge')).toBeUndefined();
  });
});
