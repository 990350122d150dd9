import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  assessRisk,
  changePlanOf,
  decideApproval,
  defaultPolicy,
  defaultPriceBook,
  instanceMonthly,
  parsePolicy,
  parseRecommendation,
  preValidationProblems,
  volumeMonthly,
  vcpusOf as priceBookVcpus,
  type ObservedResource,
  type Policy,
  type Recommendation,
} from '@optex/domain';
import { SimulatedFleet } from './simulated-fleet';
import { vcpusOf } from './instance-types';

// Keeps examples/ consistent with the fleet, the domain's policy and examples/README.md's outcome table.

const examples = join(__dirname, '..', '..', '..', '..', '..', 'examples');
const readJson = (name: string): unknown => JSON.parse(readFileSync(join(examples, name), 'utf8'));

type Outcome = 'completed' | 'failed' | 'rolled-back' | 'rollback-failed' | 'awaiting-approval';
/** recommendationId → [risk, outcome under the default policy, outcome under examples/policy.json] (the README's table). */
const EXPECTED: Record<string, [string, Outcome, Outcome]> = {
  'co-ebs-2026-11-0001': ['LOW', 'completed', 'completed'],
  'co-ebs-2026-11-0002': ['LOW', 'completed', 'completed'],
  'co-ebs-2026-11-0003': ['LOW', 'completed', 'awaiting-approval'],
  'co-ebs-2026-11-0004': ['LOW', 'completed', 'completed'],
  'co-ebs-2026-11-0005': ['LOW', 'completed', 'completed'],
  'co-ebs-2026-11-0006': ['LOW', 'failed', 'failed'],
  'finops-ebs-gp3-0007': ['MEDIUM', 'awaiting-approval', 'completed'],
  'finops-ri-2026-11-001': ['LOW', 'completed', 'completed'],
  'finops-ri-2026-11-002': ['LOW', 'completed', 'completed'],
  'finops-ri-2026-11-003': ['LOW', 'completed', 'completed'],
  'finops-ri-2026-11-004': ['LOW', 'failed', 'failed'],
  'finops-ri-2026-11-005': ['LOW', 'awaiting-approval', 'awaiting-approval'],
  'co-ec2-2026-11-0001': ['MEDIUM', 'awaiting-approval', 'completed'],
  'co-ec2-2026-11-0002': ['MEDIUM', 'awaiting-approval', 'rolled-back'],
  'co-ec2-2026-11-0003': ['MEDIUM', 'awaiting-approval', 'rolled-back'],
  'co-ec2-2026-11-0004': ['MEDIUM', 'awaiting-approval', 'failed'],
  'co-ec2-2026-11-0005': ['CRITICAL', 'awaiting-approval', 'awaiting-approval'],
  'co-ec2-2026-11-0006': ['MEDIUM', 'awaiting-approval', 'rollback-failed'],
  'custodian-ec2-idle-0001': ['MEDIUM', 'awaiting-approval', 'completed'],
  'co-ec2-idle-2026-11-0002': ['HIGH', 'awaiting-approval', 'awaiting-approval'],
  'custodian-ebs-unattached-0001': ['HIGH', 'awaiting-approval', 'awaiting-approval'],
  'custodian-ebs-unattached-0002': ['HIGH', 'awaiting-approval', 'awaiting-approval'],
  'custodian-snapshot-old-0001': ['CRITICAL', 'awaiting-approval', 'awaiting-approval'],
  'custodian-eip-unused-0001': ['HIGH', 'awaiting-approval', 'awaiting-approval'],
  // sent without tags; the live instance is tagged env=production, criticality=critical
  'custodian-ec2-idle-0003': ['CRITICAL', 'awaiting-approval', 'awaiting-approval'],
};

const window = { from: new Date(0), to: new Date(1) };

