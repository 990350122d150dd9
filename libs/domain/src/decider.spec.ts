import { DeciderSpecification } from './__fixtures__/decider-spec';
import { AT, NOW, OPT_ID, cmd, ev, observed, recommendation, recs } from './__fixtures__';
import { ACTIVE_EXECUTION_STATUSES, TERMINAL_STATUSES, foldOptimization, isTerminal, optimizationDecider } from './decider';
import type { OptimizationState } from './decider';
import { DomainError } from './errors';
import { executionPlan, rollbackPlan } from './plans';
import { defaultPolicy } from './policy';
import { defaultPriceBook } from './pricing';
import { nextMove } from './process';
import { viewOf } from './projection';
import type { OptimizationEvent } from './events';
import type { LiveResource, PerformanceImpact, Recommendation, Step } from './types';
import type { PerformanceSample } from './performance';

const spec = DeciderSpecification.for(optimizationDecider);
const at = (iso: string) => new Date(iso);
const later = (ms: number) => new Date(NOW.getTime() + ms);
const DAY = 24 * 3600 * 1000;
const EXPIRES = '2026-03-08T10:00:00.000Z';
const running = observed.runningInstance;
const known = (state: OptimizationState) => {
  if (state.status === 'initial') throw new Error('expected a received optimization');
  return state;
};

