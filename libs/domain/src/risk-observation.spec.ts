import { DeciderSpecification } from './__fixtures__/decider-spec';
import { AT, NOW, OPT_ID, cmd, ev, observed, recommendation, recs } from './__fixtures__';
import { optimizationDecider, type OptimizationState } from './decider';
import { executionPlan, rollbackPlan } from './plans';
import { changePlanOf } from './change-plan';
import { defaultPolicy, parsePolicy, type Policy } from './policy';
import { defaultPriceBook } from './pricing';
import { summarize, viewOf } from './projection';
import type { OptimizationEvent } from './events';
import type { ObservedResource, Recommendation } from './types';

// Risk from observation (issue 8, defect 1): the risk is assessed on what the analyzer said and on the live resource.

const spec = DeciderSpecification.for(optimizationDecider);
const fold = (events: readonly OptimizationEvent[]): OptimizationState => events.reduce(optimizationDecider.evolve, optimizationDecider.initialState());
const policyOf = (override: unknown): Policy => {
  const parsed = parsePolicy(override);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
};
/** A policy that approves MEDIUM automatically: the one under which the untagged production instance was stopped. */
const autoMedium = policyOf({ approval: { autoApprove: { maxLevel: 'MEDIUM', maxMonthlySavings: 500 } } });

const stopIdle = recs.stopIdle; // no tags, no monthlyCost
const productionInstance: ObservedResource = { kind: 'instance', id: 'i-0abc', instanceType: 'm5.xlarge', state: 'running', tags: { env: 'production', criticality: 'critical' } };
const bigInstance: ObservedResource = { kind: 'instance', id: 'i-0abc', instanceType: 'm5.24xlarge', state: 'running', tags: {} };
const received = (r: Recommendation = stopIdle, dryRun = false) => ev('OptimizationReceived', { recommendation: r, dryRun, deliveryId: 'd-1' });
const assess = (live: { observed?: ObservedResource } | undefined, policy: Policy = defaultPolicy) =>
  cmd('AssessRisk', { policy, credentialsAccountId: undefined, priceBook: defaultPriceBook, ...(live ? { live } : {}) });

describe('AssessRisk on the live resource', () => {
  it('given a stop-idle sent without tags, when the live instance is tagged env=production and criticality=critical, then it is CRITICAL, not MEDIUM', () => {
    spec
      .given([received()])
      .when(assess({ observed: productionInstance }, autoMedium))
      .then([
        ev('RiskAssessed', {
          baseLevel: 'MEDIUM',
          level: 'CRITICAL',
          factors: [
            { factor: 'production', detail: 'tag env=production on the live resource marks a production resource' },
            { factor: 'criticality', detail: 'tag criticality=critical on the live resource marks a critical resource' },
          ],
          policyVersion: autoMedium.version,
          basis: { stated: {}, live: { found: true, observed: productionInstance, monthlyCost: 140.16 } },
        }),
      ]);
  });

  it('given that assessment, when approval is decided under a policy that auto-approves MEDIUM, then a change-board is asked (not auto-approved)', () => {
    spec
      .given([received(), ...(optimizationDecider.decide(assess({ observed: productionInstance }, autoMedium), fold([received()])) as OptimizationEvent[])])
      .when(cmd('DecideApproval', { policy: autoMedium }))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['ApprovalRequested']);
        expect(events[0]).toMatchObject({ data: { authority: 'change-board', requiredApprovals: 2 } });
      });
  });

  it('given a stop-idle of an m5.24xlarge without monthlyCost, then the type and its price-book cost make it large (HIGH)', () => {
    spec
      .given([received()])
      .when(assess({ observed: bigInstance }))
      .then([
        ev('RiskAssessed', {
          baseLevel: 'MEDIUM',
          level: 'HIGH',
          factors: [{ factor: 'large', detail: 'instance size 24xlarge (m5.24xlarge) is at least 8xlarge on the live resource; monthly cost 3363.84 (price book) on the live resource is at least 1000' }],
          policyVersion: 'default-v1',
          basis: { stated: {}, live: { found: true, observed: bigInstance, monthlyCost: 3363.84 } },
        }),
      ]);
  });

  it('keeps what the analyzer stated and records both; a stated tag is named as stated', () => {
    const tagged = recommendation({ type: 'stop-idle' }, { resource: { type: 'ec2:instance', id: 'i-0abc', tags: { Env: 'Prod' }, monthlyCost: 140.16 } });
    spec
      .given([received(tagged)])
      .when(assess({ observed: observed.runningInstance }))
      .then((events) => {
        expect(events[0]).toMatchObject({
          type: 'RiskAssessed',
          data: {
            level: 'HIGH',
            factors: [{ factor: 'production', detail: 'tag Env=Prod marks a production resource' }],
            basis: { stated: { tags: { Env: 'Prod' }, monthlyCost: 140.16 }, live: { found: true, monthlyCost: 140.16 } },
          },
        });
      });
  });

  it('records a live resource that was not found, and assesses on what was stated', () => {
    spec
      .given([received()])
      .when(assess({}))
      .then([ev('RiskAssessed', { baseLevel: 'MEDIUM', level: 'MEDIUM', factors: [], policyVersion: 'default-v1', basis: { stated: {}, live: { found: false } } })]);
  });

  it('records what the price book lacks for the live resource as unpriced', () => {
    const saEast = recommendation({ type: 'stop-idle' }, { region: 'sa-east-1' });
    spec
      .given([received(saEast)])
      .when(assess({ observed: observed.runningInstance }))
      .then((events) => expect(events[0]).toMatchObject({ data: { level: 'MEDIUM', basis: { live: { found: true, unpriced: ['region sa-east-1 (not in the price book)'] } } } }));
  });
});

