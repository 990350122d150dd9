import { effectiveVolumePerformance, executionPlan, reversibility, rollbackPlan } from './plans';
import { defaultPriceBook, isPriced, type PriceBook, type PriceQuote } from './pricing';
import { savingsQuote } from './savings';
import { roundMoney, usdText } from './numbers';
import type { AppliedFactor, ObservedResource, Recommendation, Reversibility, RiskAssessment, RiskLevel, Step } from './types';

type ObservedVolume = Extract<ObservedResource, { kind: 'volume' }>;

/**
 * The exact change an approver approves: the steps and their targets (instance type, volume type, IOPS, throughput),
 * the rollback, the reversibility, the net change of the monthly bill and the risk it was assessed at, all derived
 * from the live resource as observed. Recorded on the approval (`ApprovalRequested.plan`, or the automatic
 * `ApprovalGranted.plan`); pre-validation derives it again from the resource as it is then, and a different plan
 * goes back for approval instead of executing.
 */
export interface ChangePlan {
  /** The resource as observed when the plan was made. */
  readonly observed: ObservedResource;
  /** One line: what becomes what, e.g. `m5.xlarge (running) → m5.large`. */
  readonly change: string;
  readonly steps: readonly Step[];
  readonly rollback: readonly Step[];
  readonly reversible: Reversibility;
  /** Net change of the monthly bill by the price book (negative = saves); absent when unpriced (see `unpriced`). */
  readonly monthlyCostChange?: number;
  readonly unpriced?: readonly string[];
  readonly riskLevel: RiskLevel;
  readonly riskFactors: readonly AppliedFactor[];
}

function describeResource(observed: ObservedResource): string {
  switch (observed.kind) {
    case 'instance':
      return `${observed.instanceType} (${observed.state})`;
    case 'volume':
      return `${observed.volumeType} ${observed.sizeGiB} GiB${observed.iops !== undefined ? `, ${observed.iops} IOPS` : ''}${observed.throughput !== undefined ? `, ${observed.throughput} MiB/s` : ''}${observed.attachedTo ? `, attached to ${observed.attachedTo}` : ''}`;
    case 'snapshot':
      return `snapshot ${observed.sizeGiB} GiB`;
    case 'address':
      return `address ${observed.publicIp}${observed.associationId ? ' (associated)' : ''}`;
    case 'reserved-instances-offering':
      return `offering ${observed.offeringId} (${observed.instanceType}, fixed ${observed.fixedPrice}, ${observed.recurringHourly}/h)`;
    default: {
      const _exhaustive: never = observed;
      return _exhaustive;
    }
  }
}

/** What the resource is expected to be after the steps (for the net cost change); `undefined` when it is gone. */
function expectedAfter(observed: ObservedResource, steps: readonly Step[]): ObservedResource | undefined {
  let after: ObservedResource | undefined = observed;
  for (const step of steps) {
    if (after === undefined) break;
    if (step.kind === 'modify-instance-type' && after.kind === 'instance') after = { ...after, instanceType: step.instanceType };
    else if (step.kind === 'stop-instance' && after.kind === 'instance') after = { ...after, state: 'stopped' };
    else if (step.kind === 'start-instance' && after.kind === 'instance') after = { ...after, state: 'running' };
    else if (step.kind === 'modify-volume' && after.kind === 'volume') {
      after = { ...after, volumeType: step.volumeType, ...(step.iops !== undefined ? { iops: step.iops } : {}), ...(step.throughput !== undefined ? { throughput: step.throughput } : {}) };
    } else if (step.kind === 'delete-volume' || step.kind === 'delete-snapshot' || step.kind === 'release-address') after = undefined;
  }
  return after;
}

function changeOf(rec: Recommendation, observed: ObservedResource, after: ObservedResource | undefined): string {
  const before = describeResource(observed);
  switch (rec.action.type) {
    case 'rightsize':
    case 'stop-idle':
    case 'modify-volume':
      return `${before} → ${after ? describeResource(after) : 'gone'}`;
    case 'delete-volume':
      return `${before} → deleted${rec.action.snapshotFirst ? ', backup snapshot kept' : ', no backup'}`;
    case 'delete-snapshot':
    case 'release-address':
      return `${before} → deleted`;
    case 'purchase-reserved-instances':
      return `${before} → ${rec.action.instanceCount} reserved${rec.action.limitPrice !== undefined ? `, limit ${rec.action.limitPrice}` : ''}`;
    default: {
      const _exhaustive: never = rec.action;
      return _exhaustive;
    }
  }
}