// ── Histories (rightsize of a running m5.xlarge, MEDIUM risk, one manual approval) ──
const rec = recs.rightsize;
const received = (r: Recommendation = rec, dryRun = false) => ev('OptimizationReceived', { recommendation: r, dryRun, deliveryId: 'd-1' });
const assessed = (level: 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL' = 'MEDIUM') => ev('RiskAssessed', { baseLevel: level, level, factors: [], policyVersion: 'default-v1' });
const requested = (requiredApprovals = 1) =>
  ev('ApprovalRequested', { authority: requiredApprovals === 2 ? 'change-board' : 'team-lead', requiredApprovals, expiresAt: EXPIRES });
const granted = (by = 'alice', approvers = [by], final = true) => ev('ApprovalGranted', { mode: 'manual', by, approvers, final });
const scheduled = ev('ExecutionScheduled', { batchId: 'b-1', notBefore: AT, priority: 'MEDIUM' });
const started = (dryRun = false) => ev('ExecutionStarted', { dryRun });
const steps = executionPlan(rec, running, OPT_ID);
const prePassed = [ev('PreValidationPassed', { observed: running }), ev('RollbackPlanRecorded', { steps: rollbackPlan(rec, running), reversible: 'yes' })];
const stepDone = (index: number, dryRun = false, step: Step = steps[index]!) => ev('ExecutionStepCompleted', { index, step, outputs: {}, dryRun, reconciled: false });
const allSteps = steps.map((_, i) => stepDone(i));

const upToReceived: OptimizationEvent[] = [received()];
const upToAwaiting: OptimizationEvent[] = [received(), assessed(), requested()];
const upToApproved: OptimizationEvent[] = [...upToAwaiting, granted()];
const upToScheduled: OptimizationEvent[] = [...upToApproved, scheduled];
const upToExecuting: OptimizationEvent[] = [...upToScheduled, started()];
const upToPreValidated: OptimizationEvent[] = [...upToExecuting, ...prePassed];
const upToValidating: OptimizationEvent[] = [...upToPreValidated, ...allSteps, ev('ExecutionSucceeded', { durationMs: 1000, dryRun: false })];
const fullRollback = rollbackPlan(rec, running);
const upToRollingBack: OptimizationEvent[] = [
  ...upToValidating,
  ev('ValidationFailed', { reasons: ['x'], performance: { verdict: 'ok' } }),
  ev('RollbackStarted', { reason: 'validation failed: x', steps: fullRollback }),
];
const rollbackDone = (index: number) => ev('RollbackStepCompleted', { index, step: fullRollback[index]!, outputs: {}, reconciled: false });

const criticalRec = recommendation({ type: 'delete-snapshot' });
const upToAwaitingTwo: OptimizationEvent[] = [received(criticalRec), assessed('CRITICAL'), requested(2)];

const ok = { verdict: 'ok' } as const;
/** AssessRisk's data: the default policy, credentials of the fixtures' account. */
const assess = { policy: defaultPolicy, credentialsAccountId: '123456789012' };

describe('ReceiveRecommendation', () => {
  it('records the recommendation on an empty stream', () => {
    spec
      .given([])
      .when(cmd('ReceiveRecommendation', { optimizationId: OPT_ID, recommendation: rec, dryRun: false, deliveryId: 'd-1' }))
      .then([received()]);
  });

  it('is idempotent: a second delivery changes nothing', () => {
    spec
      .given(upToReceived)
      .when(cmd('ReceiveRecommendation', { optimizationId: OPT_ID, recommendation: rec, dryRun: false, deliveryId: 'd-2' }))
      .thenNothing();
  });

  it('is idempotent for a resubmission of the same content, whatever its key order and createdAt', () => {
    const same = JSON.parse(JSON.stringify({ createdAt: '2026-02-28T00:00:00Z', ...rec, resource: { ...rec.resource } })) as Recommendation;
    spec
      .given(upToReceived)
      .when(cmd('ReceiveRecommendation', { optimizationId: OPT_ID, recommendation: same, dryRun: false, deliveryId: 'd-2' }))
      .thenNothing();
  });

  it('records a resubmission with another action as a conflict, and keeps the recommendation received first', () => {
    const changed: Recommendation = { ...rec, action: { type: 'stop-idle' }, estimatedMonthlySavings: 140.16 };
    spec
      .given(upToAwaiting)
      .when(cmd('ReceiveRecommendation', { optimizationId: OPT_ID, recommendation: changed, dryRun: false, deliveryId: 'd-2' }))
      .then([
        ev('ResubmissionConflicted', {
          deliveryId: 'd-2',
          recommendation: changed,
          differences: [
            { path: 'action.type', recorded: 'rightsize', resubmitted: 'stop-idle' },
            { path: 'action.currentInstanceType', recorded: 'm5.xlarge' },
            { path: 'action.targetInstanceType', recorded: 'm5.large' },
            { path: 'estimatedMonthlySavings', recorded: 70.08, resubmitted: 140.16 },
          ],
        }),
      ]);
    const state = known(foldOptimization([...upToAwaiting, ev('ResubmissionConflicted', { deliveryId: 'd-2', recommendation: changed, differences: [{ path: 'action.type', recorded: 'rightsize', resubmitted: 'stop-idle' }] })]));
    expect(state).toMatchObject({ status: 'awaiting-approval', recommendation: rec, conflicts: [{ deliveryId: 'd-2', at: AT, differences: [{ path: 'action.type' }] }] });
  });

  it('records a conflict once per delivery: the same changed delivery again changes nothing', () => {
    const changed: Recommendation = { ...rec, resource: { ...rec.resource, tags: { env: 'prod' } } };
    spec
      .given([...upToReceived, ev('ResubmissionConflicted', { deliveryId: 'd-2', recommendation: changed, differences: [{ path: 'resource.tags', resubmitted: { env: 'prod' } }] })])
      .when(cmd('ReceiveRecommendation', { optimizationId: OPT_ID, recommendation: changed, dryRun: false, deliveryId: 'd-2' }))
      .thenNothing();
  });

  it('records a changed resubmission of a finished optimization too', () => {
    const changed: Recommendation = { ...rec, region: 'eu-west-1' };
    spec
      .given([...upToReceived, ev('OptimizationCancelled', { by: 'op', reason: 'not now' })])
      .when(cmd('ReceiveRecommendation', { optimizationId: OPT_ID, recommendation: changed, dryRun: false, deliveryId: 'd-3' }))
      .then([ev('ResubmissionConflicted', { deliveryId: 'd-3', recommendation: changed, differences: [{ path: 'region', recorded: 'us-east-1', resubmitted: 'eu-west-1' }] })]);
  });

  it('rejects a command without a valid time', () => {
    spec
      .given([])
      .when(cmd('ReceiveRecommendation', { optimizationId: OPT_ID, recommendation: rec, dryRun: false, deliveryId: 'd-1' }, new Date(Number.NaN)))
      .thenThrows('INVALID_INPUT');
  });
});

describe('AssessRisk', () => {
  it('records the risk assessment of a received recommendation', () => {
    const prod = recommendation({ type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, { resource: { type: 'ec2:instance', id: 'i-0abc', tags: { Env: 'Production' } } });
    spec
      .given([received(prod)])
      .when(cmd('AssessRisk', assess))
      .then([
        ev('RiskAssessed', {
          baseLevel: 'MEDIUM',
          level: 'HIGH',
          factors: [{ factor: 'production', detail: 'tag Env=Production marks a production resource' }],
          policyVersion: 'default-v1',
        }),
      ]);
  });

  it('does nothing once assessed', () => {
    spec.given([received(), assessed()]).when(cmd('AssessRisk', assess)).thenNothing();
  });

  it('assesses on what the recommendation states when EC2 refused to describe the live resource, recording why', () => {
    const error = { code: 'UnauthorizedOperation', message: 'not allowed' };
    spec
      .given([received()])
      .when(cmd('AssessRisk', { ...assess, live: { error } }))
      .then((events) => expect(events).toEqual([expect.objectContaining({ type: 'RiskAssessed', data: expect.objectContaining({ basis: { stated: { instanceType: 'm5.xlarge' }, live: { found: false, error } } }) })]));
  });

  it('flags a rightsize to a dearer type as costs-more, from the price book of its region', () => {
    const upsize = recommendation({ type: 'rightsize', currentInstanceType: 'm5.large', targetInstanceType: 'm5.xlarge' });
    spec
      .given([received(upsize)])
      .when(cmd('AssessRisk', { policy: defaultPolicy, credentialsAccountId: undefined, priceBook: defaultPriceBook }))
      .then([
        ev('RiskAssessed', {
          baseLevel: 'MEDIUM',
          level: 'HIGH',
          factors: [{ factor: 'costs-more', detail: 'm5.large → m5.xlarge costs $70.08/month more in us-east-1 (70.08 → 140.16)' }],
          policyVersion: 'default-v1',
        }),
      ]);
  });

  it('flags any other action as costs-more when its plan on the live resource as described adds to the bill (a gp3 with extra IOPS and throughput), and not one that saves', () => {
    const faster = recommendation({ type: 'modify-volume', targetVolumeType: 'gp3', iops: 16000, throughput: 1000 }, { resource: { type: 'ec2:volume', id: 'vol-0abc' }, estimatedMonthlySavings: 10 });
    const gp2 = { kind: 'volume' as const, id: 'vol-0abc', volumeType: 'gp2', sizeGiB: 500, iops: 1500, state: 'available', availabilityZone: 'us-east-1a', tags: {} };
    const assessWith = (live?: LiveResource) => cmd('AssessRisk', { policy: defaultPolicy, credentialsAccountId: undefined, priceBook: defaultPriceBook, ...(live ? { live } : {}) });
    // gp2 500 GiB: $50; gp3 500 GiB at 16,000 IOPS and 1,000 MiB/s: 40 + 13,000 × 0.005 + 875 × 0.04 = $140
    spec
      .given([received(faster)])
      .when(assessWith({ observed: gp2 }))
      .then((events) => expect((events[0]!.data as { factors: unknown }).factors).toEqual([{ factor: 'costs-more', detail: 'modify-volume of vol-0abc as it is now adds $90.00/month to the bill in us-east-1' }]));
    const plain = recommendation({ type: 'modify-volume', targetVolumeType: 'gp3' }, { resource: { type: 'ec2:volume', id: 'vol-0abc' }, estimatedMonthlySavings: 10 });
    for (const [r, live] of [[plain, { observed: gp2 }], [faster, undefined]] as const)
      spec
        .given([received(r)])
        .when(assessWith(live))
        .then((events) => expect((events[0]!.data as { factors: unknown }).factors).toEqual([]));
  });

  it('flags a volume modification the price book cannot price on the live volume (io2 at 64,000 IOPS; io1 where the region has no io1 figure): it may add to the bill', () => {
    const gp2 = (region: string) => ({ kind: 'volume' as const, id: 'vol-0abc', volumeType: 'gp2', sizeGiB: 500, iops: 1500, state: 'available', availabilityZone: `${region}a`, tags: {} });
    const cases = [
      { action: { type: 'modify-volume' as const, targetVolumeType: 'io2' as const, iops: 64000 }, region: 'us-east-1' },
      { action: { type: 'modify-volume' as const, targetVolumeType: 'io1' as const, iops: 15000 }, region: 'eu-west-1' },
    ];
    for (const { action, region } of cases) {
      spec
        .given([received(recommendation(action, { region, resource: { type: 'ec2:volume', id: 'vol-0abc' }, estimatedMonthlySavings: 10 }))])
        .when(cmd('AssessRisk', { policy: defaultPolicy, credentialsAccountId: undefined, priceBook: defaultPriceBook, live: { observed: gp2(region) } }))
        .then((events) => {
          const factors = (events[0]!.data as unknown as { factors: { factor: string; detail: string }[] }).factors;
          expect(factors).toEqual([{ factor: 'costs-more', detail: expect.stringMatching(/^modify-volume of vol-0abc may add to the bill: the price book lacks .+/) }]);
        });
    }
  });

  it('flags a reservation purchase the price book cannot price: it commits its price for the term, and nothing says it saves', () => {
    for (const [region, offering, lacking] of [
      ['sa-east-1', observed.offering, 'region sa-east-1 (not in the price book)'],
      ['us-east-1', { ...observed.offering, instanceType: 'x2iedn.32xlarge' }, 'instance type x2iedn.32xlarge in us-east-1'],
    ] as const) {
      spec
        .given([received({ ...recs.purchaseRI, region, action: { ...recs.purchaseRI.action, instanceCount: 100 } } as Recommendation)])
        .when(cmd('AssessRisk', { policy: defaultPolicy, credentialsAccountId: undefined, priceBook: defaultPriceBook, live: { observed: offering } }))
        .then((events) => {
          const data = events[0]!.data as unknown as { level: string; factors: { factor: string; detail: string }[] };
          expect(data.factors).toEqual([{ factor: 'costs-more', detail: `purchase-reserved-instances of ${recs.purchaseRI.resource.id} may add to the bill: the price book lacks ${lacking}` }]);
          expect(data.level).toBe('MEDIUM');
        });
    }
  });

  it("does not flag an unpriced gp2 → gp3 conversion that keeps the volume's IOPS and throughput (eu-west-1 has no gp3 throughput figure): it cannot cost more", () => {
    const gp2 = { kind: 'volume' as const, id: 'vol-0abc', volumeType: 'gp2', sizeGiB: 300, state: 'available', availabilityZone: 'eu-west-1a', tags: {} };
    spec
      .given([received(recommendation({ type: 'modify-volume', targetVolumeType: 'gp3' }, { region: 'eu-west-1', resource: { type: 'ec2:volume', id: 'vol-0abc' }, estimatedMonthlySavings: 6 }))])
      .when(cmd('AssessRisk', { policy: defaultPolicy, credentialsAccountId: undefined, priceBook: defaultPriceBook, live: { observed: gp2 } }))
      .then((events) => expect((events[0]!.data as { level: string; factors: unknown }).factors).toEqual([]));
  });

  it('does not flag a downsize, nor a smaller size of the same family that the price book cannot price', () => {
    const unpricedDownsize = recommendation({ type: 'rightsize', currentInstanceType: 'm5.2xlarge', targetInstanceType: 'm5.xlarge' }, { region: 'sa-east-1' });
    for (const r of [rec, unpricedDownsize]) {
      spec
        .given([received(r)])
        .when(cmd('AssessRisk', { policy: defaultPolicy, credentialsAccountId: undefined, priceBook: defaultPriceBook }))
        .then((events) => expect(events).toEqual([ev('RiskAssessed', { baseLevel: 'MEDIUM', level: 'MEDIUM', factors: [], policyVersion: 'default-v1' })]));
    }
  });

  it('flags a rightsize the price book cannot price, but for a smaller size of the same family: it may cost more, so a person approves it', () => {
    const cases = [
      { from: 'm5.large', to: 'm5.xlarge', region: 'sa-east-1', lacking: 'region sa-east-1 (not in the price book)' },
      { from: 'm5.xlarge', to: 'p5.48xlarge', region: 'us-east-1', lacking: 'instance type p5.48xlarge in us-east-1' },
    ];
    for (const { from, to, region, lacking } of cases) {
      spec
        .given([received(recommendation({ type: 'rightsize', currentInstanceType: from, targetInstanceType: to }, { region }))])
        .when(cmd('AssessRisk', { policy: defaultPolicy, credentialsAccountId: undefined, priceBook: defaultPriceBook }))
        .then((events) =>
          expect(events).toEqual([
            ev('RiskAssessed', { baseLevel: 'MEDIUM', level: 'HIGH', factors: [{ factor: 'costs-more', detail: `${from} → ${to} may cost more: the price book lacks ${lacking}` }], policyVersion: 'default-v1' }),
          ]),
        );
    }
  });

  it('rejects an unknown optimization with NOT_FOUND', () => {
    spec.given([]).when(cmd('AssessRisk', assess)).thenThrows('NOT_FOUND');
  });

  it('rejects a cancelled, unassessed optimization', () => {
    spec
      .given([received(), ev('OptimizationCancelled', { by: 'ops', reason: 'obsolete' })])
      .when(cmd('AssessRisk', assess))
      .thenThrows('INVALID_STATE');
  });
});

describe('AssessRisk: the scope guard', () => {
  const inScope = { policy: defaultPolicy, credentialsAccountId: '123456789012' };
  const policyWith = (scope: Partial<typeof defaultPolicy.scope>) => ({ ...defaultPolicy, scope: { ...defaultPolicy.scope, ...scope } });

  it('records OptimizationOutOfScope instead of a risk assessment for a region outside the allow-list', () => {
    spec
      .given([received({ ...rec, region: 'eu-west-1' })])
      .when(cmd('AssessRisk', { ...inScope, policy: policyWith({ regions: ['us-east-1'] }) }))
      .then([
        ev('OptimizationOutOfScope', {
          stage: 'assessment',
          violations: [{ rule: 'regions', reason: 'scope.regions: region eu-west-1 is not allowed (allowed: us-east-1)' }],
        }),
      ]);
  });

  it('ends the optimization out-of-scope (terminal), with the reason in its view', () => {
    spec
      .given([received({ ...rec, accountId: '999999999999' })])
      .when(cmd('AssessRisk', { ...inScope, policy: policyWith({ accounts: ['123456789012'] }) }))
      .then((events, state) => {
        expect(events.map((e) => e.type)).toEqual(['OptimizationOutOfScope']);
        expect(known(state).status).toBe('out-of-scope');
        expect(isTerminal(known(state).status)).toBe(true);
        expect(viewOf(state).error).toMatch(/^out of scope \(assessment\): scope\.accounts: account 999999999999 is not allowed/);
        expect(viewOf(state).risk).toBeNull();
      });
  });

  it('refuses a recommendation for another account than the credentials account', () => {
    spec
      .given([received({ ...rec, accountId: '999999999999' })])
      .when(cmd('AssessRisk', inScope))
      .then([
        ev('OptimizationOutOfScope', {
          stage: 'assessment',
          violations: [{ rule: 'credentials-account', reason: 'credentials: account 999999999999 is not the account of the cloud credentials (123456789012)' }],
        }),
      ]);
  });

  it('refuses a recommendation whose tags carry the opt-out tag', () => {
    const optedOut = { ...rec, resource: { ...rec.resource, tags: { 'optex:skip': 'true' } } };
    spec
      .given([received(optedOut)])
      .when(cmd('AssessRisk', inScope))
      .then((events) => expect(events).toEqual([ev('OptimizationOutOfScope', { stage: 'assessment', violations: [{ rule: 'opt-out-tag', reason: expect.stringContaining('optex:skip=true') }] })]));
  });

  it('assesses the risk when everything is in scope', () => {
    spec
      .given([received()])
      .when(cmd('AssessRisk', { ...inScope, policy: policyWith({ accounts: ['123456789012'], regions: ['us-east-1'], resourceIdPattern: '^i-' }) }))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['RiskAssessed']));
  });

  it('does nothing once out of scope (a redelivered assessment), and nothing else moves it', () => {
    const outOfScope = [received(), ev('OptimizationOutOfScope', { stage: 'assessment', violations: [{ rule: 'regions', reason: 'x' }] })];
    spec.given(outOfScope).when(cmd('AssessRisk', inScope)).thenNothing();
    spec.given(outOfScope).when(cmd('DecideApproval', { policy: defaultPolicy })).thenThrows('INVALID_STATE');
    spec.given(outOfScope).when(cmd('Approve', { by: 'alice' })).thenThrows('INVALID_STATE');
  });
});

