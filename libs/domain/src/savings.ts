import { roundMoney, roundTo } from './numbers';
import { isPriced, quoteAddress, quoteInstance, quoteSnapshot, quoteVolume, subtractQuotes } from './pricing';
import type { PriceBook, PriceQuote } from './pricing';
import { effectiveVolumePerformance } from './plans';
import type { ObservedResource, Recommendation, StepOutputs } from './types';

/** Instance states EC2 bills compute for. */
const BILLED_INSTANCE_STATES: ReadonlySet<string> = new Set(['pending', 'running']);

const free: PriceQuote = { usd: 0 };
const notComparable: PriceQuote = { unpriced: [] };

/**
 * What a resource costs per month from the price book: a running (or pending) instance hourly × 730, any other
 * instance state 0 (its volumes are priced separately); a volume with every charge it carries (storage, gp3 IOPS and
 * throughput above the baseline, io1/io2 provisioned IOPS: its effective IOPS/throughput, gp2's following from its
 * size); a snapshot at full size; a public IPv4 address. Unpriced when the book lacks a figure; a reserved-instances
 * offering is not a recurring resource (see {@link savingsQuote}) and has no quote of its own.
 */
export function quoteResource(observed: ObservedResource, region: string, pb: PriceBook): PriceQuote {
  switch (observed.kind) {
    case 'instance':
      return BILLED_INSTANCE_STATES.has(observed.state) ? quoteInstance(pb, region, observed.instanceType) : free;
    case 'volume':
      return quoteVolume(pb, region, { volumeType: observed.volumeType, sizeGiB: observed.sizeGiB, ...effectiveVolumePerformance(observed) });
    case 'snapshot':
      return quoteSnapshot(pb, region, observed.sizeGiB);
    case 'address':
      return quoteAddress(pb, region);
    case 'reserved-instances-offering':
      return notComparable;
    default: {
      const _exhaustive: never = observed;
      return _exhaustive;
    }
  }
}

/**
 * What a resource costs per month when in use, for the risk's `large` factor: an instance at its type's on-demand
 * price whatever its state (a stopped m5.24xlarge is a large instance), anything else as {@link quoteResource}.
 */
export function quoteInUse(observed: ObservedResource, region: string, pb: PriceBook): PriceQuote {
  return observed.kind === 'instance' ? quoteInstance(pb, region, observed.instanceType) : quoteResource(observed, region, pb);
}

/** {@link quoteResource} as a number; `undefined` when unpriced. */
export function monthlyCostOf(observed: ObservedResource, region: string, pb: PriceBook): number | undefined {
  const quote = quoteResource(observed, region, pb);
  return isPriced(quote) ? quote.usd : undefined;
}

const money = (quote: PriceQuote): PriceQuote => (isPriced(quote) ? { usd: roundMoney(quote.usd) } : quote);

/**
 * Net monthly savings (USD, 2 decimals) of a carried-out recommendation, from the price book: cost before minus cost
 * after, each with every charge it carries. Per action — rightsize, stop-idle, modify-volume: before − after (gp3
 * IOPS/throughput above the baseline and io1/io2 IOPS included on both sides); delete-volume: the volume's cost minus
 * the backup snapshot kept of the same size (when one was taken: `outputs.snapshotId`, or by default `snapshotFirst`);
 * delete-snapshot: the snapshot's cost; release-address: the address's cost (3.65 in us-east-1);
 * purchase-reserved-instances: (on-demand monthly − (fixedPrice / months of the term + recurringHourly × 730)) × count.
 * `{unpriced: [...]}` names every figure the book lacks; `{unpriced: []}` when there is nothing to compare (the
 * resource after the change, or the one before, is missing or of another kind). May be negative: the change costs more.
 */
