import { DeciderSpecification } from './__fixtures__/decider-spec';
import { AT, NOW, OPT_ID, cmd, ev, observed, recs } from './__fixtures__';
import { changePlanOf, modificationMayCostMore, monthlyCostChangeText, planDifferences, stepText, unpricedAddition } from './change-plan';
import { optimizationDecider, type OptimizationState } from './decider';
import { defaultPolicy, parsePolicy, type Policy } from './policy';
import { defaultPriceBook } from './pricing';
import type { OptimizationEvent } from './events';
import type { ObservedResource, Recommendation, RiskAssessment } from './types';

// Approval of an exact plan (issue 8): what is approved is the recorded plan; a different plan at execution asks again.

const spec = DeciderSpecification.for(optimizationDecider);
const fold = (events: readonly OptimizationEvent[]): OptimizationState => events.reduce(optimizationDecider.evolve, optimizationDecider.initialState());
const running = observed.runningInstance;
const stopped = observed.stoppedInstance;
const rightsize = recs.rightsize;
const medium: RiskAssessment = { baseLevel: 'MEDIUM', level: 'MEDIUM', factors: [], policyVersion: 'default-v1' };
const received = (r: Recommendation = rightsize, dryRun = false) => ev('OptimizationReceived', { recommendation: r, dryRun, deliveryId: 'd-1' });
const assessedOn = (live: ObservedResource, r: Recommendation = rightsize, level: RiskAssessment = medium) =>
  ev('RiskAssessed', { ...level, basis: { stated: r.action.type === 'rightsize' ? { instanceType: r.action.currentInstanceType } : {}, live: { found: true, observed: live } } });
const decide = (policy: Policy = defaultPolicy) => cmd('DecideApproval', { policy, priceBook: defaultPriceBook });
const autoAll = (() => {
  const p = parsePolicy({ approval: { autoApprove: { maxLevel: 'CRITICAL', maxMonthlySavings: 1_000_000 } } });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return p.value;
})();

describe('changePlanOf', () => {
  it('holds the steps with their targets, the rollback, the reversibility, the net monthly cost change and the risk', () => {
    expect(changePlanOf(rightsize, running, OPT_ID, medium, defaultPriceBook)).toEqual({
      observed: running,
      change: 'm5.xlarge (running) → m5.large (running)',
      steps: [
        { kind: 'stop-instance', instanceId: 'i-0abc' },
        { kind: 'wait-instance-stopped', instanceId: 'i-0abc' },
        { kind: 'modify-instance-type', instanceId: 'i-0abc', instanceType: 'm5.large' },
        { kind: 'start-instance', instanceId: 'i-0abc' },
        { kind: 'wait-instance-running', instanceId: 'i-0abc' },
      ],
      rollback: [
        { kind: 'stop-instance', instanceId: 'i-0abc' },
        { kind: 'wait-instance-stopped', instanceId: 'i-0abc' },
        { kind: 'modify-instance-type', instanceId: 'i-0abc', instanceType: 'm5.xlarge' },
        { kind: 'start-instance', instanceId: 'i-0abc' },
        { kind: 'wait-instance-running', instanceId: 'i-0abc' },
      ],
      reversible: 'yes',
      monthlyCostChange: -70.08,
      riskLevel: 'MEDIUM',
      riskFactors: [],
    });
  });

  it('gives a gp2 → gp3 change its IOPS and throughput targets and its net cost (100 GiB gp2 10.00 → gp3 8.00 + 3 MiB/s above the baseline 0.12: it saves 1.88)', () => {
    const plan = changePlanOf(recs.modifyVolume, observed.gp2Volume, OPT_ID, medium, defaultPriceBook);
    expect(plan?.steps).toEqual([{ kind: 'modify-volume', volumeId: 'vol-0abc', volumeType: 'gp3', iops: 3000, throughput: 128 }]);
    expect(plan?.monthlyCostChange).toBe(-1.88);
  });

  it('says unpriced, never 0, when the region is not in the price book', () => {
    const saEast = { ...rightsize, region: 'sa-east-1' };
    expect(changePlanOf(saEast, running, OPT_ID, medium, defaultPriceBook)).toMatchObject({ unpriced: ['region sa-east-1 (not in the price book)'] });
    expect(changePlanOf(saEast, running, OPT_ID, medium, defaultPriceBook)?.monthlyCostChange).toBeUndefined();
  });

  it("prices another region with that region's own figures", () => {
    // eu-west-1: m5.large 0.107 × 730 = 78.11, m5.xlarge 0.214 × 730 = 156.22; 78.11 − 156.22 = −78.11
    const euWest = { ...rightsize, region: 'eu-west-1' };
    expect(changePlanOf(euWest, running, OPT_ID, medium, defaultPriceBook)?.monthlyCostChange).toBe(-78.11);
  });

  it('has no plan for a resource of another kind than the action needs', () => {
    expect(changePlanOf(rightsize, observed.gp2Volume, OPT_ID, medium, defaultPriceBook)).toBeUndefined();
  });

  it('planDifferences names what changed, and nothing for the same plan', () => {
    const approved = changePlanOf(rightsize, running, OPT_ID, medium, defaultPriceBook)!;
    expect(planDifferences(approved, approved)).toEqual([]);
    expect(planDifferences(approved, changePlanOf(rightsize, stopped, OPT_ID, medium, defaultPriceBook)!)).toEqual([
      'steps: stop-instance, wait-instance-stopped, modify-instance-type, start-instance, wait-instance-running → modify-instance-type (m5.xlarge (running) → m5.large (running) approved; the resource is now m5.xlarge (stopped) → m5.large (stopped))',
      'rollback: the steps that would undo it changed',
      'net monthly cost change: -70.08 → 0',
    ]);
  });
});