describe('DecideApproval', () => {
  it('never approves a change that costs more automatically, whatever the auto-approval limits', () => {
    const approveAll = { ...defaultPolicy, approval: { ...defaultPolicy.approval, autoApprove: { enabled: true, maxLevel: 'CRITICAL' as const, maxMonthlySavings: 1_000_000, maxUpfront: null } } };
    const costsMore = ev('RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [{ factor: 'costs-more', detail: 'gp3 → io1 costs more' }], policyVersion: 'default-v1' });
    spec
      .given([received(recs.modifyVolume), costsMore])
      .when(cmd('DecideApproval', { policy: approveAll }))
      .then((events) => expect(events.map((e) => [e.type, 'authority' in e.data ? e.data.authority : undefined])).toEqual([['ApprovalRequested', 'team-lead']]));
  });

  it('counts what the plan saves by the price book against the auto-approval limit, not only the estimate: 100 reserved m5.large stated to save $100 wait for a person', () => {
    // us-east-1 m5.large 0.096 × 730 = 70.08 on demand; the offering 500 / 12 months = 41.67: 28.41 saved per instance
    const riskOnTheOffering = ev('RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'default-v1', basis: { stated: {}, live: { found: true, observed: observed.offering } } });
    const purchase = (instanceCount: number) => ({ ...recs.purchaseRI, action: { ...recs.purchaseRI.action, instanceCount } }) as Recommendation;
    spec
      .given([received(purchase(100)), riskOnTheOffering])
      .when(cmd('DecideApproval', { policy: defaultPolicy, priceBook: defaultPriceBook }))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['ApprovalRequested']);
        expect((events[0]!.data as { plan?: { monthlyCostChange?: number } }).plan?.monthlyCostChange).toBe(-2841.33);
      });
    spec
      .given([received(purchase(2)), riskOnTheOffering])
      .when(cmd('DecideApproval', { policy: defaultPolicy, priceBook: defaultPriceBook }))
      .then((events) => expect(events.map((e) => [e.type, (e.data as { mode?: string }).mode])).toEqual([['ApprovalGranted', 'auto']]));
  });

  it('given autoApprove.maxUpfront, a reservation purchase is approved automatically only when its upfront price is known and within it', () => {
    // The offering's fixed price is 500 per instance: 2 instances pay 1,000 at once, 20 pay 10,000 (and save 568.27 a
    // month by the price book, over maxMonthlySavings: raised here so that only the upfront price decides).
    const withCap = (maxUpfront: number | null) => ({ ...defaultPolicy, approval: { ...defaultPolicy.approval, autoApprove: { ...defaultPolicy.approval.autoApprove, maxMonthlySavings: 1_000, maxUpfront } } });
    const seen = ev('RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'default-v1', basis: { stated: {}, live: { found: true, observed: observed.offering } } });
    const unseen = ev('RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'default-v1' });
    const purchase = (instanceCount: number, limitPrice?: number) => ({ ...recs.purchaseRI, action: { type: 'purchase-reserved-instances', offeringId: 'ri-offering-0abc', instanceCount, ...(limitPrice === undefined ? {} : { limitPrice }) } }) as Recommendation;
    const modeOf = (rec: Recommendation, risk: OptimizationEvent, maxUpfront: number | null) => {
      let mode: string | undefined;
      spec
        .given([received(rec), risk])
        .when(cmd('DecideApproval', { policy: withCap(maxUpfront), priceBook: defaultPriceBook }))
        .then((events) => (mode = events[0]!.type === 'ApprovalGranted' ? 'auto' : 'person'));
      return mode;
    };
    expect(modeOf(purchase(2), seen, 5_000)).toBe('auto'); // 1,000 upfront
    expect(modeOf(purchase(20), seen, 5_000)).toBe('person'); // 10,000 upfront
    expect(modeOf(purchase(20), seen, 10_000)).toBe('auto'); // inclusive
    expect(modeOf(purchase(20), seen, null)).toBe('auto'); // no cap: the pinned default
    // The offering not described: the purchase's limitPrice caps what it may pay; without one the price is unknown.
    expect(modeOf(purchase(2, 4_000), unseen, 5_000)).toBe('auto');
    expect(modeOf(purchase(2, 6_000), unseen, 5_000)).toBe('person');
    expect(modeOf(purchase(2), unseen, 5_000)).toBe('person');
    // Other actions pay nothing upfront.
    expect(modeOf(recs.modifyVolume, assessed('LOW'), 0)).toBe('auto');
  });

  it('auto-approves LOW risk with small savings', () => {
    spec
      .given([received(recs.modifyVolume), assessed('LOW')])
      .when(cmd('DecideApproval', { policy: defaultPolicy }))
      .then([ev('ApprovalGranted', { mode: 'auto', approvers: [], final: true })]);
  });

  it('moves an auto-approved optimization to approved', () => {
    spec
      .given([received(recs.modifyVolume), assessed('LOW')])
      .when(cmd('DecideApproval', { policy: defaultPolicy }))
      .then((events, state) => {
        expect(events).toHaveLength(1);
        expect(known(state).status).toBe('approved');
        expect(known(state).approval.mode).toBe('auto');
      });
  });

  it('requests approval from a team lead for MEDIUM risk, expiring in 7 days', () => {
    spec
      .given([received(), assessed('MEDIUM')])
      .when(cmd('DecideApproval', { policy: defaultPolicy }))
      .then([ev('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: EXPIRES })]);
  });

  it('requests two change-board approvals for CRITICAL risk', () => {
    spec
      .given([received(criticalRec), assessed('CRITICAL')])
      .when(cmd('DecideApproval', { policy: defaultPolicy }))
      .then([ev('ApprovalRequested', { authority: 'change-board', requiredApprovals: 2, expiresAt: EXPIRES })]);
  });

  it('uses the assessed level, not the base level', () => {
    spec
      .given([received(recs.modifyVolume), ev('RiskAssessed', { baseLevel: 'LOW', level: 'HIGH', factors: [], policyVersion: 'v' })])
      .when(cmd('DecideApproval', { policy: defaultPolicy }))
      .then([ev('ApprovalRequested', { authority: 'finops-manager', requiredApprovals: 1, expiresAt: EXPIRES })]);
  });

  it('does nothing once approval was requested', () => {
    spec.given(upToAwaiting).when(cmd('DecideApproval', { policy: defaultPolicy })).thenNothing();
  });

  it('does nothing once auto-approved', () => {
    spec
      .given([received(recs.modifyVolume), assessed('LOW'), ev('ApprovalGranted', { mode: 'auto', approvers: [], final: true })])
      .when(cmd('DecideApproval', { policy: defaultPolicy }))
      .thenNothing();
  });

  it('rejects deciding before the risk is assessed', () => {
    spec.given(upToReceived).when(cmd('DecideApproval', { policy: defaultPolicy })).thenThrows('INVALID_STATE');
  });

  it('rejects an unknown optimization with NOT_FOUND', () => {
    spec.given([]).when(cmd('DecideApproval', { policy: defaultPolicy })).thenThrows('NOT_FOUND');
  });
});

describe('approver identities (roster recorded on the request)', () => {
  const roster = [
    { id: 'alice@acme.example', aliases: ['alice'] },
    { id: 'bob@acme.example' },
  ];
  const withRoster = (required = 1) => ev('ApprovalRequested', { authority: required === 2 ? 'change-board' : 'team-lead', requiredApprovals: required, expiresAt: EXPIRES, eligibleApprovers: roster });

  it('given a request with a roster, when someone on it approves under another case or an alias, then the roster id is recorded', () => {
    spec
      .given([received(), assessed(), withRoster()])
      .when(cmd('Approve', { by: '  ALICE ' }))
      .then([ev('ApprovalGranted', { mode: 'manual', by: 'alice@acme.example', approvers: ['alice@acme.example'], final: true })]);
  });

  it('given a request with a roster, when someone not eligible approves or denies, then NOT_AUTHORIZED names the authority and who may', () => {
    spec.given([received(), assessed(), withRoster()]).when(cmd('Approve', { by: 'mallory' })).thenThrows('NOT_AUTHORIZED');
    spec.given([received(), assessed(), withRoster()]).when(cmd('Deny', { by: 'mallory', reason: 'no' })).thenThrows('NOT_AUTHORIZED');
    expect(() => optimizationDecider.decide(cmd('Approve', { by: 'mallory' }), foldOptimization([received(), assessed(), withRoster()]))).toThrow(
      /mallory may not decide .* needs the team-lead authority and the roster names alice@acme\.example, bob@acme\.example/,
    );
  });

  describe('with the roster in force where the decision is made', () => {
    // Bob was on the roster when approval was asked (the request records him), and has been taken off it since; Alice
    // is still on it; Carol has been added since.
    const inForce = {
      roster: [
        { id: 'Alice@acme.example', aliases: ['alice'], authorities: ['team-lead' as const] },
        { id: 'carol@acme.example', authorities: ['team-lead' as const] },
      ],
      higherAuthorityDecides: true,
    };

    it('given a request that names Bob, when Bob (taken off the roster since) approves or denies, then NOT_AUTHORIZED names who may decide now', () => {
      for (const authenticated of [undefined, { names: ['bob@acme.example'] }]) {
        const who = { by: 'bob@acme.example', rosterInForce: inForce, ...(authenticated ? { authenticated } : {}) };
        spec.given([received(), assessed(), withRoster()]).when(cmd('Approve', who)).thenThrows('NOT_AUTHORIZED');
        spec.given([received(), assessed(), withRoster()]).when(cmd('Deny', { ...who, reason: 'no' })).thenThrows('NOT_AUTHORIZED');
      }
      expect(() => optimizationDecider.decide(cmd('Approve', { by: 'bob@acme.example', rosterInForce: inForce }), foldOptimization([received(), assessed(), withRoster()]))).toThrow(
        /bob@acme\.example may not decide .* needs the team-lead authority and the roster in force names alice@acme\.example, carol@acme\.example/,
      );
    });

    it('given a request that names Bob, when Bob approves with his authority lowered below the one the request needs, then NOT_AUTHORIZED', () => {
      const lowered = { roster: [...inForce.roster, { id: 'bob@acme.example', authorities: ['team-lead' as const] }], higherAuthorityDecides: true };
      spec.given([received(criticalRec), assessed('CRITICAL'), withRoster(2)]).when(cmd('Approve', { by: 'bob@acme.example', rosterInForce: lowered })).thenThrows('NOT_AUTHORIZED');
      spec
        .given([received(), assessed(), withRoster()])
        .when(cmd('Approve', { by: 'bob@acme.example', rosterInForce: lowered }))
        .then([ev('ApprovalGranted', { mode: 'manual', by: 'bob@acme.example', approvers: ['bob@acme.example'], final: true })]);
    });

    it('given a request that names Alice, when Alice (still on the roster) approves by alias, then the id the request recorded is the approver', () => {
      spec
        .given([received(), assessed(), withRoster()])
        .when(cmd('Approve', { by: 'ALICE', rosterInForce: inForce }))
        .then([ev('ApprovalGranted', { mode: 'manual', by: 'alice@acme.example', approvers: ['alice@acme.example'], final: true })]);
    });

    it('given a request that names Bob and not Carol, when Carol (added since) approves, then NOT_AUTHORIZED: the request names who may decide it', () => {
      expect(() => optimizationDecider.decide(cmd('Approve', { by: 'carol@acme.example', rosterInForce: inForce }), foldOptimization([received(), assessed(), withRoster()]))).toThrow(
        /carol@acme\.example may not decide .* the roster names alice@acme\.example, bob@acme\.example/,
      );
    });

    it('given a request asked without a roster, when someone approves under a roster in force, then only its members may, recorded by their roster id', () => {
      spec.given([received(), assessed(), requested()]).when(cmd('Approve', { by: 'mallory', rosterInForce: inForce })).thenThrows('NOT_AUTHORIZED');
      spec
        .given([received(), assessed(), requested()])
        .when(cmd('Approve', { by: ' Alice ', rosterInForce: inForce }))
        .then([ev('ApprovalGranted', { mode: 'manual', by: 'alice@acme.example', approvers: ['alice@acme.example'], final: true })]);
    });

    it('given a roster in force without entries, when someone the request names approves, then only the recorded roster counts', () => {
      spec
        .given([received(), assessed(), withRoster()])
        .when(cmd('Approve', { by: 'bob@acme.example', rosterInForce: { roster: [], higherAuthorityDecides: true } }))
        .then([ev('ApprovalGranted', { mode: 'manual', by: 'bob@acme.example', approvers: ['bob@acme.example'], final: true })]);
    });
  });

  it('given a CRITICAL request, when the same person approves twice by id and by alias, then the second is refused: four eyes are two people', () => {
    spec
      .given([received(criticalRec), assessed('CRITICAL'), withRoster(2), ev('ApprovalGranted', { mode: 'manual', by: 'alice@acme.example', approvers: ['alice@acme.example'], final: false })])
      .when(cmd('Approve', { by: 'Alice' }))
      .thenThrows('ALREADY_APPROVED');
  });

  it('given a request Alice asked for (by alias), when alice@acme.example approves, then NOT_AUTHORIZED: never the requester', () => {
    const asked = received({ ...rec, requestedBy: 'ALICE' });
    spec.given([asked, assessed(), withRoster()]).when(cmd('Approve', { by: 'alice@acme.example' })).thenThrows('NOT_AUTHORIZED');
    expect(() => optimizationDecider.decide(cmd('Approve', { by: 'alice' }), foldOptimization([asked, assessed(), withRoster()]))).toThrow(/alice@acme\.example requested .* and may not approve it/);
  });

  it('given a request with a roster, when an authenticated caller approves under a name only Unicode normalization makes a member, then NOT_AUTHORIZED; typed into the CLI it is that member', () => {
    const authenticated = { names: ['00u-eve'] };
    for (const by of ['ａｌｉｃｅ', 'ali\u00adce', 'ali\u200bce']) {
      spec.given([received(), assessed(), withRoster()]).when(cmd('Approve', { by, authenticated })).thenThrows('NOT_AUTHORIZED');
      spec.given([received(), assessed(), withRoster()]).when(cmd('Deny', { by, reason: 'no', authenticated })).thenThrows('NOT_AUTHORIZED');
    }
    spec
      .given([received(), assessed(), withRoster()])
      .when(cmd('Approve', { by: ' Alice ', authenticated: { names: ['Alice'] } }))
      .then([ev('ApprovalGranted', { mode: 'manual', by: 'alice@acme.example', approvers: ['alice@acme.example'], final: true })]);
    spec
      .given([received(), assessed(), withRoster()])
      .when(cmd('Approve', { by: 'ａｌｉｃｅ' }))
      .then([ev('ApprovalGranted', { mode: 'manual', by: 'alice@acme.example', approvers: ['alice@acme.example'], final: true })]);
  });

  it('given a request Alice asked for without a roster, when she approves through the API under another name her credentials also give, then NOT_AUTHORIZED: never the requester', () => {
    const asked = received({ ...rec, requestedBy: 'alice@acme.example' });
    spec.given([asked, assessed(), requested()]).when(cmd('Approve', { by: '00u-opaque', authenticated: { names: ['00u-opaque', 'alice@acme.example'] } })).thenThrows('NOT_AUTHORIZED');
    spec
      .given([asked, assessed(), requested()])
      .when(cmd('Approve', { by: '00u-bob', authenticated: { names: ['00u-bob', 'bob@acme.example'] } }))
      .then([ev('ApprovalGranted', { mode: 'manual', by: '00u-bob', approvers: ['00u-bob'], final: true })]);
  });

  it('given a request Alice asked for, when Bob approves, then it is granted; when Alice denies (withdraws), then it is denied', () => {
    const asked = received({ ...rec, requestedBy: 'alice@acme.example' });
    spec
      .given([asked, assessed(), withRoster()])
      .when(cmd('Approve', { by: 'bob@acme.example' }))
      .then([ev('ApprovalGranted', { mode: 'manual', by: 'bob@acme.example', approvers: ['bob@acme.example'], final: true })]);
    spec
      .given([asked, assessed(), withRoster()])
      .when(cmd('Deny', { by: 'alice', reason: 'asked by mistake' }))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['ApprovalDenied']));
  });

  it('given a request without a roster that " Carol " asked for, when carol approves, then NOT_AUTHORIZED', () => {
    spec
      .given([received({ ...rec, requestedBy: ' Carol ' }), assessed(), requested()])
      .when(cmd('Approve', { by: 'carol' }))
      .thenThrows('NOT_AUTHORIZED');
  });

  it('given a request without a roster, when carol and then carol with a zero-width space (or another invisible character) approve a CRITICAL change, then the second is refused: it prints as carol', () => {
    for (const second of ['carol\u200b', '\u2060Carol', 'ca\u00adrol', '\ufeffcarol'])
      spec
        .given([...upToAwaitingTwo, ev('ApprovalGranted', { mode: 'manual', by: 'carol', approvers: ['carol'], final: false })])
        .when(cmd('Approve', { by: second }))
        .thenThrows('ALREADY_APPROVED');
    spec
      .given([received({ ...rec, requestedBy: 'carol' }), assessed(), requested()])
      .when(cmd('Approve', { by: 'carol\u200d' }))
      .thenThrows('NOT_AUTHORIZED');
  });

  it('given a request without a roster, when Alice and then alice approve a CRITICAL change, then the second is refused', () => {
    spec
      .given([...upToAwaitingTwo, ev('ApprovalGranted', { mode: 'manual', by: 'alice', approvers: ['alice'], final: false })])
      .when(cmd('Approve', { by: 'Alice' }))
      .thenThrows('ALREADY_APPROVED');
  });

  it('given a roster in the policy, when approval is asked, then the request records who may decide', () => {
    const policy = { ...defaultPolicy, approval: { ...defaultPolicy.approval, roster: [{ id: 'Lead@Acme.example', authorities: ['team-lead' as const] }, { id: 'cfo', authorities: ['finops-manager' as const] }] } };
    spec
      .given([received(), assessed()])
      .when(cmd('DecideApproval', { policy }))
      .then([ev('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: EXPIRES, eligibleApprovers: [{ id: 'lead@acme.example' }, { id: 'cfo' }] })]);
    const strict = { ...policy, approval: { ...policy.approval, higherAuthorityDecides: false } };
    spec
      .given([received(), assessed()])
      .when(cmd('DecideApproval', { policy: strict }))
      .then([ev('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: EXPIRES, eligibleApprovers: [{ id: 'lead@acme.example' }] })]);
  });
});

describe('Approve', () => {
  it('grants a single required approval as final', () => {
    spec.given(upToAwaiting).when(cmd('Approve', { by: 'alice' })).then([granted('alice')]);
  });

  it('keeps the approver reason', () => {
    spec
      .given(upToAwaiting)
      .when(cmd('Approve', { by: 'alice', reason: 'checked the load' }))
      .then([ev('ApprovalGranted', { mode: 'manual', by: 'alice', reason: 'checked the load', approvers: ['alice'], final: true })]);
  });

  it('moves to approved with a final approval', () => {
    spec
      .given(upToAwaiting)
      .when(cmd('Approve', { by: 'alice' }))
      .then((_events, state) => expect(known(state).status).toBe('approved'));
  });

  it('keeps a CRITICAL optimization awaiting approval after the first approver', () => {
    spec
      .given(upToAwaitingTwo)
      .when(cmd('Approve', { by: 'alice' }))
      .then((events, state) => {
        expect(events).toEqual([granted('alice', ['alice'], false)]);
        expect(known(state).status).toBe('awaiting-approval');
      });
  });

  it('approves a CRITICAL optimization with a second, distinct approver', () => {
    spec
      .given([...upToAwaitingTwo, granted('alice', ['alice'], false)])
      .when(cmd('Approve', { by: 'bob' }))
      .then([granted('bob', ['alice', 'bob'], true)]);
  });

  it('rejects the same approver twice with ALREADY_APPROVED', () => {
    spec
      .given([...upToAwaitingTwo, granted('alice', ['alice'], false)])
      .when(cmd('Approve', { by: 'alice' }))
      .thenThrows('ALREADY_APPROVED');
  });

  it('rejects an approval at the expiry instant with APPROVAL_EXPIRED', () => {
    spec.given(upToAwaiting).when(cmd('Approve', { by: 'alice' }, at(EXPIRES))).thenThrows('APPROVAL_EXPIRED');
  });

  it('accepts an approval one millisecond before expiry', () => {
    spec
      .given(upToAwaiting)
      .when(cmd('Approve', { by: 'alice' }, new Date(Date.parse(EXPIRES) - 1)))
      .then([ev('ApprovalGranted', { at: '2026-03-08T09:59:59.999Z', mode: 'manual', by: 'alice', approvers: ['alice'], final: true })]);
  });

  it('rejects approving an optimization that is not awaiting approval, naming its status', () => {
    const error = spec.given(upToReceived).when(cmd('Approve', { by: 'alice' })).thenThrows('INVALID_STATE');
    expect((error as DomainError).message).toContain('is received');
  });

  it('rejects approving an already approved optimization', () => {
    spec.given(upToApproved).when(cmd('Approve', { by: 'bob' })).thenThrows('INVALID_STATE');
  });

  it('rejects an approval without an approver name', () => {
    spec.given(upToAwaiting).when(cmd('Approve', { by: '  ' })).thenThrows('INVALID_INPUT');
  });

  it('rejects approving an unknown optimization with NOT_FOUND', () => {
    spec.given([]).when(cmd('Approve', { by: 'alice' })).thenThrows('NOT_FOUND');
  });
});

describe('Deny', () => {
  it('denies a pending approval', () => {
    spec
      .given(upToAwaiting)
      .when(cmd('Deny', { by: 'carol', reason: 'peak season' }))
      .then((events, state) => {
        expect(events).toEqual([ev('ApprovalDenied', { by: 'carol', reason: 'peak season' })]);
        expect(known(state).status).toBe('denied');
      });
  });

  it('denies a CRITICAL optimization after its first approval', () => {
    spec
      .given([...upToAwaitingTwo, granted('alice', ['alice'], false)])
      .when(cmd('Deny', { by: 'bob', reason: 'no' }))
      .then([ev('ApprovalDenied', { by: 'bob', reason: 'no' })]);
  });

  it('requires a reason', () => {
    spec.given(upToAwaiting).when(cmd('Deny', { by: 'carol', reason: ' ' })).thenThrows('INVALID_INPUT');
  });

  it('refuses a reason, a note or a name over 1,024 characters (whichever way it came: API, console or CLI), naming the field', () => {
    const long = 'z'.repeat(1025);
    spec.given(upToAwaiting).when(cmd('Deny', { by: 'carol', reason: long })).thenThrows('INVALID_INPUT');
    spec.given(upToAwaiting).when(cmd('Approve', { by: 'carol', reason: long })).thenThrows('INVALID_INPUT');
    spec.given(upToAwaiting).when(cmd('CancelOptimization', { by: 'ops', reason: long })).thenThrows('INVALID_INPUT');
    spec.given(upToAwaiting).when(cmd('CancelOptimization', { by: long, reason: 'superseded' })).thenThrows('INVALID_INPUT');
    expect(() => optimizationDecider.decide(cmd('Approve', { by: 'carol', reason: long }), foldOptimization(upToAwaiting))).toThrow('Approve: reason must be at most 1024 characters, got 1025');
    // 1,024 characters once trimmed is within it
    spec.given(upToAwaiting).when(cmd('Deny', { by: 'carol', reason: ` ${'z'.repeat(1024)} ` })).then([ev('ApprovalDenied', { by: 'carol', reason: 'z'.repeat(1024) })]);
  });

  it('rejects denying an optimization that is not awaiting approval', () => {
    spec.given(upToApproved).when(cmd('Deny', { by: 'carol', reason: 'late' })).thenThrows('INVALID_STATE');
  });

  it('rejects denying an expired request', () => {
    spec.given(upToAwaiting).when(cmd('Deny', { by: 'carol', reason: 'late' }, at(EXPIRES))).thenThrows('APPROVAL_EXPIRED');
  });
});

describe('ExpireApproval', () => {
  it('expires a pending request at its expiry instant', () => {
    spec
      .given(upToAwaiting)
      .when(cmd('ExpireApproval', {}, at(EXPIRES)))
      .then((events, state) => {
        expect(events).toEqual([ev('ApprovalExpired', { at: EXPIRES, expiresAt: EXPIRES })]);
        expect(known(state).status).toBe('expired');
      });
  });

  it("stamps each command's own time, when times repeat, change and come back, and refuses a command without a valid time", () => {
    const times = [EXPIRES, EXPIRES, '2026-03-08T10:00:00.001Z', EXPIRES, '2026-03-09T00:00:00.000Z'];
    const stamped = times.map((time) => (optimizationDecider.decide(cmd('ExpireApproval', {}, at(time)), foldOptimization(upToAwaiting))[0]?.data as { at: string }).at);
    expect(stamped).toEqual(times);
    expect(() => optimizationDecider.decide(cmd('ExpireApproval', {}, new Date(Number.NaN)), foldOptimization(upToAwaiting))).toThrow(
      new DomainError('INVALID_INPUT', 'ExpireApproval: metadata.now is not a valid date'),
    );
  });

  it('does nothing before the expiry', () => {
    spec.given(upToAwaiting).when(cmd('ExpireApproval', {}, later(7 * DAY - 1))).thenNothing();
  });

  it('does nothing to an approved optimization', () => {
    spec.given(upToApproved).when(cmd('ExpireApproval', {}, later(30 * DAY))).thenNothing();
  });

  it('does nothing to an already expired optimization', () => {
    spec.given([...upToAwaiting, ev('ApprovalExpired', { expiresAt: EXPIRES })]).when(cmd('ExpireApproval', {}, later(30 * DAY))).thenNothing();
  });

  it('rejects an unknown optimization with NOT_FOUND', () => {
    spec.given([]).when(cmd('ExpireApproval', {})).thenThrows('NOT_FOUND');
  });
});

describe('ScheduleExecution', () => {
  it('schedules an approved optimization with the default MEDIUM priority', () => {
    spec.given(upToApproved).when(cmd('ScheduleExecution', { batchId: 'b-1', notBefore: NOW })).then([scheduled]);
  });

  it("uses the recommendation's priority", () => {
    const urgent = { ...rec, priority: 'HIGH' as const };
    spec
      .given([received(urgent), assessed(), requested(), granted()])
      .when(cmd('ScheduleExecution', { batchId: 'b-1', notBefore: later(60_000) }))
      .then([ev('ExecutionScheduled', { batchId: 'b-1', notBefore: '2026-03-01T10:01:00.000Z', priority: 'HIGH' })]);
  });

  it('does nothing once scheduled', () => {
    spec.given(upToScheduled).when(cmd('ScheduleExecution', { batchId: 'b-2', notBefore: NOW })).thenNothing();
  });

  it('rejects scheduling an optimization awaiting approval', () => {
    spec.given(upToAwaiting).when(cmd('ScheduleExecution', { batchId: 'b-1', notBefore: NOW })).thenThrows('INVALID_STATE');
  });

  it('requires a batch id', () => {
    spec.given(upToApproved).when(cmd('ScheduleExecution', { batchId: '', notBefore: NOW })).thenThrows('INVALID_INPUT');
  });
});

describe('StartExecution', () => {
  it('starts a scheduled optimization', () => {
    spec
      .given(upToScheduled)
      .when(cmd('StartExecution', {}))
      .then((events, state) => {
        expect(events).toEqual([started(false)]);
        expect(known(state).status).toBe('executing');
      });
  });

  it('carries the dry-run flag', () => {
    spec
      .given([received(rec, true), assessed(), requested(), granted(), scheduled])
      .when(cmd('StartExecution', {}))
      .then([started(true)]);
  });

  it('does nothing once started', () => {
    spec.given(upToExecuting).when(cmd('StartExecution', {})).thenNothing();
  });

  it('rejects starting an optimization that is not scheduled', () => {
    spec.given(upToApproved).when(cmd('StartExecution', {})).thenThrows('INVALID_STATE');
  });
});

describe('RecordPreValidation', () => {
  const none = { activeOnResource: [], scope: defaultPolicy.scope };
  it('records a passed pre-validation with the rollback plan computed by the domain', () => {
    spec
      .given(upToExecuting)
      .when(cmd('RecordPreValidation', { observed: running, ...none }))
      .then([
        ev('PreValidationPassed', { observed: running }),
        ev('RollbackPlanRecorded', {
          steps: [
            { kind: 'stop-instance', instanceId: 'i-0abc' },
            { kind: 'wait-instance-stopped', instanceId: 'i-0abc' },
            { kind: 'modify-instance-type', instanceId: 'i-0abc', instanceType: 'm5.xlarge' },
            { kind: 'start-instance', instanceId: 'i-0abc' },
            { kind: 'wait-instance-running', instanceId: 'i-0abc' },
          ],
          reversible: 'yes',
        }),
      ]);
  });

  it('records an empty plan and "no" for an irreversible action', () => {
    spec
      .given([received(recs.deleteVolumeNoSnapshot), assessed('CRITICAL'), requested(2), granted('a', ['a'], false), granted('b', ['a', 'b'], true), scheduled, started()])
      .when(cmd('RecordPreValidation', { observed: observed.gp2Volume, ...none }))
      .then((events) => expect(events[1]).toEqual(ev('RollbackPlanRecorded', { steps: [], reversible: 'no' })));
  });

  it('fails the optimization, naming the code, when EC2 refused to describe the resource (nothing changes on a resource not seen)', () => {
    spec
      .given(upToExecuting)
      .when(cmd('RecordPreValidation', { describeError: { code: 'UnauthorizedOperation', message: 'not allowed' }, ...none }))
      .then((events, state) => {
        expect(events).toEqual([ev('PreValidationFailed', { reasons: ['i-0abc could not be described: UnauthorizedOperation: not allowed'] })]);
        expect(known(state)).toMatchObject({ status: 'failed', execution: { error: { code: 'PRE_VALIDATION_FAILED', message: 'i-0abc could not be described: UnauthorizedOperation: not allowed' } } });
      });
  });

  it('fails the optimization when the live resource does not fit the recommendation (the domain finds the problem)', () => {
    const other = { ...running, instanceType: 'm5.2xlarge' };
    spec
      .given(upToExecuting)
      .when(cmd('RecordPreValidation', { observed: other, ...none }))
      .then((events, state) => {
        expect(events).toEqual([ev('PreValidationFailed', { reasons: ['instance i-0abc is m5.2xlarge, the recommendation expects m5.xlarge'], observed: other })]);
        expect(known(state).status).toBe('failed');
      });
  });

  it('fails when another optimization is active on the same resource', () => {
    spec
      .given(upToExecuting)
      .when(cmd('RecordPreValidation', { observed: running, activeOnResource: [{ optimizationId: 'other-1', action: 'stop-idle', status: 'executing' }], scope: defaultPolicy.scope }))
      .then([ev('PreValidationFailed', { reasons: ['optimization other-1 (stop-idle) is executing on i-0abc'], observed: running })]);
  });

  it('fails while another optimization of the resource is rollback-failed: it holds the resource until an operator retries or resolves it', () => {
    spec
      .given(upToExecuting)
      .when(cmd('RecordPreValidation', { observed: running, activeOnResource: [{ optimizationId: 'first-1', action: 'rightsize', status: 'rollback-failed' }], scope: defaultPolicy.scope }))
      .then([ev('PreValidationFailed', { reasons: ['optimization first-1 (rightsize) is rollback-failed on i-0abc'], observed: running })]);
  });

  it('goes on once the rollback-failed one is closed (resolved or rolled back)', () => {
    spec
      .given(upToExecuting)
      .when(
        cmd('RecordPreValidation', {
          observed: running,
          activeOnResource: [
            { optimizationId: 'first-1', action: 'rightsize', status: 'resolved' },
            { optimizationId: 'first-2', action: 'rightsize', status: 'rolled-back' },
          ],
          scope: defaultPolicy.scope,
        }),
      )
      .then((events) => expect(events[0]!.type).toBe('PreValidationPassed'));
  });

  it('ignores itself and optimizations on the resource that are not active', () => {
    spec
      .given(upToExecuting)
      .when(
        cmd('RecordPreValidation', {
          observed: running,
          activeOnResource: [
            { optimizationId: OPT_ID, action: 'rightsize', status: 'executing' },
            { optimizationId: 'old-1', action: 'stop-idle', status: 'completed' },
            { optimizationId: 'waiting-1', action: 'stop-idle', status: 'awaiting-approval' },
          ],
          scope: defaultPolicy.scope,
        }),
      )
      .then((events) => expect(events[0]!.type).toBe('PreValidationPassed'));
  });

  it('records a failure for a missing resource without an observed resource', () => {
    spec
      .given(upToExecuting)
      .when(cmd('RecordPreValidation', { ...none }))
      .then([ev('PreValidationFailed', { reasons: ['ec2:instance i-0abc not found'] })]);
  });

  it('stops the optimization out-of-scope when the live resource carries the opt-out tag, whatever else it finds', () => {
    const optedOut = { ...running, instanceType: 'm5.2xlarge', tags: { 'optex:skip': 'true' } };
    spec
      .given(upToExecuting)
      .when(cmd('RecordPreValidation', { observed: optedOut, ...none }))
      .then((events, state) => {
        expect(events).toEqual([
          ev('OptimizationOutOfScope', {
            stage: 'pre-validation',
            violations: [{ rule: 'opt-out-tag', reason: 'scope.optOutTag: the live resource i-0abc is tagged optex:skip=true' }],
            observed: optedOut,
          }),
        ]);
        expect(known(state).status).toBe('out-of-scope');
        expect(nextMove(state, { now: NOW })).toEqual({ kind: 'idle', reason: 'out-of-scope' });
      });
  });

  it("honours the policy's opt-out tag (renamed, or switched off)", () => {
    const tagged = { ...running, tags: { 'finops:exclude': 'yes' } };
    const renamed = { enabled: true, key: 'finops:exclude', value: 'yes' };
    spec
      .given(upToExecuting)
      .when(cmd('RecordPreValidation', { observed: tagged, activeOnResource: [], scope: { optOutTag: renamed } }))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['OptimizationOutOfScope']));
    spec
      .given(upToExecuting)
      .when(cmd('RecordPreValidation', { observed: { ...running, tags: { 'optex:skip': 'true' } }, activeOnResource: [], scope: { optOutTag: { ...renamed, enabled: false } } }))
      .then((events) => expect(events[0]!.type).toBe('PreValidationPassed'));
  });

  it('ends a dry run out-of-scope too (a preview says what the real run would do)', () => {
    const dry = [received(rec, true), assessed(), requested(), granted(), scheduled, started(true)];
    spec
      .given(dry)
      .when(cmd('RecordPreValidation', { observed: { ...running, tags: { 'optex:skip': 'TRUE' } }, ...none }))
      .then((_events, state) => expect(known(state).status).toBe('out-of-scope'));
  });

  it('does nothing once recorded', () => {
    spec.given(upToPreValidated).when(cmd('RecordPreValidation', { observed: running, ...none })).thenNothing();
  });

  it('rejects pre-validation of an optimization that is not executing', () => {
    spec.given(upToScheduled).when(cmd('RecordPreValidation', { observed: running, ...none })).thenThrows('INVALID_STATE');
  });
});

describe('CompleteExecutionStep', () => {
  it('records the next step', () => {
    spec
      .given(upToPreValidated)
      .when(cmd('CompleteExecutionStep', { index: 0, step: steps[0]!, outputs: {} }))
      .then([stepDone(0)]);
  });

  it('keeps the step outputs', () => {
    spec
      .given([...upToPreValidated, stepDone(0), stepDone(1)])
      .when(cmd('CompleteExecutionStep', { index: 2, step: steps[2]!, outputs: { previousType: 'm5.xlarge' } }))
      .then([ev('ExecutionStepCompleted', { index: 2, step: steps[2]!, outputs: { previousType: 'm5.xlarge' }, dryRun: false, reconciled: false })]);
  });

  it('marks steps of a dry run', () => {
    spec
      .given([received(rec, true), assessed(), requested(), granted(), scheduled, started(true), ...prePassed])
      .when(cmd('CompleteExecutionStep', { index: 0, step: steps[0]!, outputs: {} }))
      .then([stepDone(0, true)]);
  });

  it('does nothing for a step already recorded (redelivery)', () => {
    spec
      .given([...upToPreValidated, stepDone(0), stepDone(1)])
      .when(cmd('CompleteExecutionStep', { index: 1, step: steps[1]!, outputs: {} }))
      .thenNothing();
  });

  it('rejects a step reported before the previous ones with OUT_OF_ORDER', () => {
    spec
      .given([...upToPreValidated, stepDone(0)])
      .when(cmd('CompleteExecutionStep', { index: 2, step: steps[2]!, outputs: {} }))
      .thenThrows('OUT_OF_ORDER');
  });

  it('rejects steps before pre-validation passed', () => {
    spec.given(upToExecuting).when(cmd('CompleteExecutionStep', { index: 0, step: steps[0]!, outputs: {} })).thenThrows('INVALID_STATE');
  });

  it('rejects a negative index', () => {
    spec.given(upToPreValidated).when(cmd('CompleteExecutionStep', { index: -1, step: steps[0]!, outputs: {} })).thenThrows('INVALID_INPUT');
  });

  it('does nothing for a redelivered step after the execution succeeded', () => {
    spec.given(upToValidating).when(cmd('CompleteExecutionStep', { index: 4, step: steps[4]!, outputs: {} })).thenNothing();
  });

  it('rejects a new step once the execution is over', () => {
    spec.given(upToValidating).when(cmd('CompleteExecutionStep', { index: 5, step: steps[4]!, outputs: {} })).thenThrows('INVALID_STATE');
  });
});

describe('SucceedExecution', () => {
  it('records the duration since the start and moves to validating', () => {
    spec
      .given([...upToPreValidated, ...allSteps])
      .when(cmd('SucceedExecution', {}, later(4321)))
      .then((events, state) => {
        expect(events).toEqual([ev('ExecutionSucceeded', { at: later(4321).toISOString(), durationMs: 4321, dryRun: false })]);
        expect(known(state).status).toBe('validating');
      });
  });

  it('ends a dry run as dry-run-completed', () => {
    spec
      .given([received(rec, true), assessed(), requested(), granted(), scheduled, started(true), ...prePassed])
      .when(cmd('SucceedExecution', {}, later(10)))
      .then((events, state) => {
        expect(events).toEqual([ev('ExecutionSucceeded', { at: later(10).toISOString(), durationMs: 10, dryRun: true })]);
        expect(known(state).status).toBe('dry-run-completed');
      });
  });

  it('does nothing once succeeded', () => {
    spec.given(upToValidating).when(cmd('SucceedExecution', {})).thenNothing();
  });

  it('rejects success before pre-validation passed', () => {
    spec.given(upToExecuting).when(cmd('SucceedExecution', {})).thenThrows('INVALID_STATE');
  });

  it('rejects success of an optimization that is not executing', () => {
    spec.given(upToScheduled).when(cmd('SucceedExecution', {})).thenThrows('INVALID_STATE');
  });
});

describe('FailExecution', () => {
  const error = { code: 'IncorrectInstanceState', message: 'instance is pending' };

  it('starts a rollback of the completed mutating steps', () => {
    spec
      .given([...upToPreValidated, stepDone(0), stepDone(1)])
      .when(cmd('FailExecution', { error, failedStepIndex: 2 }, later(500)))
      .then((events, state) => {
        expect(events).toEqual([
          ev('ExecutionFailed', { at: later(500).toISOString(), error, failedStepIndex: 2, durationMs: 500 }),
          ev('RollbackStarted', {
            at: later(500).toISOString(),
            reason: 'execution failed at step 2: IncorrectInstanceState: instance is pending',
            steps: [
              { kind: 'start-instance', instanceId: 'i-0abc' },
              { kind: 'wait-instance-running', instanceId: 'i-0abc' },
            ],
          }),
        ]);
        expect(known(state).status).toBe('rolling-back');
      });
  });

  it('fails without rollback when no mutating step completed', () => {
    spec
      .given(upToPreValidated)
      .when(cmd('FailExecution', { error, failedStepIndex: 0 }))
      .then((events, state) => {
        expect(events).toEqual([ev('ExecutionFailed', { error, failedStepIndex: 0, durationMs: 0 })]);
        expect(known(state).status).toBe('failed');
      });
  });

  it('fails without rollback in a dry run', () => {
    spec
      .given([received(rec, true), assessed(), requested(), granted(), scheduled, started(true), ...prePassed, stepDone(0, true)])
      .when(cmd('FailExecution', { error }))
      .then([ev('ExecutionFailed', { error, durationMs: 0 })]);
  });

  it('fails without rollback before pre-validation', () => {
    spec.given(upToExecuting).when(cmd('FailExecution', { error })).then([ev('ExecutionFailed', { error, durationMs: 0 })]);
  });

  it('fails without rollback when the completed step cannot be undone', () => {
    const vol = observed.gp2Volume;
    spec
      .given([
        received(recs.deleteVolumeNoSnapshot),
        assessed('CRITICAL'),
        requested(2),
        granted('a', ['a'], false),
        granted('b', ['a', 'b'], true),
        scheduled,
        started(),
        ev('PreValidationPassed', { observed: vol }),
        ev('RollbackPlanRecorded', { steps: [], reversible: 'no' }),
        stepDone(0, false, { kind: 'delete-volume', volumeId: 'vol-0abc' }),
      ])
      .when(cmd('FailExecution', { error }))
      .then([ev('ExecutionFailed', { error, durationMs: 0 })]);
  });

  it('does nothing once failed', () => {
    spec.given([...upToPreValidated, ev('ExecutionFailed', { error, durationMs: 3 })]).when(cmd('FailExecution', { error })).thenNothing();
  });

  it('rejects failing an optimization that is not executing', () => {
    spec.given(upToScheduled).when(cmd('FailExecution', { error })).thenThrows('INVALID_STATE');
  });
});

describe('RecordValidation', () => {
  const config = { policy: defaultPolicy, priceBook: defaultPriceBook };
  const large = { ...running, instanceType: 'm5.large', cpuP95: 60 };
  /** A healthy picture: CPU 30 → 60 %, memory 40 → 70 %, network steady, status checks passing. */
  const healthy = {
    before: { cpuP95: 30, memoryUsedPct: 40, networkInBytesPerSec: 1000, networkOutBytesPerSec: 500, statusChecksPassed: true },
    after: { cpuP95: 60, memoryUsedPct: 70, networkInBytesPerSec: 1000, networkOutBytesPerSec: 500, statusChecksPassed: true },
  };
  const validate = (observedAfter: typeof running | undefined, sample: PerformanceSample = healthy, policy = defaultPolicy) =>
    cmd('RecordValidation', { ...(observedAfter ? { observedAfter } : {}), sample, ...config, policy });

  it('completes an optimization whose new state is as asked, pricing the savings from the price book', () => {
    spec
      .given(upToValidating)
      .when(validate(large))
      .then((events, state) => {
        expect(events).toEqual([
          ev('ValidationPassed', { actualMonthlySavings: 70.08, accuracyPct: 100, performance: expect.objectContaining({ cpuP95Before: 30, cpuP95After: 60, statusChecksPassed: true, verdict: 'ok' }) }),
        ]);
        const comparison = (events[0]!.data as { performance: PerformanceImpact }).performance.comparison!;
        expect(comparison.map((c) => [c.metric, c.before, c.after, c.verdict])).toEqual([
          ['cpu-p95', 30, 60, 'ok'],
          ['memory-used', 40, 70, 'ok'],
          ['network-in', 1000, 1000, 'ok'],
          ['network-out', 500, 500, 'ok'],
          ['status-checks', true, true, 'ok'],
        ]);
        expect(known(state).status).toBe('completed');
      });
  });

  it('fails the validation naming the code when EC2 refused to describe the resource after the change, and rolls the change back: it cannot be verified', () => {
    spec
      .given(upToValidating)
      .when(cmd('RecordValidation', { sample: { soakMinutes: 0 }, ...config, describeError: { code: 'UnauthorizedOperation', message: 'not allowed' } }))
      .then((events, state) => {
        expect(events.map((e) => e.type)).toEqual(['ValidationFailed', 'RollbackStarted']);
        expect((events[0]!.data as unknown as { reasons: string[] }).reasons).toEqual([expect.stringMatching(/could not be described after the change \(UnauthorizedOperation: not allowed\), so the change cannot be verified$/)]);
        expect(known(state).status).toBe('rolling-back');
      });
  });

  it('rolls the whole change back when the resource is not in the state asked for', () => {
    spec
      .given(upToValidating)
      .when(validate(running))
      .then((events, state) => {
        expect(events.map((e) => e.type)).toEqual(['ValidationFailed', 'RollbackStarted']);
        expect(events[0]!.data).toMatchObject({ actualMonthlySavings: 0, accuracyPct: 0 });
        expect((events[0]!.data as unknown as { reasons: string[] }).reasons.join(' ')).toMatch(/m5\.xlarge/);
        expect(events[1]!.data).toMatchObject({ steps: fullRollback });
        expect(known(state).status).toBe('rolling-back');
      });
  });

  it('fails validation on degraded performance (the policy CPU limit) even when the state is right', () => {
    spec
      .given(upToValidating)
      .when(validate(large, { ...healthy, after: { ...healthy.after, cpuP95: 95 } }))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['ValidationFailed', 'RollbackStarted']);
        expect(events[0]!.data).toMatchObject({ reasons: ['performance degraded: CPU p95 after the change 95% is above 80%'], performance: { verdict: 'degraded' } });
      });
  });

  it('given memory above the policy limit or network in halved after a rightsize, then it fails and rolls back naming each', () => {
    spec
      .given(upToValidating)
      .when(validate(large, { ...healthy, after: { ...healthy.after, memoryUsedPct: 97, networkInBytesPerSec: 400 } }))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['ValidationFailed', 'RollbackStarted']);
        expect((events[0]!.data as unknown as { reasons: string[] }).reasons).toEqual([
          'performance degraded: memory used after the change 97% is above 90%',
          'performance degraded: network in fell 60% after the change (1000 → 400 B/s), more than 50%',
        ]);
      });
  });

  it('given no CPU data after the change, then it is recorded unknown (never ok) and passes; with unknownBlocks it fails', () => {
    const noCpu = { ...healthy, after: { ...healthy.after, cpuP95: undefined } };
    spec
      .given(upToValidating)
      .when(validate(large, noCpu))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['ValidationPassed']);
        expect(events[0]!.data).toMatchObject({ performance: { verdict: 'unknown', comparison: expect.arrayContaining([expect.objectContaining({ metric: 'cpu-p95', before: 30, verdict: 'unknown' })]) } });
      });
    const strict = { ...defaultPolicy, validation: { ...defaultPolicy.validation, unknownBlocks: true } };
    spec
      .given(upToValidating)
      .when(validate(large, noCpu, strict))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['ValidationFailed', 'RollbackStarted']);
        expect((events[0]!.data as unknown as { reasons: string[] }).reasons).toEqual(['performance unknown: CPU p95: no data after the change']);
      });
  });

  it('fails without rollback when the change cannot be undone', () => {
    const snap = observed.snapshot;
    spec
      .given([
        received(criticalRec),
        assessed('CRITICAL'),
        requested(2),
        granted('a', ['a'], false),
        granted('b', ['a', 'b'], true),
        scheduled,
        started(),
        ev('PreValidationPassed', { observed: snap }),
        ev('RollbackPlanRecorded', { steps: [], reversible: 'no' }),
        stepDone(0, false, { kind: 'delete-snapshot', snapshotId: 'snap-0abc' }),
        ev('ExecutionSucceeded', { durationMs: 5, dryRun: false }),
      ])
      .when(cmd('RecordValidation', { observedAfter: snap, sample: {}, ...config }))
      .then((events, state) => {
        expect(events.map((e) => e.type)).toEqual(['ValidationFailed']);
        expect(known(state).status).toBe('failed');
      });
  });

  it('passes without savings, marked unpriced, when the price book cannot tell them (unknown, not zero)', () => {
    const usEast1 = defaultPriceBook.regions['us-east-1']!;
    const unpriced = { ...config, priceBook: { ...defaultPriceBook, regions: { 'us-east-1': { ...usEast1, instanceHourly: {} } } } };
    spec
      .given(upToValidating)
      .when(cmd('RecordValidation', { observedAfter: large, sample: healthy, ...unpriced }))
      .then((events, state) => {
        expect(events).toEqual([
          ev('ValidationPassed', { unpriced: ['instance type m5.xlarge in us-east-1', 'instance type m5.large in us-east-1'], performance: expect.objectContaining({ cpuP95After: 60, verdict: 'ok' }) }),
        ]);
        expect(known(state).validation?.actualMonthlySavings).toBeUndefined();
        expect(known(state).validation?.unpriced).toHaveLength(2);
      });
  });

  it('does nothing once validated', () => {
    spec
      .given([...upToValidating, ev('ValidationPassed', { actualMonthlySavings: 70.08, accuracyPct: 100, performance: ok })])
      .when(validate(large))
      .thenNothing();
  });

  it('rejects validation of an optimization that is not validating', () => {
    spec.given(upToPreValidated).when(validate(large)).thenThrows('INVALID_STATE');
  });
});