export function savingsQuote(
  rec: Recommendation,
  before: ObservedResource,
  after: ObservedResource | undefined,
  region: string,
  pb: PriceBook,
  outputs?: StepOutputs,
): PriceQuote {
  const action = rec.action;
  switch (action.type) {
    case 'rightsize':
    case 'stop-idle':
    case 'modify-volume':
      if (after === undefined || after.kind !== before.kind) return notComparable;
      return money(subtractQuotes(quoteResource(before, region, pb), quoteResource(after, region, pb)));
    case 'delete-volume': {
      if (before.kind !== 'volume') return notComparable;
      const snapshotKept = outputs !== undefined ? outputs['snapshotId'] !== undefined : action.snapshotFirst;
      return money(subtractQuotes(quoteResource(before, region, pb), snapshotKept ? quoteSnapshot(pb, region, before.sizeGiB) : free));
    }
    case 'delete-snapshot':
      if (before.kind !== 'snapshot') return notComparable;
      return money(quoteSnapshot(pb, region, before.sizeGiB));
    case 'release-address':
      if (before.kind !== 'address') return notComparable;
      return money(quoteAddress(pb, region));
    case 'purchase-reserved-instances': {
      if (before.kind !== 'reserved-instances-offering' || before.durationSeconds <= 0) return notComparable;
      const onDemand = quoteInstance(pb, region, before.instanceType);
      if (!isPriced(onDemand)) return onDemand;
      const months = before.durationSeconds / (pb.hoursPerMonth * 3600);
      const reserved = before.fixedPrice / months + before.recurringHourly * pb.hoursPerMonth;
      return { usd: roundMoney((onDemand.usd - reserved) * action.instanceCount) };
    }
    default: {
      const _exhaustive: never = action;
      return _exhaustive;
    }
  }
}

/** {@link savingsQuote} as a number; `undefined` when unpriced or not comparable. */
export function actualMonthlySavings(
  rec: Recommendation,
  before: ObservedResource,
  after: ObservedResource | undefined,
  region: string,
  pb: PriceBook,
  outputs?: StepOutputs,
): number | undefined {
  const quote = savingsQuote(rec, before, after, region, pb, outputs);
  return isPriced(quote) ? quote.usd : undefined;
}

/**
 * How close the estimate was: `max(0, 100 × (1 − |actual − estimated| / estimated))`, 1 decimal;
 * 100 when both are 0, 0 when only the estimate is 0.
 */
export function accuracyPct(actual: number, estimated: number): number {
  if (estimated === 0) return actual === 0 ? 100 : 0;
  return roundTo(Math.max(0, 100 * (1 - Math.abs(actual - estimated) / estimated)), 1);
}

const GONE_STATES: ReadonlySet<string> = new Set(['deleting', 'deleted']);

/**
 * Post-validation: how the resource after the change differs from what was asked (empty when it is as asked).
 * rightsize: the target type, in the state it had before; stop-idle: stopped; modify-volume: the target type (and the
 * IOPS/throughput the recommendation named); delete-volume, delete-snapshot, release-address: gone (or deleting);
 * purchase-reserved-instances: nothing to check on the offering.
 */
export function expectedOutcomeProblems(rec: Recommendation, before: ObservedResource, after: ObservedResource | undefined): string[] {
  const action = rec.action;
  const id = rec.resource.id;
  switch (action.type) {
    case 'rightsize': {
      if (after === undefined || after.kind !== 'instance') return [`instance ${id} not found after the change`];
      const problems: string[] = [];
      if (after.instanceType !== action.targetInstanceType) problems.push(`instance ${id} is ${after.instanceType}, expected ${action.targetInstanceType}`);
      if (before.kind === 'instance' && after.state !== before.state) problems.push(`instance ${id} is ${after.state}, expected ${before.state} as before the change`);
      return problems;
    }
    case 'stop-idle':
      if (after === undefined || after.kind !== 'instance') return [`instance ${id} not found after the change`];
      return after.state === 'stopped' ? [] : [`instance ${id} is ${after.state}, expected stopped`];
    case 'modify-volume': {
      if (after === undefined || after.kind !== 'volume') return [`volume ${id} not found after the change`];
      const problems: string[] = [];
      if (after.volumeType !== action.targetVolumeType) problems.push(`volume ${id} is ${after.volumeType}, expected ${action.targetVolumeType}`);
      const perf = effectiveVolumePerformance(after);
      if (action.iops !== undefined && perf.iops !== undefined && perf.iops !== action.iops) problems.push(`volume ${id} has ${perf.iops} IOPS, expected ${action.iops}`);
      if (action.throughput !== undefined && perf.throughput !== undefined && perf.throughput !== action.throughput) {
        problems.push(`volume ${id} has ${perf.throughput} MiB/s throughput, expected ${action.throughput}`);
      }
      return problems;
    }
    case 'delete-volume':
    case 'delete-snapshot':
      if (after === undefined) return [];
      if ((after.kind === 'volume' || after.kind === 'snapshot') && GONE_STATES.has(after.state)) return [];
      return [`${rec.resource.type} ${id} still exists after the deletion`];
    case 'release-address':
      return after === undefined ? [] : [`address ${id} is still allocated after the release`];
    case 'purchase-reserved-instances':
      return [];
    default: {
      const _exhaustive: never = action;
      return _exhaustive;
    }
  }
}