describe('a volume modification the price book cannot price: may it add to the bill?', () => {
  type Volume = Extract<ObservedResource, { kind: 'volume' }>;
  const volume = (volumeType: string, sizeGiB: number, extra: { iops?: number; throughput?: number } = {}): Volume => ({
    kind: 'volume',
    id: 'vol-0abc',
    volumeType,
    sizeGiB,
    ...extra,
    state: 'available',
    availabilityZone: 'sa-east-1a',
    tags: {},
  });
  const cases: [string, Volume, Volume, boolean][] = [
    ['gp2 → gp3 keeping gp2 IOPS and throughput (300 GiB: 900 IOPS, 250 MiB/s)', volume('gp2', 300), volume('gp3', 300, { iops: 3000, throughput: 250 }), false],
    ['gp2 → gp3 of a large gp2 (16,000 IOPS kept)', volume('gp2', 6000), volume('gp3', 6000, { iops: 16000, throughput: 250 }), false],
    ['gp2 → gp3 asking more IOPS than the volume delivers', volume('gp2', 100), volume('gp3', 100, { iops: 16000, throughput: 128 }), true],
    ['gp2 → gp3 asking more throughput than the volume delivers', volume('gp2', 100), volume('gp3', 100, { iops: 3000, throughput: 1000 }), true],
    ['gp3 → gp3 with more IOPS', volume('gp3', 100, { iops: 4000, throughput: 125 }), volume('gp3', 100, { iops: 8000, throughput: 125 }), true],
    ['gp3 → gp3 with fewer IOPS', volume('gp3', 100, { iops: 8000, throughput: 125 }), volume('gp3', 100, { iops: 4000, throughput: 125 }), false],
    ['gp2 → io2 (dearer per GiB)', volume('gp2', 500), volume('io2', 500, { iops: 64000 }), true],
    ['gp2 → io1', volume('gp2', 500), volume('io1', 500, { iops: 1500 }), true],
    ['io1 → io2 with the same IOPS', volume('io1', 400, { iops: 6000 }), volume('io2', 400, { iops: 6000 }), false],
    ["io2 → io1 (io1's flat IOPS rate is above io2's tiers from 32,000 IOPS)", volume('io2', 1300, { iops: 64000 }), volume('io1', 1300, { iops: 64000 }), true],
    ['io1 → io1 with more IOPS', volume('io1', 400, { iops: 6000 }), volume('io1', 400, { iops: 9000 }), true],
    ['io1 → gp3 with the same IOPS', volume('io1', 400, { iops: 6000 }), volume('gp3', 400, { iops: 6000, throughput: 125 }), false],
    ['io1 → gp3 with throughput io1 did not bill', volume('io1', 400, { iops: 6000 }), volume('gp3', 400, { iops: 6000, throughput: 500 }), true],
    ['gp2 → st1 and st1 → sc1 (cheaper per GiB)', volume('gp2', 500), volume('st1', 500), false],
    ['sc1 → st1', volume('sc1', 500), volume('st1', 500), true],
    ['standard → gp3 (magnetic: billed per I/O, no place in the order)', volume('standard', 500), volume('gp3', 500, { iops: 3000, throughput: 125 }), true],
  ];
  it.each(cases)('%s', (_name, before, after, expected) => {
    expect(modificationMayCostMore(before, after)).toBe(expected);
  });

  it('gives the figures the book lacks for a reservation purchase, always: it commits money for its term', () => {
    const purchase = { ...recs.purchaseRI, region: 'sa-east-1' };
    expect(unpricedAddition(purchase, observed.offering, defaultPriceBook)).toEqual(['region sa-east-1 (not in the price book)']);
    const unpricedType = { ...observed.offering, instanceType: 'x2iedn.32xlarge' };
    expect(unpricedAddition(recs.purchaseRI, unpricedType, defaultPriceBook)).toEqual([expect.stringContaining('x2iedn.32xlarge')]);
    expect(unpricedAddition(recs.purchaseRI, observed.offering, defaultPriceBook)).toBeUndefined();
    // the actions that remove or stop what they act on are never held for a missing price
    expect(unpricedAddition({ ...recs.releaseAddress, region: 'sa-east-1' }, observed.address, defaultPriceBook)).toBeUndefined();
  });

  it("gives the figures the book lacks only when the change may cost more: a conversion that keeps the volume's performance is not held", () => {
    const rec = (action: Extract<Recommendation['action'], { type: 'modify-volume' }>): Recommendation => ({ ...recs.modifyVolume, region: 'sa-east-1', action });
    // sa-east-1 is not in the book: every figure is missing, so only the rule above decides.
    expect(unpricedAddition(rec({ type: 'modify-volume', targetVolumeType: 'gp3' }), volume('gp2', 300), defaultPriceBook)).toBeUndefined();
    expect(unpricedAddition(rec({ type: 'modify-volume', targetVolumeType: 'io2', iops: 64000 }), volume('gp2', 500), defaultPriceBook)).toEqual(['region sa-east-1 (not in the price book)']);
    expect(unpricedAddition(rec({ type: 'modify-volume', targetVolumeType: 'gp3', iops: 16000 }), volume('gp2', 100), defaultPriceBook)).toEqual(['region sa-east-1 (not in the price book)']);
    // us-east-1 prices io2 IOPS up to 32,000 only; a gp3 with 16,000 IOPS is priced there: nothing lacks, whatever it costs
    const usEast = (action: Extract<Recommendation['action'], { type: 'modify-volume' }>): Recommendation => ({ ...rec(action), region: 'us-east-1' });
    expect(unpricedAddition(usEast({ type: 'modify-volume', targetVolumeType: 'io2', iops: 64000 }), volume('gp2', 500), defaultPriceBook)).toEqual(['io2 provisioned IOPS above 32000 in us-east-1']);
    expect(unpricedAddition(usEast({ type: 'modify-volume', targetVolumeType: 'gp3', iops: 16000 }), volume('gp2', 100), defaultPriceBook)).toBeUndefined();
  });
});