/** What pre-validation would see of the recommendation's resource in the simulated fleet. */
async function observe(fleet: SimulatedFleet, rec: Recommendation): Promise<ObservedResource | undefined> {
  const ref = { accountId: rec.accountId, region: rec.region, id: rec.resource.id };
  switch (rec.resource.type) {
    case 'ec2:instance': {
      const i = await fleet.describeInstance(ref);
      const cpuP95 = await fleet.cpuP95(ref, window);
      return i && { kind: 'instance', id: i.id, instanceType: i.instanceType, state: i.state, tags: i.tags, ...(cpuP95 === undefined ? {} : { cpuP95 }) };
    }
    case 'ec2:volume': {
      const v = await fleet.describeVolume(ref);
      return v && { kind: 'volume', ...v, lastModificationStartedAt: v.lastModificationStartedAt?.toISOString() };
    }
    case 'ec2:snapshot': {
      const s = await fleet.describeSnapshot(ref);
      return s && { kind: 'snapshot', id: s.id, sizeGiB: s.sizeGiB, state: s.state, usedByImages: s.usedByImages };
    }
    case 'ec2:elastic-ip': {
      const a = await fleet.describeAddress(ref);
      return a && { kind: 'address', ...a };
    }
    case 'ec2:reserved-instances': {
      if (rec.action.type !== 'purchase-reserved-instances') return undefined;
      const o = await fleet.describeReservedInstancesOffering({ ...ref, id: rec.action.offeringId });
      return o && { kind: 'reserved-instances-offering', ...o };
    }
  }
}