describe('CompleteRollbackStep', () => {
  it('records the next rollback step', () => {
    spec
      .given(upToRollingBack)
      .when(cmd('CompleteRollbackStep', { index: 0, step: fullRollback[0]!, outputs: {} }))
      .then([rollbackDone(0)]);
  });

  it('does nothing for a rollback step already recorded', () => {
    spec
      .given([...upToRollingBack, rollbackDone(0)])
      .when(cmd('CompleteRollbackStep', { index: 0, step: fullRollback[0]!, outputs: {} }))
      .thenNothing();
  });

  it('rejects a rollback step out of order', () => {
    spec
      .given(upToRollingBack)
      .when(cmd('CompleteRollbackStep', { index: 1, step: fullRollback[1]!, outputs: {} }))
      .thenThrows('OUT_OF_ORDER');
  });

  it('rejects a step beyond the rollback plan', () => {
    spec
      .given([...upToRollingBack, ...fullRollback.map((_, i) => rollbackDone(i))])
      .when(cmd('CompleteRollbackStep', { index: fullRollback.length, step: fullRollback[0]!, outputs: {} }))
      .thenThrows('INVALID_INPUT');
  });

  it('rejects rollback steps when no rollback runs', () => {
    spec.given(upToValidating).when(cmd('CompleteRollbackStep', { index: 0, step: fullRollback[0]!, outputs: {} })).thenThrows('INVALID_STATE');
  });
});