/**
 * How much `rec` would add to the monthly bill on the resource as `observed` (its size, type, IOPS and throughput,
 * priced by the book; what `ChangePlan.monthlyCostChange` says), when it adds anything; `undefined` when it saves, costs
 * nothing more, is unpriced, or the resource is not the kind the action needs. The risk's `costs-more` factor for
 * every action but a rightsize (whose target type the recommendation itself names).
 */
export function addedMonthlyCost(rec: Recommendation, observed: ObservedResource, pb: PriceBook): number | undefined {
  const quote = planQuote(rec, observed, pb);
  return quote && isPriced(quote) && roundMoney(-quote.usd) > 0 ? roundMoney(-quote.usd) : undefined;
}

/**
 * What the plan of `rec` on the resource as `observed` saves a month by the book (negative: it costs more);
 * `undefined` when unpriced, or when the resource is not the kind the action needs. The risk's big-impact factor
 * weighs it with the estimate, as {@link decideApproval} does with the recorded plan's figure.
 */
export function pricedMonthlySavings(rec: Recommendation, observed: ObservedResource, pb: PriceBook): number | undefined {
  const quote = planQuote(rec, observed, pb);
  return quote && isPriced(quote) ? roundMoney(quote.usd) : undefined;
}

/**
 * The figures the book lacks to price `rec` on the resource as `observed`, when the change may add to the bill:
 * - a volume modification, unless it cannot cost more whatever the missing figures are ({@link modificationMayCostMore}:
 *   a gp2 → gp3 conversion that keeps the volume's performance, say, in a region without a gp3 throughput figure);
 * - a reservation purchase, always: it commits its upfront and hourly price for the term, and without the on-demand
 *   price of its type in its region nothing says that it saves anything.
 *
 * `undefined` when the change is priced, or is of another action (they remove or stop what they act on). Such a
 * change is not approved automatically.
 */
export function unpricedAddition(rec: Recommendation, observed: ObservedResource, pb: PriceBook): readonly string[] | undefined {
  if (rec.action.type === 'purchase-reserved-instances') {
    const quote = planQuote(rec, observed, pb);
    return quote && !isPriced(quote) && quote.unpriced.length > 0 ? quote.unpriced : undefined;
  }
  if (rec.action.type !== 'modify-volume' || observed.kind !== 'volume') return undefined;
  const steps = planSteps(rec, observed);
  if (!steps) return undefined;
  const after = expectedAfter(observed, steps);
  const quote = savingsQuote(rec, observed, after, rec.region, pb);
  if (isPriced(quote) || quote.unpriced.length === 0) return undefined;
  return after?.kind === 'volume' && !modificationMayCostMore(observed, after) ? undefined : quote.unpriced;
}

/**
 * Volume types from the cheapest to the dearest, an order that holds in every AWS region (sc1 < st1 < gp3 < gp2 <
 * io2 < io1): per GiB-month, and for io2 and io1 (the same per GiB) by their IOPS, which io2 prices in tiers at most
 * io1's flat rate — io1 → io2 at the same IOPS never costs more, io2 → io1 above 32,000 IOPS does. `standard`
 * (magnetic, billed per I/O) has no place.
 */
const VOLUME_COST_RANK: Readonly<Record<string, number>> = { sc1: 0, st1: 1, gp3: 2, gp2: 3, io2: 4, io1: 5 };

/** What a volume type bills beyond its size: gp3 the IOPS above 3,000 and the MiB/s above 125; io1/io2 every IOPS. */
function billedPerformance(volumeType: string, perf: { iops?: number; throughput?: number }): { iops: number; throughput: number } {
  if (volumeType === 'gp3') {
    return { iops: Math.max(0, (perf.iops ?? 0) - defaultPriceBook.gp3Baseline.iops), throughput: Math.max(0, (perf.throughput ?? 0) - defaultPriceBook.gp3Baseline.throughputMBps) };
  }
  if (volumeType === 'io1' || volumeType === 'io2') return { iops: perf.iops ?? 0, throughput: 0 };
  return { iops: 0, throughput: 0 };
}

/**
 * Whether moving a volume from `before` to `after` (same size) may add to the bill in a region whose prices are not all
 * known: when the type is not cheaper or the same per GiB-month ({@link VOLUME_COST_RANK}; an unknown type may cost
 * anything), or when the new type bills IOPS or throughput beyond what the volume delivers now. Within that, no region
 * charges more: gp3's IOPS and throughput cost less than the gp2 or io1/io2 capacity they replace. A gp2 → gp3
 * conversion keeping gp2's IOPS and throughput never costs more; gp2 → gp3 at 16,000 IOPS on a 100 GiB volume may.
 */
