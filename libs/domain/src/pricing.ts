import { roundTo } from './numbers';

/** Prices of one region (USD). */
export interface RegionPrices {
  /** On-demand Linux price per hour, by instance type. */
  readonly instanceHourly: Readonly<Record<string, number>>;
  /** EBS price per GiB-month, by volume type. */
  readonly volumeGiBMonth: Readonly<Record<string, number>>;
  /** EBS snapshot storage per GiB-month. */
  readonly snapshotGiBMonth: number;
  /** A public IPv4 address per hour (charged whether associated or not). */
  readonly publicIpv4Hourly: number;
}

/**
 * The price book: what resources cost, per region. Regions missing from {@link PriceBook.regions} use the
 * figures of {@link PriceBook.fallbackRegion}. A type missing from the chosen region's table has no price
 * (`undefined`), never a made-up one.
 */
export interface PriceBook {
  readonly currency: 'USD';
  /** Hours in a billing month. @defaultValue 730 */
  readonly hoursPerMonth: number;
  /** Region whose figures stand in for regions the book does not list. @defaultValue 'us-east-1' */
  readonly fallbackRegion: string;
  readonly regions: Readonly<Record<string, RegionPrices>>;
  /** vCPUs per instance type (region independent). */
  readonly vcpus: Readonly<Record<string, number>>;
  /** What every gp3 volume gets without paying extra. @defaultValue { iops: 3000, throughputMBps: 125 } */
  readonly gp3Baseline: { readonly iops: number; readonly throughputMBps: number };
}

/**
 * The design's us-east-1 price book (on-demand Linux, EBS, snapshots, public IPv4; 730 hours a month).
 * Other regions fall back to these us-east-1 figures: real prices differ a little by region, which only
 * shifts the savings estimate, never a safety decision.
 */
export const defaultPriceBook: PriceBook = {
  currency: 'USD',
  hoursPerMonth: 730,
  fallbackRegion: 'us-east-1',
  regions: {
    'us-east-1': {
      instanceHourly: {
        't3.micro': 0.0104,
        't3.small': 0.0208,
        't3.medium': 0.0416,
        't3.large': 0.0832,
        't3.xlarge': 0.1664,
        'm5.large': 0.096,
        'm5.xlarge': 0.192,
        'm5.2xlarge': 0.384,
        'm5.4xlarge': 0.768,
        'm5.8xlarge': 1.536,
        'm5.12xlarge': 2.304,
        'c5.large': 0.085,
        'c5.xlarge': 0.17,
        'c5.2xlarge': 0.34,
        'r5.large': 0.126,
        'r5.xlarge': 0.252,
      },
      volumeGiBMonth: { gp2: 0.1, gp3: 0.08, io1: 0.125, st1: 0.045, sc1: 0.015 },
      snapshotGiBMonth: 0.05,
      publicIpv4Hourly: 0.005,
    },
  },
  vcpus: {
    't3.micro': 2,
    't3.small': 2,
    't3.medium': 2,
    't3.large': 2,
    't3.xlarge': 4,
    'm5.large': 2,
    'm5.xlarge': 4,
    'm5.2xlarge': 8,
    'm5.4xlarge': 16,
    'm5.8xlarge': 32,
    'm5.12xlarge': 48,
    'c5.large': 2,
    'c5.xlarge': 4,
    'c5.2xlarge': 8,
    'r5.large': 2,
    'r5.xlarge': 4,
  },
  gp3Baseline: { iops: 3000, throughputMBps: 125 },
};

// Six decimals drop binary noise (0.1 × 3) without touching any real price digit.
const clean = (value: number): number => roundTo(value, 6);

/** The price table used for `region`: its own, or the fallback region's when the book has none. */
export function regionPrices(pb: PriceBook, region: string): RegionPrices {
  const prices = pb.regions[region] ?? pb.regions[pb.fallbackRegion];
  if (!prices) throw new Error(`price book has neither region ${region} nor its fallback region ${pb.fallbackRegion}`);
  return prices;
}

const own = <T>(table: Readonly<Record<string, T>>, key: string): T | undefined => (Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined);

/** Monthly on-demand cost of one running instance (hourly × hours per month); `undefined` for an unknown type. */
export function instanceMonthly(pb: PriceBook, region: string, instanceType: string): number | undefined {
  const hourly = own(regionPrices(pb, region).instanceHourly, instanceType);
  return hourly === undefined ? undefined : clean(hourly * pb.hoursPerMonth);
}

/** Monthly storage cost of a volume (per GiB-month × size); `undefined` for an unknown volume type. Provisioned IOPS/throughput are not priced. */
export function volumeMonthly(pb: PriceBook, region: string, volumeType: string, sizeGiB: number): number | undefined {
  const perGiB = own(regionPrices(pb, region).volumeGiBMonth, volumeType);
  return perGiB === undefined ? undefined : clean(perGiB * sizeGiB);
}

/** Monthly cost of storing a snapshot of `sizeGiB` (counted at full size: an upper bound, snapshots are incremental). */
export function snapshotMonthly(pb: PriceBook, region: string, sizeGiB: number): number {
  return clean(regionPrices(pb, region).snapshotGiBMonth * sizeGiB);
}

/** Monthly cost of one public IPv4 address (hourly × hours per month; 3.65 with the default book). */
export function addressMonthly(pb: PriceBook, region: string): number {
  return clean(regionPrices(pb, region).publicIpv4Hourly * pb.hoursPerMonth);
}

/** vCPUs of an instance type; `undefined` when the book does not know it. */
export function vcpusOf(pb: PriceBook, instanceType: string): number | undefined {
  return own(pb.vcpus, instanceType);
}