describe('CompleteRollback', () => {
  it('ends a rollback whose steps all completed as rolled-back', () => {
    spec
      .given([...upToRollingBack, ...fullRollback.map((_, i) => rollbackDone(i))])
      .when(cmd('CompleteRollback', {}))
      .then((events, state) => {
        expect(events).toEqual([ev('RollbackCompleted', {})]);
        expect(known(state).status).toBe('rolled-back');
      });
  });

  it('rejects completing a rollback with steps left', () => {
    spec.given([...upToRollingBack, rollbackDone(0)]).when(cmd('CompleteRollback', {})).thenThrows('INVALID_STATE');
  });

  it('does nothing once rolled back', () => {
    spec
      .given([...upToRollingBack, ...fullRollback.map((_, i) => rollbackDone(i)), ev('RollbackCompleted', {})])
      .when(cmd('CompleteRollback', {}))
      .thenNothing();
  });

  it('rejects completing a rollback that never started', () => {
    spec.given(upToValidating).when(cmd('CompleteRollback', {})).thenThrows('INVALID_STATE');
  });
});

describe('FailRollback', () => {
  const error = { code: 'InsufficientInstanceCapacity', message: 'no m5.xlarge capacity' };

  it('records a failed rollback as rollback-failed', () => {
    spec
      .given([...upToRollingBack, rollbackDone(0), rollbackDone(1)])
      .when(cmd('FailRollback', { error, failedStepIndex: 2 }))
      .then((events, state) => {
        expect(events).toEqual([ev('RollbackFailed', { error, failedStepIndex: 2 })]);
        expect(known(state).status).toBe('rollback-failed');
        expect(known(state).rollback?.error).toEqual(error);
      });
  });

  it('does nothing once the rollback failed', () => {
    spec.given([...upToRollingBack, ev('RollbackFailed', { error })]).when(cmd('FailRollback', { error })).thenNothing();
  });

  it('rejects failing a rollback that is not running', () => {
    spec.given(upToValidating).when(cmd('FailRollback', { error })).thenThrows('INVALID_STATE');
  });
});