describe('examples/', () => {
  const raw = readJson('recommendations.json') as unknown[];
  const recommendations = raw.map((r, index) => {
    const parsed = parseRecommendation(r);
    if (!parsed.ok) throw new Error(`recommendations.json[${index}]: ${parsed.errors.map((e) => e.message).join('; ')}`);
    return parsed.value;
  });
  const policyResult = parsePolicy(readJson('policy.json'));
  if (!policyResult.ok) throw new Error(`policy.json: ${policyResult.errors.map((e) => e.message).join('; ')}`);
  const examplePolicy: Policy = policyResult.value;
  let fleet: SimulatedFleet;
  beforeEach(async () => {
    fleet = await SimulatedFleet.open({ fleetFile: join(examples, 'fleet.json') });
  });

  it('holds 25 valid recommendations over all seven actions, two accounts and two regions, as the README tabulates', () => {
    expect(recommendations).toHaveLength(25);
    expect(new Set(recommendations.map((r) => r.action.type)).size).toBe(7);
    expect(new Set(recommendations.map((r) => r.accountId)).size).toBe(2);
    expect(new Set(recommendations.map((r) => r.region))).toEqual(new Set(['us-east-1', 'eu-west-1']));
    expect(new Set(recommendations.map((r) => r.source))).toEqual(new Set(['aws-compute-optimizer', 'cloud-custodian', 'finops-scripts']));
    expect(recommendations.map((r) => r.recommendationId).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('assesses risk (on the recommendation and the live resource, as the risk-assessor does) and approval as the README says, under the default policy and examples/policy.json', async () => {
    for (const rec of recommendations) {
      const [risk, underDefault, underExample] = EXPECTED[rec.recommendationId]!;
      const live = { observed: await observe(fleet, rec) };
      for (const [policy, outcome] of [
        [defaultPolicy, underDefault],
        [examplePolicy, underExample],
      ] as const) {
        const assessment = assessRisk(rec, policy, defaultPriceBook, live);
        expect({ id: rec.recommendationId, risk: assessment.level }).toEqual({ id: rec.recommendationId, risk });
        // As the decider does: the plan on the live resource, whose savings by the book count against the limit too.
        const mode = decideApproval(assessment, rec, policy, live.observed && changePlanOf(rec, live.observed, 'example', assessment, defaultPriceBook)).mode;
        expect({ id: rec.recommendationId, mode }).toEqual({ id: rec.recommendationId, mode: outcome === 'awaiting-approval' ? 'manual' : 'auto' });
      }
    }
    const critical = recommendations.filter((r) => assessRisk(r, defaultPolicy).level === 'CRITICAL');
    expect(critical.map((r) => decideApproval(assessRisk(r, defaultPolicy), r, defaultPolicy))).toEqual(
      critical.map(() => expect.objectContaining({ authority: 'change-board', requiredApprovals: 2 })),
    );
  });

  it('finds every resource in the fleet; pre-validation fails exactly where the README says it does', async () => {
    const failing: Record<string, RegExp> = {
      'co-ebs-2026-11-0006': /IncorrectModificationState: .* is already being modified/,
      'finops-ri-2026-11-004': /LimitPriceExceeded: .* greater than the limit price/,
      'co-ec2-2026-11-0004': /is t3\.2xlarge, the recommendation expects t3\.xlarge/,
      'custodian-ebs-unattached-0002': /VolumeInUse: .* attached to/,
    };
    for (const rec of recommendations) {
      const problems = preValidationProblems(rec, await observe(fleet, rec));
      const expected = failing[rec.recommendationId];
      if (expected) expect({ id: rec.recommendationId, problems: problems.join('; ') }).toEqual({ id: rec.recommendationId, problems: expect.stringMatching(expected) });
      else expect({ id: rec.recommendationId, problems }).toEqual({ id: rec.recommendationId, problems: [] });
    }
  });

  it("gives the analyzers' gross estimates (rightsize, stop-idle, storage only for modify-volume) of us-east-1 from the book", async () => {
    // The examples' estimates are what analyzers send: a modify-volume estimate is the storage difference, without the
    // gp3 IOPS/throughput the change adds (the net realized savings are checked in libs/runtime/src/realized-savings.spec.ts).
    // Their eu-west-1 estimates were made with us-east-1 figures (examples/README.md), as an analyzer might; the book prices
    // eu-west-1 with its own figures, so those estimates differ from it (0.141 × 730 = 102.93 for the r5.large, not 91.98).
    const money = (value: number) => Math.round(value * 100) / 100;
    const difference = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a - b);
    let compared = 0;
    for (const rec of recommendations) {
      const observed = await observe(fleet, rec);
      let expected: number | undefined;
      if (rec.action.type === 'rightsize') {
        expected = difference(instanceMonthly(defaultPriceBook, rec.region, rec.action.currentInstanceType), instanceMonthly(defaultPriceBook, rec.region, rec.action.targetInstanceType));
        expect(rec.resource.monthlyCost).toBeCloseTo(instanceMonthly(defaultPriceBook, rec.region, rec.action.currentInstanceType)!, 2);
      } else if (rec.action.type === 'stop-idle' && observed?.kind === 'instance') {
        expected = instanceMonthly(defaultPriceBook, rec.region, observed.instanceType);
      } else if (rec.action.type === 'modify-volume' && observed?.kind === 'volume') {
        expected = difference(volumeMonthly(defaultPriceBook, rec.region, observed.volumeType, observed.sizeGiB), volumeMonthly(defaultPriceBook, rec.region, rec.action.targetVolumeType, observed.sizeGiB));
      }
      if (expected !== undefined && rec.region === 'us-east-1') {
        compared += 1;
        expect({ id: rec.recommendationId, savings: rec.estimatedMonthlySavings }).toEqual({ id: rec.recommendationId, savings: money(expected) });
      } else if (expected !== undefined) {
        expect({ id: rec.recommendationId, region: rec.region, differs: rec.estimatedMonthlySavings !== money(expected) }).toEqual({ id: rec.recommendationId, region: 'eu-west-1', differs: true });
      }
    }
    expect(compared).toBeGreaterThan(10);
  });

  it('makes the CPU of the rolled-back rightsize land above 80 % and the others below, with the price book\'s vCPUs', async () => {
    for (const rec of recommendations) {
      if (rec.action.type !== 'rightsize') continue;
      const { currentInstanceType: from, targetInstanceType: to } = rec.action;
      expect(vcpusOf(from)).toBe(priceBookVcpus(defaultPriceBook, from) ?? vcpusOf(from));
      const cpu = await fleet.cpuP95({ accountId: rec.accountId, region: rec.region, id: rec.resource.id }, window);
      const after = (cpu! * vcpusOf(from)!) / vcpusOf(to)!;
      expect({ id: rec.recommendationId, overLimit: after > 80 }).toEqual({ id: rec.recommendationId, overLimit: rec.recommendationId === 'co-ec2-2026-11-0002' });
    }
  });

  it('has the faults the README describes: transient ones that retries absorb, non-transient ones that fail a start', () => {
    const faults = fleet.snapshot().faults.map((f) => `${f.resourceId} ${f.operation} ${f.error} ×${f.times}`);
    expect(faults).toEqual([
      'vol-0a1b2c3d4e5f60004 ModifyVolume RequestLimitExceeded ×2',
      '3e1f6a2b-7c4d-4e8f-9a0b-1c2d3e4f5a02 purchaseReservedInstancesOffering ServiceUnavailable ×1',
      'i-0a1b2c3d4e5f60003 StartInstances Unsupported ×1',
      'i-0a1b2c3d4e5f60006 startInstance Unsupported ×2',
    ]);
  });

  it('keeps 4 valid and 2 invalid records in recommendations-with-errors.ndjson', () => {
    const lines = readFileSync(join(examples, 'recommendations-with-errors.ndjson'), 'utf8').trim().split('\n');
    const results = lines.map((line) => parseRecommendation(JSON.parse(line)));
    expect(results.map((r) => r.ok)).toEqual([true, false, true, true, false, true]);
    const ids = new Set(recommendations.map((r) => r.recommendationId));
    for (const r of results) if (r.ok) expect(ids.has(r.value.recommendationId)).toBe(false);
  });
});
