import type { Policy } from './policy';
import type { MetricComparison, PerformanceFigures, PerformanceImpact, Recommendation } from './types';

/**
 * What post-validation measured around a change, each figure `undefined` when the metrics source had no data: `before`
 * over a window that ends when the execution started, `after` over `afterWindow`, which starts when the change ended
 * (after the soak), so the "after" numbers are from after.
 */
export interface PerformanceSample {
  readonly before?: PerformanceFigures;
  readonly after?: PerformanceFigures;
  readonly afterWindow?: { readonly from: string; readonly to: string };
  /** The soak the validator waited after the change before reading `after`. */
  readonly soakMinutes?: number;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/** One metric before and after a rightsize, judged by the policy's thresholds (`validation`). */
function compare(sample: PerformanceSample, policy: Policy['validation']): MetricComparison[] {
  const before = sample.before ?? {};
  const after = sample.after ?? {};
  const out: MetricComparison[] = [];
  const figures = (b: number | boolean | undefined, a: number | boolean | undefined) => ({ ...(b === undefined ? {} : { before: b }), ...(a === undefined ? {} : { after: a }) });

  const cpu = figures(before.cpuP95, after.cpuP95);
  if (after.cpuP95 === undefined) out.push({ metric: 'cpu-p95', ...cpu, verdict: 'unknown', counts: true, detail: 'CPU p95: no data after the change' });
  else if (after.cpuP95 > policy.maxCpuP95AfterPct) out.push({ metric: 'cpu-p95', ...cpu, verdict: 'degraded', counts: true, detail: `CPU p95 after the change ${after.cpuP95}% is above ${policy.maxCpuP95AfterPct}%` });
  else out.push({ metric: 'cpu-p95', ...cpu, verdict: 'ok', counts: true, detail: `CPU p95 after the change ${after.cpuP95}% is at most ${policy.maxCpuP95AfterPct}%` });

  // Memory comes from the CloudWatch agent: without data before either, the instance does not publish it.
  const memory = figures(before.memoryUsedPct, after.memoryUsedPct);
  const published = before.memoryUsedPct !== undefined || after.memoryUsedPct !== undefined;
  if (after.memoryUsedPct === undefined) {
    out.push({ metric: 'memory-used', ...memory, verdict: 'unknown', counts: published, detail: published ? 'memory used: no data after the change' : 'memory used: not published (no CloudWatch agent data before or after)' });
  } else if (after.memoryUsedPct > policy.maxMemoryUsedPctAfter) {
    out.push({ metric: 'memory-used', ...memory, verdict: 'degraded', counts: true, detail: `memory used after the change ${after.memoryUsedPct}% is above ${policy.maxMemoryUsedPctAfter}%` });
  } else out.push({ metric: 'memory-used', ...memory, verdict: 'ok', counts: true, detail: `memory used after the change ${after.memoryUsedPct}% is at most ${policy.maxMemoryUsedPctAfter}%` });

  for (const [metric, label, b, a] of [
    ['network-in', 'network in', before.networkInBytesPerSec, after.networkInBytesPerSec],
    ['network-out', 'network out', before.networkOutBytesPerSec, after.networkOutBytesPerSec],
  ] as const) {
    const pair = figures(b, a);
    if (a === undefined || b === undefined) {
      out.push({ metric, ...pair, verdict: 'unknown', counts: true, detail: `${label}: no data ${a === undefined ? 'after' : 'before'} the change` });
      continue;
    }
    const floor = round2(b * (1 - policy.maxNetworkDropPct / 100));
    const drop = b > 0 ? round2(((b - a) / b) * 100) : 0;
    if (a < floor) out.push({ metric, ...pair, verdict: 'degraded', counts: true, detail: `${label} fell ${drop}% after the change (${b} → ${a} B/s), more than ${policy.maxNetworkDropPct}%` });
    else out.push({ metric, ...pair, verdict: 'ok', counts: true, detail: `${label} ${b} → ${a} B/s, within a ${policy.maxNetworkDropPct}% drop` });
  }

  const checks = figures(before.statusChecksPassed, after.statusChecksPassed);
  if (after.statusChecksPassed === undefined) out.push({ metric: 'status-checks', ...checks, verdict: 'unknown', counts: true, detail: 'status checks: no data after the change' });
  else if (!after.statusChecksPassed) out.push({ metric: 'status-checks', ...checks, verdict: 'degraded', counts: true, detail: 'status checks failed after the change' });
  else out.push({ metric: 'status-checks', ...checks, verdict: 'ok', counts: true, detail: 'status checks passed after the change' });
  return out;
}

/**
 * Performance verdict of a change. A rightsize compares CPU p95, memory used (where the CloudWatch agent publishes it),
 * network in and out and the status checks before and after, each against the policy (`validation`): `degraded` when
 * one is; else `unknown` when one that counts had no data (memory counts only where it was published), never `ok` by
 * accident; else `ok`. A stopped instance (stop-idle) has no load to measure: `ok` unless a status check failed.
 * Actions that do not touch compute are `ok` without data. The figures and the comparison are recorded.
 */
export function performanceImpact(rec: Recommendation, sample: PerformanceSample, policy: Policy): PerformanceImpact {
  const before = sample.before ?? {};
  const after = sample.after ?? {};
  const figures = {
    ...(before.cpuP95 !== undefined ? { cpuP95Before: before.cpuP95 } : {}),
    ...(after.cpuP95 !== undefined ? { cpuP95After: after.cpuP95 } : {}),
    ...(after.statusChecksPassed !== undefined ? { statusChecksPassed: after.statusChecksPassed } : {}),
    ...(sample.afterWindow ? { afterWindow: sample.afterWindow } : {}),
    ...(sample.soakMinutes !== undefined ? { soakMinutes: sample.soakMinutes } : {}),
  };
  if (rec.action.type === 'rightsize') {
    const comparison = compare(sample, policy.validation);
    const verdict = comparison.some((c) => c.verdict === 'degraded') ? 'degraded' : comparison.some((c) => c.verdict === 'unknown' && c.counts) ? 'unknown' : 'ok';
    return { ...figures, comparison, verdict };
  }
  if (after.statusChecksPassed === false) return { ...figures, verdict: 'degraded' };
  return { ...figures, verdict: 'ok' };
}

/** The reasons a performance impact fails validation: each degraded metric; each unknown one that counts when the policy's `unknownBlocks`. */
export function performanceProblems(impact: PerformanceImpact, policy?: Policy): string[] {
  if (impact.comparison) {
    const degraded = impact.comparison.filter((c) => c.verdict === 'degraded').map((c) => `performance degraded: ${c.detail}`);
    const unknown = policy?.validation.unknownBlocks ? impact.comparison.filter((c) => c.verdict === 'unknown' && c.counts).map((c) => `performance unknown: ${c.detail}`) : [];
    return [...degraded, ...unknown];
  }
  if (impact.verdict !== 'degraded') return [];
  const cpu = impact.cpuP95After !== undefined ? `CPU p95 after the change ${impact.cpuP95After}%` : undefined;
  if (impact.statusChecksPassed === false) return [`performance degraded: status checks failed after the change${cpu ? ` (${cpu})` : ''}`];
  return [`performance degraded: ${cpu ?? 'no detail'}${cpu && impact.cpuP95Before !== undefined ? `, before ${impact.cpuP95Before}%` : ''}`];
}
