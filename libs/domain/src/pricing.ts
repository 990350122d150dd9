import { roundTo } from './numbers';
import { PRICE_BOOK_REGIONS } from './price-book';
import type { RegionPrices } from './price-book';

export type { IopsTier, PriceSource, RegionPrices } from './price-book';

/**
 * The price book: what resources cost, per region. A region missing from {@link PriceBook.regions}, or a figure
 * missing from a region, is unknown: whatever needs it is `unpriced`, never priced with another region's figure.
 */
export interface PriceBook {
  readonly currency: 'USD';
  /** Hours in a billing month. @defaultValue 730 */
  readonly hoursPerMonth: number;
  readonly regions: Readonly<Record<string, RegionPrices>>;
  /** vCPUs per instance type (region independent). */
  readonly vcpus: Readonly<Record<string, number>>;
  /** What every gp3 volume gets without paying extra. @defaultValue { iops: 3000, throughputMBps: 125 } */
  readonly gp3Baseline: { readonly iops: number; readonly throughputMBps: number };
}

/**
 * The shipped price book: the design's us-east-1 figures plus AWS's published on-demand Linux, EBS, snapshot and
 * public IPv4 prices of the regions in `price-book/` (each with its source and date, `price-book/SOURCES.md`).
 */
export const defaultPriceBook: PriceBook = {
  currency: 'USD',
  hoursPerMonth: 730,
  regions: PRICE_BOOK_REGIONS,
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

// ── Quotes: a price, or what could not be priced ──

/** A monthly amount (USD) from the price book, or the figures it lacks (`unpriced`, each naming the missing figure and region). */
export type PriceQuote = { readonly usd: number } | { readonly unpriced: readonly string[] };

/** Whether a quote has a price. */
export const isPriced = (quote: PriceQuote): quote is { readonly usd: number } => 'usd' in quote;

// Six decimals drop binary noise (0.1 × 3) without touching any real price digit.
const clean = (value: number): number => roundTo(value, 6);
const priced = (usd: number): PriceQuote => ({ usd: clean(usd) });
const unpriced = (...what: string[]): PriceQuote => ({ unpriced: what });

/** Adds quotes: priced when every part is, else unpriced with every missing figure. */
export function sumQuotes(...quotes: readonly PriceQuote[]): PriceQuote {
  const missing = quotes.flatMap((q) => (isPriced(q) ? [] : q.unpriced));
  if (missing.length > 0) return { unpriced: [...new Set(missing)] };
  return priced(quotes.reduce((total, q) => total + (isPriced(q) ? q.usd : 0), 0));
}

/** `a − b`: priced when both are. */
export function subtractQuotes(a: PriceQuote, b: PriceQuote): PriceQuote {
  const total = sumQuotes(a, b);
  return isPriced(a) && isPriced(b) ? priced(a.usd - b.usd) : total;
}

const own = <T>(table: Readonly<Record<string, T>> | undefined, key: string): T | undefined =>
  table !== undefined && Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;

/** The price table of `region`; `undefined` when the book has none (no fallback to another region). */
export function regionPrices(pb: PriceBook, region: string): RegionPrices | undefined {
  return own(pb.regions, region);
}

const figure = (pb: PriceBook, region: string, what: string, pick: (prices: RegionPrices) => number | undefined): PriceQuote | number => {
  const prices = regionPrices(pb, region);
  if (prices === undefined) return unpriced(`region ${region} (not in the price book)`);
  const value = pick(prices);
  return value === undefined ? unpriced(`${what} in ${region}`) : value;
};

/** Monthly on-demand cost of one running instance (hourly × hours per month). */
export function quoteInstance(pb: PriceBook, region: string, instanceType: string): PriceQuote {
  const hourly = figure(pb, region, `instance type ${instanceType}`, (p) => own(p.instanceHourly, instanceType));
  return typeof hourly === 'number' ? priced(hourly * pb.hoursPerMonth) : hourly;
}

/** Monthly storage cost of a volume (per GiB-month × size), without provisioned IOPS or throughput. */
export function quoteVolumeStorage(pb: PriceBook, region: string, volumeType: string, sizeGiB: number): PriceQuote {
  const perGiB = figure(pb, region, `${volumeType} storage`, (p) => own(p.volumeGiBMonth, volumeType));
  return typeof perGiB === 'number' ? priced(perGiB * sizeGiB) : perGiB;
}

/** Provisioned IOPS of an io1/io2 volume through the region's tiers; IOPS beyond the last tier are unpriced. */
function quoteProvisionedIops(pb: PriceBook, region: string, volumeType: string, iops: number): PriceQuote {
  const prices = regionPrices(pb, region);
  if (prices === undefined) return unpriced(`region ${region} (not in the price book)`);
  const tiers = own(prices.provisionedIops, volumeType);
  if (tiers === undefined) return unpriced(`${volumeType} provisioned IOPS in ${region}`);
  let total = 0;
  let from = 0;
  for (const tier of tiers) {
    const upTo = tier.upToIops ?? Number.POSITIVE_INFINITY;
    total += Math.max(0, Math.min(iops, upTo) - from) * tier.perIopsMonth;
    if (iops <= upTo) return priced(total);
    from = upTo;
  }
  return unpriced(`${volumeType} provisioned IOPS above ${from} in ${region}`);
}

/** What a volume is: type, size and (where provisioned) IOPS and throughput in MiB/s. */
export interface VolumeShape {
  readonly volumeType: string;
  readonly sizeGiB: number;
  readonly iops?: number;
  readonly throughput?: number;
}

/**
 * Monthly cost of a volume with every charge it carries: storage; for gp3 the IOPS above the baseline (3,000) and
 * the throughput above it (125 MiB/s), a gp3 without figures being at the baseline; for io1/io2 the provisioned IOPS
 * (unpriced when the volume states none). gp2, st1, sc1 carry storage only.
 */
export function quoteVolume(pb: PriceBook, region: string, volume: VolumeShape): PriceQuote {
  const storage = quoteVolumeStorage(pb, region, volume.volumeType, volume.sizeGiB);
  if (volume.volumeType === 'gp3') {
    const extraIops = Math.max(0, (volume.iops ?? pb.gp3Baseline.iops) - pb.gp3Baseline.iops);
    const extraThroughput = Math.max(0, (volume.throughput ?? pb.gp3Baseline.throughputMBps) - pb.gp3Baseline.throughputMBps);
    const iops = extraIops === 0 ? priced(0) : figure(pb, region, `gp3 IOPS above ${pb.gp3Baseline.iops}`, (p) => p.gp3IopsMonth);
    const throughput = extraThroughput === 0 ? priced(0) : figure(pb, region, `gp3 throughput above ${pb.gp3Baseline.throughputMBps} MiB/s`, (p) => p.gp3ThroughputMiBpsMonth);
    return sumQuotes(storage, typeof iops === 'number' ? priced(iops * extraIops) : iops, typeof throughput === 'number' ? priced(throughput * extraThroughput) : throughput);
  }
  if (volume.volumeType === 'io1' || volume.volumeType === 'io2') {
    const iops = volume.iops === undefined ? unpriced(`${volume.volumeType} volume without its provisioned IOPS`) : quoteProvisionedIops(pb, region, volume.volumeType, volume.iops);
    return sumQuotes(storage, iops);
  }
  return storage;
}

/** Monthly cost of storing a snapshot of `sizeGiB` (counted at full size: an upper bound, snapshots are incremental). */
export function quoteSnapshot(pb: PriceBook, region: string, sizeGiB: number): PriceQuote {
  const perGiB = figure(pb, region, 'snapshot storage', (p) => p.snapshotGiBMonth);
  return typeof perGiB === 'number' ? priced(perGiB * sizeGiB) : perGiB;
}

/** Monthly cost of one public IPv4 address (hourly × hours per month; 3.65 in us-east-1). */
export function quoteAddress(pb: PriceBook, region: string): PriceQuote {
  const hourly = figure(pb, region, 'public IPv4 address', (p) => p.publicIpv4Hourly);
  return typeof hourly === 'number' ? priced(hourly * pb.hoursPerMonth) : hourly;
}

const usdOf = (quote: PriceQuote): number | undefined => (isPriced(quote) ? quote.usd : undefined);

/** Monthly on-demand cost of one running instance; `undefined` when unpriced. */
export function instanceMonthly(pb: PriceBook, region: string, instanceType: string): number | undefined {
  return usdOf(quoteInstance(pb, region, instanceType));
}

/** Monthly storage cost of a volume (per GiB-month × size, no IOPS/throughput: see {@link quoteVolume}); `undefined` when unpriced. */
export function volumeMonthly(pb: PriceBook, region: string, volumeType: string, sizeGiB: number): number | undefined {
  return usdOf(quoteVolumeStorage(pb, region, volumeType, sizeGiB));
}

/** Monthly cost of storing a snapshot of `sizeGiB` at full size; `undefined` when unpriced. */
export function snapshotMonthly(pb: PriceBook, region: string, sizeGiB: number): number | undefined {
  return usdOf(quoteSnapshot(pb, region, sizeGiB));
}

/** Monthly cost of one public IPv4 address; `undefined` when unpriced. */
export function addressMonthly(pb: PriceBook, region: string): number | undefined {
  return usdOf(quoteAddress(pb, region));
}

/** vCPUs of an instance type; `undefined` when the book does not know it. */
export function vcpusOf(pb: PriceBook, instanceType: string): number | undefined {
  return own(pb.vcpus, instanceType);
}