// ── Pre-validation re-checks the risk on the resource as it is now ──

const rightsize = recs.rightsize;
const running = observed.runningInstance;
const approvedAndStarted = (dryRun = false): OptimizationEvent[] => [
  received(rightsize, dryRun),
  ev('RiskAssessed', { baseLevel: 'MEDIUM', level: 'MEDIUM', factors: [], policyVersion: 'default-v1', basis: { stated: { instanceType: 'm5.xlarge' }, live: { found: true, observed: running, monthlyCost: 140.16 } } }),
  ev('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: '2026-03-08T10:00:00.000Z' }),
  ev('ApprovalGranted', { mode: 'manual', by: 'alice', approvers: ['alice'], final: true }),
  ev('ExecutionScheduled', { batchId: 'b-1', notBefore: AT, priority: 'MEDIUM' }),
  ev('ExecutionStarted', { dryRun }),
];
const nowProduction: ObservedResource = { ...running, tags: { env: 'production' } };
const preValidate = (obs: ObservedResource, policy: Policy | undefined = defaultPolicy) =>
  cmd('RecordPreValidation', { observed: obs, activeOnResource: [], scope: defaultPolicy.scope, ...(policy ? { policy, priceBook: defaultPriceBook } : {}) });

describe('RecordPreValidation: a resource that drifted to a higher risk', () => {
  it('given an approved MEDIUM rightsize, when the live instance is now tagged production, then the risk is reassessed and approval is asked again, nothing executes', () => {
    spec
      .given(approvedAndStarted())
      .when(preValidate(nowProduction))
      .then((events, state) => {
        expect(events).toEqual([
          ev('RiskReassessed', {
            previousLevel: 'MEDIUM',
            baseLevel: 'MEDIUM',
            level: 'HIGH',
            factors: [{ factor: 'production', detail: 'tag env=production on the live resource marks a production resource' }],
            policyVersion: 'default-v1',
            basis: { stated: { instanceType: 'm5.xlarge' }, live: { found: true, observed: nowProduction, monthlyCost: 140.16 } },
            returnedForApproval: true,
          }),
          ev('ApprovalRequested', {
            authority: 'finops-manager',
            requiredApprovals: 1,
            expiresAt: new Date(NOW.getTime() + 168 * 3600 * 1000).toISOString(),
            plan: changePlanOf(rightsize, nowProduction, OPT_ID, { baseLevel: 'MEDIUM', level: 'HIGH', factors: [{ factor: 'production', detail: 'tag env=production on the live resource marks a production resource' }], policyVersion: 'default-v1' }, defaultPriceBook),
          }),
        ]);
        expect(state.status).toBe('awaiting-approval');
        if (state.status === 'initial') throw new Error('unreachable');
        expect(state.execution).toBeUndefined();
        expect(state.schedule).toBeUndefined();
        expect(state.approval.approvers).toEqual([]);
        expect(viewOf(state)).toMatchObject({ risk: 'HIGH', approval: 'pending' });
        expect(summarize([viewOf(state)], { rejected: 0, duplicates: 0 }).totalExecutions).toBe(0);
      });
  });

  it('given the re-request, when approved again, then it is scheduled and started afresh', () => {
    const history = [...approvedAndStarted(), ...optimizationDecider.decide(preValidate(nowProduction), fold(approvedAndStarted()))];
    const regranted = ev('ApprovalGranted', { mode: 'manual', by: 'fiona', approvers: ['fiona'], final: true });
    spec.given([...history, regranted]).when(cmd('ScheduleExecution', { batchId: 'b-1', notBefore: NOW })).then((events) => expect(events.map((e) => e.type)).toEqual(['ExecutionScheduled']));
    spec
      .given([...history, regranted, ev('ExecutionScheduled', { batchId: 'b-1', notBefore: AT, priority: 'MEDIUM' })])
      .when(cmd('StartExecution', {}))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['ExecutionStarted']));
  });

  it('given a policy that approves the new level automatically, then the reassessment is recorded and the execution goes on', () => {
    const autoHigh = policyOf({ approval: { autoApprove: { maxLevel: 'HIGH', maxMonthlySavings: 500 } } });
    spec
      .given(approvedAndStarted())
      .when(preValidate(nowProduction, autoHigh))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['RiskReassessed', 'PreValidationPassed', 'RollbackPlanRecorded']);
        expect(events[0]).toMatchObject({ data: { previousLevel: 'MEDIUM', level: 'HIGH', returnedForApproval: false } });
      });
  });

  it('given the same risk as assessed, then pre-validation passes as before', () => {
    spec
      .given(approvedAndStarted())
      .when(preValidate(running))
      .then([
        ev('PreValidationPassed', { observed: running }),
        ev('RollbackPlanRecorded', { steps: rollbackPlan(rightsize, running), reversible: 'yes' }),
      ]);
    expect(executionPlan(rightsize, running, 'x').length).toBeGreaterThan(0);
  });

  it('given a dry run, then it is not sent back for approval (a preview changes nothing)', () => {
    spec
      .given(approvedAndStarted(true))
      .when(preValidate(nowProduction))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['PreValidationPassed', 'RollbackPlanRecorded']));
  });
});