describe('RollBackStage (a failed stage gate)', () => {
  const completed = [...upToValidating, ev('ValidationPassed', { actualMonthlySavings: 70, accuracyPct: 100, performance: ok })];
  const rollBack = cmd('RollBackStage', { batchId: 'b-1', stage: 2, reason: 'o-9 failed validation' });

  it('given a completed member of the stage, then its whole change is rolled back, the stage named in the reason, and the process manager undoes it', () => {
    spec.given(completed).when(rollBack).then((events, state) => {
      expect(events).toEqual([ev('RollbackStarted', { reason: 'stage 2 of batch b-1 failed its gate: o-9 failed validation', steps: fullRollback })]);
      expect(known(state).status).toBe('rolling-back');
      expect(nextMove(state, { now: NOW })).toEqual({ kind: 'decide', command: cmd('StartStep', { phase: 'rollback', index: 0 }) });
    });
  });

  it('given its rollback started already (a redelivery), then nothing', () => {
    const rolling = [...completed, ev('RollbackStarted', { reason: 'stage 2 of batch b-1 failed its gate: x', steps: fullRollback })];
    spec.given(rolling).when(rollBack).thenNothing();
  });

  it('given a dry run that completed, then nothing is undone', () => {
    const preview = [received(rec, true), assessed(), ev('ApprovalGranted', { mode: 'auto', approvers: [], final: true }), scheduled, started(true), ...prePassed, ...steps.map((_, i) => stepDone(i, true)), ev('ExecutionSucceeded', { durationMs: 1, dryRun: true })];
    spec.given(preview).when(rollBack).thenNothing();
  });

  it('given a member that is not completed, then it is refused', () => {
    spec.given(upToValidating).when(rollBack).thenThrows('INVALID_STATE');
  });
});

