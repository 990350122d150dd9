/** Where a group of figures came from and when it was taken (ISO date). */
export interface PriceSource {
  /** Which figures of the region this source gives, e.g. `instanceHourly: m6i, m7i, …` or `volumeGiBMonth.gp3`. */
  readonly covers: string;
  /** URL or document (with its location) the figures were copied from. */
  readonly source: string;
  /** When the source took the figures from AWS, `YYYY-MM-DD`. */
  readonly takenOn: string;
}

/** One tier of provisioned-IOPS pricing: IOPS up to `upToIops` (inclusive; `null` = no upper bound) cost `perIopsMonth` each. */
export interface IopsTier {
  readonly upToIops: number | null;
  readonly perIopsMonth: number;
}

/**
 * Prices of one region (USD, on-demand, Linux). A figure missing here is unknown: anything that needs it is
 * `unpriced`, never priced with another region's or another type's figure.
 */
export interface RegionPrices {
  /** On-demand Linux price per hour, by instance type. */
  readonly instanceHourly: Readonly<Record<string, number>>;
  /** EBS storage per GiB-month, by volume type (`gp2`, `gp3`, `io1`, `io2`, `st1`, `sc1`). */
  readonly volumeGiBMonth: Readonly<Record<string, number>>;
  /** gp3 IOPS above the free baseline, per IOPS-month. */
  readonly gp3IopsMonth?: number;
  /** gp3 throughput above the free baseline, per MiB/s-month. */
  readonly gp3ThroughputMiBpsMonth?: number;
  /** Provisioned IOPS per IOPS-month, by volume type (`io1`, `io2`), in ascending tiers; IOPS beyond the last tier are unpriced. */
  readonly provisionedIops?: Readonly<Record<string, readonly IopsTier[]>>;
  /** EBS snapshot storage (standard tier) per GiB-month. */
  readonly snapshotGiBMonth?: number;
  /** A public IPv4 address per hour (in use or idle). */
  readonly publicIpv4Hourly?: number;
  /** Where each group of figures came from (the full list with SKUs is `SOURCES.md` beside this file). */
  readonly sources: readonly PriceSource[];
}