describe('DecideApproval records the plan', () => {
  it('given a risk assessed on the live instance, when approval is asked, then the request carries the exact plan', () => {
    spec
      .given([received(), assessedOn(running)])
      .when(decide())
      .then((events) => {
        expect(events).toEqual([
          ev('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: '2026-03-08T10:00:00.000Z', plan: changePlanOf(rightsize, running, OPT_ID, medium, defaultPriceBook)! }),
        ]);
      });
  });

  it('given an automatic approval, then the grant carries the plan approved', () => {
    spec
      .given([received(), assessedOn(running)])
      .when(decide(autoAll))
      .then([ev('ApprovalGranted', { mode: 'auto', approvers: [], final: true, plan: changePlanOf(rightsize, running, OPT_ID, medium, defaultPriceBook)! })]);
  });

  it('given no live resource seen (an older assessment), then no plan is recorded', () => {
    spec
      .given([received(), ev('RiskAssessed', medium)])
      .when(decide())
      .then([ev('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: '2026-03-08T10:00:00.000Z' })]);
  });
});

describe('RecordPreValidation: the live resource no longer matches the approved plan', () => {
  const upToStarted = (policy: Policy = defaultPolicy): OptimizationEvent[] => {
    const history: OptimizationEvent[] = [received(), assessedOn(running)];
    history.push(...optimizationDecider.decide(decide(policy), fold(history)));
    if (policy === defaultPolicy) history.push(ev('ApprovalGranted', { mode: 'manual', by: 'alice', approvers: ['alice'], final: true }));
    history.push(ev('ExecutionScheduled', { batchId: 'b-1', notBefore: AT, priority: 'MEDIUM' }), ev('ExecutionStarted', { dryRun: false }));
    return history;
  };
  const preValidate = (obs: ObservedResource, policy: Policy = defaultPolicy) =>
    cmd('RecordPreValidation', { observed: obs, activeOnResource: [], scope: defaultPolicy.scope, policy, priceBook: defaultPriceBook });

  it('given a rightsize approved on a running instance, when the instance is found stopped, then the plan change is recorded and approval is asked again, nothing executes', () => {
    spec
      .given(upToStarted())
      .when(preValidate(stopped))
      .then((events, state) => {
        const plan = changePlanOf(rightsize, stopped, OPT_ID, medium, defaultPriceBook)!;
        expect(events).toEqual([
          ev('PlanChanged', { differences: planDifferences(changePlanOf(rightsize, running, OPT_ID, medium, defaultPriceBook)!, plan), plan }),
          ev('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: new Date(NOW.getTime() + 168 * 3600 * 1000).toISOString(), plan }),
        ]);
        expect(state).toMatchObject({ status: 'awaiting-approval', approval: { approvers: [], plan } });
      });
  });

  it('given the same plan, then pre-validation passes', () => {
    spec
      .given(upToStarted())
      .when(preValidate(running))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['PreValidationPassed', 'RollbackPlanRecorded']));
  });

  it('given a policy that approves the new plan automatically, then it is re-approved with the new plan and dispatched again, not executed in this pass', () => {
    spec
      .given(upToStarted(autoAll))
      .when(preValidate(stopped, autoAll))
      .then((events, state) => {
        expect(events.map((e) => e.type)).toEqual(['PlanChanged', 'ApprovalGranted']);
        expect(state).toMatchObject({ status: 'approved', approval: { mode: 'auto', plan: { steps: [{ kind: 'modify-instance-type' }] } } });
        if (state.status === 'initial') throw new Error('unreachable');
        expect(state.schedule).toBeUndefined();
      });
  });

  describe('an automatic approval given with no plan (the volume could not be described when the risk was assessed)', () => {
    const io1: ObservedResource = { ...observed.gp2Volume, volumeType: 'io1', sizeGiB: 16384, iops: 64000 };
    const toGp3 = (estimatedMonthlySavings: number): Recommendation => ({ ...recs.modifyVolume, action: { type: 'modify-volume', targetVolumeType: 'gp3', iops: 16000, throughput: 1000 }, estimatedMonthlySavings });
    const approvedBlind = (r: Recommendation): OptimizationEvent[] => [
      received(r),
      ev('RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'default-v1', basis: { stated: {}, live: { found: false, error: { code: 'UnauthorizedOperation', message: 'no DescribeVolumes' } } } }),
      ev('ApprovalGranted', { mode: 'auto', approvers: [], final: true }),
      ev('ExecutionScheduled', { batchId: 'b-1', notBefore: AT, priority: 'MEDIUM' }),
      ev('ExecutionStarted', { dryRun: false }),
    ];

    it('given a plan that saves more by the book than the limit, then a person approves it first: nothing executes', () => {
      // io1 16,384 GiB + 64,000 IOPS → gp3 16,000 IOPS, 1,000 MiB/s saves ~$4,797/month by the book, against an estimate of $50
      spec
        .given(approvedBlind(toGp3(50)))
        .when(preValidate(io1))
        .then((events, state) => {
          expect(events.map((e) => e.type)).toEqual(['PlanChanged', 'ApprovalRequested']);
          expect((events[0]!.data as unknown as { differences: string[] }).differences).toEqual([expect.stringMatching(/^approved automatically without a plan \(vol-0abc was not described then\); the plan now: io1 16384 GiB/)]);
          expect(state).toMatchObject({ status: 'awaiting-approval', approval: { mode: 'manual', plan: { monthlyCostChange: expect.any(Number) } } });
        });
    });

    it('given a plan the policy still approves automatically, then pre-validation passes', () => {
      const small: ObservedResource = { ...observed.gp2Volume };
      spec
        .given(approvedBlind(recs.modifyVolume))
        .when(preValidate(small))
        .then((events) => expect(events.map((e) => e.type)).toEqual(['PreValidationPassed', 'RollbackPlanRecorded']));
    });
  });

  it('given a dry run, then the plan is not re-approved', () => {
    spec
      .given([received(rightsize, true), ...upToStarted().slice(1, -1), ev('ExecutionStarted', { dryRun: true })])
      .when(preValidate(stopped))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['PreValidationPassed', 'RollbackPlanRecorded']));
  });
});

describe('a plan in words (the CLI and the console print it alike)', () => {
  it('a step is its kind and its targets; the net monthly change is signed, or unpriced with why', () => {
    expect(stepText({ kind: 'modify-volume', volumeId: 'vol-1', volumeType: 'gp3' })).toBe('modify-volume volumeId=vol-1 volumeType=gp3');
    expect(stepText({ kind: 'wait-instance-stopped', instanceId: 'i-1' })).toBe('wait-instance-stopped instanceId=i-1');
    expect(monthlyCostChangeText({ monthlyCostChange: -70.08 })).toBe('−$70.08');
    expect(monthlyCostChangeText({ monthlyCostChange: 3 })).toBe('+$3.00');
    expect(monthlyCostChangeText({ unpriced: ['no price for io2 in ap-east-2'] })).toBe('unpriced (no price for io2 in ap-east-2)');
  });
});