export function modificationMayCostMore(before: ObservedVolume, after: ObservedVolume): boolean {
  const [from, to] = [VOLUME_COST_RANK[before.volumeType], VOLUME_COST_RANK[after.volumeType]];
  if (from === undefined || to === undefined) return before.volumeType !== after.volumeType || !samePerformance(before, after);
  if (to > from) return true;
  const [now, next] = [effectiveVolumePerformance(before), effectiveVolumePerformance(after)];
  const billed = billedPerformance(after.volumeType, next);
  if (billed.iops > 0 && next.iops! > (now.iops ?? 0)) return true;
  if (billed.throughput > 0 && next.throughput! > (now.throughput ?? 0)) return true;
  return after.sizeGiB > before.sizeGiB;
}

function samePerformance(a: ObservedVolume, b: ObservedVolume): boolean {
  const [x, y] = [effectiveVolumePerformance(a), effectiveVolumePerformance(b)];
  return a.sizeGiB === b.sizeGiB && x.iops === y.iops && x.throughput === y.throughput;
}

function planSteps(rec: Recommendation, observed: ObservedResource): Step[] | undefined {
  try {
    return executionPlan(rec, observed, 'cost');
  } catch {
    return undefined;
  }
}

/** The savings quote of `rec`'s plan on the resource as `observed`; `undefined` when it is not the kind the action needs. */
function planQuote(rec: Recommendation, observed: ObservedResource, pb: PriceBook): PriceQuote | undefined {
  const steps = planSteps(rec, observed);
  return steps ? savingsQuote(rec, observed, expectedAfter(observed, steps), rec.region, pb) : undefined;
}

/**
 * The plan of `rec` on the resource as `observed`, at the risk `risk`; `undefined` when the observed resource is not
 * the kind the action needs (pre-validation then fails it). Pure.
 */
export function changePlanOf(rec: Recommendation, observed: ObservedResource, optimizationId: string, risk: RiskAssessment, pb: PriceBook | undefined): ChangePlan | undefined {
  let steps: Step[];
  try {
    steps = executionPlan(rec, observed, optimizationId);
  } catch {
    return undefined;
  }
  const after = expectedAfter(observed, steps);
  const quote = pb ? savingsQuote(rec, observed, after, rec.region, pb) : { unpriced: ['no price book'] };
  const cost = isPriced(quote) ? { monthlyCostChange: roundMoney(-quote.usd) + 0 } : quote.unpriced.length > 0 ? { unpriced: quote.unpriced } : {};
  return {
    observed,
    change: changeOf(rec, observed, after),
    steps,
    rollback: rollbackPlan(rec, observed),
    reversible: reversibility(rec.action),
    ...cost,
    riskLevel: risk.level,
    riskFactors: risk.factors,
  };
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * How the plan derived now differs from the approved one, in words (empty: the same change). Compares what the
 * change does — steps and their targets, rollback, reversibility, the net monthly cost change — not the risk
 * (a higher risk is `RiskReassessed`'s concern).
 */
export function planDifferences(approved: ChangePlan, now: ChangePlan): string[] {
  const differences: string[] = [];
  if (!same(approved.steps, now.steps)) {
    differences.push(`steps: ${approved.steps.map((s) => s.kind).join(', ')} → ${now.steps.map((s) => s.kind).join(', ')} (${approved.change} approved; the resource is now ${now.change})`);
  }
  if (!same(approved.rollback, now.rollback)) differences.push('rollback: the steps that would undo it changed');
  if (approved.reversible !== now.reversible) differences.push(`reversible: ${approved.reversible} → ${now.reversible}`);
  if (approved.monthlyCostChange !== now.monthlyCostChange) {
    const show = (p: ChangePlan) => (p.monthlyCostChange === undefined ? 'unpriced' : `${p.monthlyCostChange}`);
    differences.push(`net monthly cost change: ${show(approved)} → ${show(now)}`);
  }
  return differences;
}

/** A step of a plan in one line: its kind and its targets, e.g. `modify-volume volumeId=vol-1 volumeType=gp3`. */
export function stepText(step: Step): string {
  const { kind, ...targets } = step;
  const parts = Object.entries(targets).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return parts.length > 0 ? `${kind} ${parts.join(' ')}` : kind;
}

/** A plan's net change of the monthly bill by the price book: `−$140.16` (it saves), `+$3.00`, or `unpriced (why)`. */
export function monthlyCostChangeText(plan: Pick<ChangePlan, 'monthlyCostChange' | 'unpriced'>): string {
  const change = plan.monthlyCostChange;
  if (change === undefined) return `unpriced (${(plan.unpriced ?? []).join('; ')})`;
  return `${change < 0 ? '' : '+'}${usdText(change)}`;
}