describe('RetryRollback (operator)', () => {
  const error = { code: 'InsufficientInstanceCapacity', message: 'no m5.xlarge capacity' };
  const failedAtTwo = [...upToRollingBack, rollbackDone(0), rollbackDone(1), ev('RollbackFailed', { error, failedStepIndex: 2 })];

  it('sends a failed rollback back to rolling-back, keeping the steps done, and the process manager resumes at the step that failed', () => {
    spec
      .given(failedAtTwo)
      .when(cmd('RetryRollback', { by: 'oncall', reason: 'capacity is back' }))
      .then((events, state) => {
        expect(events).toEqual([ev('RollbackRetried', { by: 'oncall', reason: 'capacity is back', failedStepIndex: 2 })]);
        const s = known(state);
        expect(s.status).toBe('rolling-back');
        expect(s.rollback).toEqual({ reason: expect.any(String), steps: fullRollback, completedSteps: [expect.objectContaining({ index: 0 }), expect.objectContaining({ index: 1 })] });
        expect(nextMove(state, { now: NOW })).toEqual({ kind: 'decide', command: cmd('StartStep', { phase: 'rollback', index: 2 }) });
      });
  });

  it('refuses a rollback that has not failed, and needs who and why', () => {
    spec.given(upToRollingBack).when(cmd('RetryRollback', { by: 'oncall', reason: 'x' })).thenThrows('INVALID_STATE');
    spec.given(failedAtTwo).when(cmd('RetryRollback', { by: ' ', reason: 'x' })).thenThrows('INVALID_INPUT');
    spec.given(failedAtTwo).when(cmd('RetryRollback', { by: 'oncall', reason: '' })).thenThrows('INVALID_INPUT');
  });
});