describe('DecideApproval of a dry run (a preview)', () => {
  it('given a CRITICAL dry run, when approval is decided, then it needs none: a preview changes nothing', () => {
    spec
      .given([received(stopIdle, true), ...optimizationDecider.decide(assess({ observed: productionInstance }), fold([received(stopIdle, true)]))])
      .when(cmd('DecideApproval', { policy: defaultPolicy, priceBook: defaultPriceBook }))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['ApprovalGranted']);
        expect(events[0]).toMatchObject({ data: { mode: 'auto', final: true, plan: { riskLevel: 'CRITICAL' } } });
      });
  });
});

describe('RecordPreValidation: a rightsize to another architecture', () => {
  it('given an approved m5.xlarge → m6g.large rightsize, when pre-validated, then it fails naming both architectures, nothing executes', () => {
    const toGraviton = recommendation({ type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm6g.large' });
    const history = approvedAndStarted().map((e) => (e.type === 'OptimizationReceived' ? received(toGraviton) : e));
    spec
      .given(history)
      .when(preValidate(running))
      .then([
        ev('PreValidationFailed', {
          reasons: ['architecture: m5.xlarge is x86_64 and m6g.large is arm64; a type change cannot move an instance to another architecture (its AMI and software are built for x86_64)'],
          observed: running,
        }),
      ]);
  });

  it('given a Graviton to Graviton rightsize (m6g.xlarge → m7g.large), then the architecture is no problem', () => {
    const graviton = recommendation({ type: 'rightsize', currentInstanceType: 'm6g.xlarge', targetInstanceType: 'm7g.large' });
    const live: ObservedResource = { ...running, instanceType: 'm6g.xlarge' };
    const history = approvedAndStarted().map((e) => (e.type === 'OptimizationReceived' ? received(graviton) : e));
    spec
      .given(history)
      .when(preValidate(live))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['PreValidationPassed', 'RollbackPlanRecorded']));
  });
});

describe('RecordPreValidation: a rightsize to a type not offered where the instance lives', () => {
  const offering = (offered: boolean, instanceType = 'm5.large') => ({ instanceType, location: 'us-east-1a', offered });

  it('given an approved m5.xlarge → m5.large rightsize, when pre-validation observes m5.large not offered in the instance\'s zone, then it fails with EC2\'s Unsupported, nothing executes', () => {
    const live: ObservedResource = { ...running, targetOffering: offering(false) };
    spec
      .given(approvedAndStarted())
      .when(preValidate(live))
      .then((events, state) => {
        expect(events).toEqual([ev('PreValidationFailed', { reasons: ['Unsupported: m5.large is not offered in us-east-1a'], observed: live })]);
        expect(state).toMatchObject({ status: 'failed', execution: { preValidation: 'failed', error: { code: 'PRE_VALIDATION_FAILED', message: 'Unsupported: m5.large is not offered in us-east-1a' } } });
      });
  });

  it('given the target observed offered there, then the offering is no problem', () => {
    spec
      .given(approvedAndStarted())
      .when(preValidate({ ...running, targetOffering: offering(true) }))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['PreValidationPassed', 'RollbackPlanRecorded']));
  });

  it('given no offering observed (events before it, a describe not made), or one of another type, then it is no problem either', () => {
    for (const live of [running, { ...running, targetOffering: offering(false, 'm5.2xlarge') }]) {
      spec
        .given(approvedAndStarted())
        .when(preValidate(live))
        .then((events) => expect(events.map((e) => e.type)).toEqual(['PreValidationPassed', 'RollbackPlanRecorded']));
    }
  });
});
