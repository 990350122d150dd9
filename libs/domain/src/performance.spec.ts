import { recs } from './__fixtures__';
import { defaultPolicy, parsePolicy } from './policy';
import { performanceImpact, performanceProblems } from './performance';

const before = { cpuP95: 40, memoryUsedPct: 50, networkInBytesPerSec: 2000, networkOutBytesPerSec: 1000, statusChecksPassed: true };
const verdicts = (impact: ReturnType<typeof performanceImpact>) => Object.fromEntries((impact.comparison ?? []).map((c) => [c.metric, c.verdict]));

describe('performance before and after a rightsize (given the figures, when judged by the policy)', () => {
  it('given every figure within the thresholds, then ok, with each metric compared', () => {
    const impact = performanceImpact(recs.rightsize, { before, after: { ...before, cpuP95: 80, memoryUsedPct: 90, networkInBytesPerSec: 1000 } }, defaultPolicy);
    expect(impact.verdict).toBe('ok');
    expect(verdicts(impact)).toEqual({ 'cpu-p95': 'ok', 'memory-used': 'ok', 'network-in': 'ok', 'network-out': 'ok', 'status-checks': 'ok' });
  });

  it('given CPU p95 after just above 80, then degraded', () => {
    expect(performanceImpact(recs.rightsize, { before, after: { ...before, cpuP95: 80.1 } }, defaultPolicy)).toMatchObject({ cpuP95Before: 40, cpuP95After: 80.1, verdict: 'degraded' });
  });

  it('given network out falling by more than half, then degraded', () => {
    const impact = performanceImpact(recs.rightsize, { before, after: { ...before, networkOutBytesPerSec: 499 } }, defaultPolicy);
    expect(verdicts(impact)['network-out']).toBe('degraded');
    expect(performanceProblems(impact, defaultPolicy)).toEqual(['performance degraded: network out fell 50.1% after the change (1000 → 499 B/s), more than 50%']);
  });

  it('given a failed status check after, then degraded whatever the CPU', () => {
    expect(performanceImpact(recs.rightsize, { before, after: { ...before, cpuP95: 10, statusChecksPassed: false } }, defaultPolicy).verdict).toBe('degraded');
    expect(performanceImpact(recs.stopIdle, { after: { statusChecksPassed: false } }, defaultPolicy).verdict).toBe('degraded');
  });

  it('given no data after, then unknown (never ok by accident); a problem only when the policy says unknown blocks', () => {
    const impact = performanceImpact(recs.rightsize, { before }, defaultPolicy);
    expect(impact.verdict).toBe('unknown');
    expect(verdicts(impact)).toEqual({ 'cpu-p95': 'unknown', 'memory-used': 'unknown', 'network-in': 'unknown', 'network-out': 'unknown', 'status-checks': 'unknown' });
    expect(performanceProblems(impact, defaultPolicy)).toEqual([]);
    const strict = parsePolicy({ validation: { unknownBlocks: true } });
    if (!strict.ok) throw new Error('policy');
    expect(performanceProblems(impact, strict.value)).toHaveLength(5);
  });

  it('given passing status checks but no CPU data, then unknown, not ok', () => {
    expect(performanceImpact(recs.rightsize, { after: { statusChecksPassed: true } }, defaultPolicy).verdict).toBe('unknown');
  });

  it('given an instance that never published memory (no CloudWatch agent), then memory is unknown but does not count', () => {
    const { memoryUsedPct: _none, ...noAgent } = before;
    const impact = performanceImpact(recs.rightsize, { before: noAgent, after: noAgent }, defaultPolicy);
    expect(impact.comparison?.find((c) => c.metric === 'memory-used')).toEqual({ metric: 'memory-used', verdict: 'unknown', counts: false, detail: 'memory used: not published (no CloudWatch agent data before or after)' });
    expect(impact.verdict).toBe('ok');
  });

  it('given a stopped idle instance, then ok whatever its CPU after; actions that touch no compute are ok without data', () => {
    expect(performanceImpact(recs.stopIdle, { before: { cpuP95: 2 }, after: { cpuP95: 95 } }, defaultPolicy).verdict).toBe('ok');
    expect(performanceImpact(recs.deleteSnapshot, {}, defaultPolicy)).toEqual({ verdict: 'ok' });
  });

  it('records the window the after figures come from and the soak', () => {
    const afterWindow = { from: '2026-03-01T10:30:00.000Z', to: '2026-03-01T10:45:00.000Z' };
    expect(performanceImpact(recs.rightsize, { before, after: before, afterWindow, soakMinutes: 15 }, defaultPolicy)).toMatchObject({ afterWindow, soakMinutes: 15 });
  });

  it('follows the policy thresholds, refused with their path when out of range', () => {
    const policy = parsePolicy({ validation: { maxCpuP95AfterPct: 60, maxMemoryUsedPctAfter: 70 } });
    if (!policy.ok) throw new Error('policy');
    expect(verdicts(performanceImpact(recs.rightsize, { before, after: { ...before, cpuP95: 61, memoryUsedPct: 71 } }, policy.value))).toMatchObject({ 'cpu-p95': 'degraded', 'memory-used': 'degraded' });
    expect(parsePolicy({ validation: { maxNetworkDropPct: 101 } })).toMatchObject({ ok: false, errors: [{ path: 'validation.maxNetworkDropPct' }] });
    expect(parsePolicy({ validation: { soakMinutes: -5 } })).toMatchObject({ ok: false, errors: [{ path: 'validation.soakMinutes' }] });
    expect(parsePolicy({ validation: { unknownBlocks: 'yes' } })).toMatchObject({ ok: false, errors: [{ path: 'validation.unknownBlocks' }] });
  });
});