describe('ResolveOptimization (operator)', () => {
  const error = { code: 'InsufficientInstanceCapacity', message: 'no m5.xlarge capacity' };

  it('closes a failed rollback as resolved, with who, the note and where it came from; nothing moves it after', () => {
    spec
      .given([...upToRollingBack, ev('RollbackFailed', { error })])
      .when(cmd('ResolveOptimization', { by: 'oncall', note: 'restored the instance by hand' }))
      .then((events, state) => {
        expect(events).toEqual([ev('OptimizationResolved', { by: 'oncall', note: 'restored the instance by hand', from: 'rollback-failed' })]);
        expect(known(state)).toMatchObject({ status: 'resolved', resolution: { by: 'oncall', note: 'restored the instance by hand', from: 'rollback-failed' } });
        expect(isTerminal(known(state).status)).toBe(true);
        expect(nextMove(state, { now: NOW }).kind).toBe('idle');
      });
  });

  it('refuses anything the engine is still working on or has finished on its own, and needs a note', () => {
    spec.given(upToRollingBack).when(cmd('ResolveOptimization', { by: 'oncall', note: 'x' })).thenThrows('INVALID_STATE');
    spec.given(upToValidating).when(cmd('ResolveOptimization', { by: 'oncall', note: 'x' })).thenThrows('INVALID_STATE');
    spec.given([...upToRollingBack, ev('RollbackFailed', { error })]).when(cmd('ResolveOptimization', { by: 'oncall', note: ' ' })).thenThrows('INVALID_INPUT');
  });
});

describe('CancelOptimization', () => {
  it.each<[string, OptimizationEvent[]]>([
    ['received', upToReceived],
    ['awaiting-approval', upToAwaiting],
    ['approved', upToApproved],
    ['scheduled', upToScheduled],
  ])('cancels a %s optimization', (_status, history) => {
    spec
      .given(history)
      .when(cmd('CancelOptimization', { by: 'ops', reason: 'superseded' }))
      .then((events, state) => {
        expect(events).toEqual([ev('OptimizationCancelled', { by: 'ops', reason: 'superseded' })]);
        expect(known(state).status).toBe('cancelled');
      });
  });

  it('rejects cancelling an executing optimization', () => {
    spec.given(upToExecuting).when(cmd('CancelOptimization', { by: 'ops', reason: 'x' })).thenThrows('INVALID_STATE');
  });

  it('rejects cancelling a completed optimization', () => {
    spec
      .given([...upToValidating, ev('ValidationPassed', { actualMonthlySavings: 70.08, accuracyPct: 100, performance: ok })])
      .when(cmd('CancelOptimization', { by: 'ops', reason: 'x' }))
      .thenThrows('INVALID_STATE');
  });

  it('refuses a second cancel, naming who cancelled and why (reporting it done would credit the second caller)', () => {
    spec
      .given([...upToReceived, ev('OptimizationCancelled', { by: 'ops', reason: 'first' })])
      .when(cmd('CancelOptimization', { by: 'mallory', reason: 'second' }))
      .thenThrows((e) => e instanceof Error && (e as { code?: string }).code === 'INVALID_STATE' && /already cancelled by ops \(first\)$/.test(e.message));
  });

  it('requires a reason', () => {
    spec.given(upToReceived).when(cmd('CancelOptimization', { by: 'ops', reason: '' })).thenThrows('INVALID_INPUT');
  });
});

describe('evolve and fold', () => {
  it('folds a completed optimization with everything it went through', () => {
    const state = known(foldOptimization([...upToValidating, ev('ValidationPassed', { actualMonthlySavings: 70.08, accuracyPct: 100, performance: ok })]));
    expect(state.status).toBe('completed');
    expect(state.risk?.level).toBe('MEDIUM');
    expect(state.approval).toMatchObject({ mode: 'manual', authority: 'team-lead', approvers: ['alice'], grantedAt: AT, expiresAt: EXPIRES });
    expect(state.schedule).toEqual({ batchId: 'b-1', notBefore: AT, priority: 'MEDIUM', scheduledAt: AT });
    expect(state.execution).toMatchObject({ observed: running, reversible: 'yes', durationMs: 1000, succeeded: true, rollbackPlan: fullRollback });
    expect(state.execution?.completedSteps.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
    expect(state.validation).toEqual({ actualMonthlySavings: 70.08, accuracyPct: 100, performance: ok, passed: true, problems: [] });
  });

  it('ignores a second OptimizationReceived', () => {
    const state = foldOptimization([received(), received(recs.stopIdle)]);
    expect(known(state).recommendation).toBe(rec);
  });

  it('ignores events on an empty stream other than OptimizationReceived', () => {
    expect(foldOptimization([assessed()])).toEqual({ status: 'initial' });
  });

  it('starts from the initial state', () => {
    expect(optimizationDecider.initialState()).toEqual({ status: 'initial' });
  });

  it('knows the terminal and active statuses', () => {
    expect(TERMINAL_STATUSES).toEqual(['completed', 'dry-run-completed', 'denied', 'expired', 'cancelled', 'failed', 'rolled-back', 'rollback-failed', 'resolved', 'out-of-scope']);
    expect(ACTIVE_EXECUTION_STATUSES).toEqual(['scheduled', 'executing', 'validating', 'rolling-back', 'reconciliation-needed']);
    expect(isTerminal('rolled-back')).toBe(true);
    expect(isTerminal('awaiting-approval')).toBe(false);
    expect(isTerminal('initial')).toBe(false);
  });

  it('throws DomainError instances (never retried by infrastructure)', () => {
    expect(() => optimizationDecider.decide(cmd('StartExecution', {}), { status: 'initial' })).toThrow(DomainError);
  });
});

describe('an approval counts for the request the approver looked at (Approve.requestedAt)', () => {
  // Asked at AT; approved; at pre-validation the plan drifted and approval was asked again, at ASKED_AGAIN.
  const ASKED_AGAIN = '2026-03-02T11:00:00.000Z';
  const askedAgain = [...upToExecuting, ev('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: EXPIRES, at: ASKED_AGAIN })];

  it('given a request asked again since, when someone approves the first one they looked at, then REQUEST_CHANGED names both times; nothing recorded', () => {
    spec.given(askedAgain).when(cmd('Approve', { by: 'bob', requestedAt: AT })).thenThrows('REQUEST_CHANGED');
    expect(() => optimizationDecider.decide(cmd('Approve', { by: 'bob', requestedAt: AT }), foldOptimization(askedAgain))).toThrow(
      new RegExp(`the approval request of ${OPT_ID} you looked at \\(asked ${AT}\\) has been asked again since \\(at ${ASKED_AGAIN}: its plan changed\\)`),
    );
  });

  it('given a request asked again since, when someone approves the one asked again, or names no request, then it is granted', () => {
    for (const seen of [{ requestedAt: ASKED_AGAIN }, {}]) {
      spec
        .given(askedAgain)
        .when(cmd('Approve', { by: 'bob', ...seen }))
        .then((events) => expect(events.map((e) => [e.type, (e.data as { by?: string }).by])).toEqual([['ApprovalGranted', 'bob']]));
    }
  });

  it('given the first request, when someone approves it by the time it was asked, then it is granted', () => {
    spec
      .given([received(), assessed(), requested()])
      .when(cmd('Approve', { by: 'bob', requestedAt: AT }))
      .then([ev('ApprovalGranted', { mode: 'manual', by: 'bob', approvers: ['bob'], final: true })]);
  });
});
