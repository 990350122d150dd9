import fc from 'fast-check';
import { OPT_ID, observed, recs } from './__fixtures__';
import { optimizationDecider, type OptimizationState } from './decider';
import { DomainError } from './errors';
import { parseStoredEvent, schemaVersionOf } from './event-schemas';
import type { OptimizationCommand } from './commands';
import type { OptimizationEvent } from './events';
import { defaultPolicy } from './policy';
import { defaultPriceBook } from './pricing';
import { nextMove } from './process';
import type { ObservedResource, Recommendation, Step } from './types';

// The optimization decider as a property: random walks through its lifecycle — the process manager's own moves, with
// EC2 outcomes, look-ups, observations and people's decisions chosen at random, valid or not — never make `decide`
// throw anything but a DomainError, and every event it decides is one the store can read back (it parses against its
// schema) and that folds, from what the store keeps, into the very state the decider went on with.
// OPTEX_FUZZ_SEED replays a seed a failure printed.
const seed = process.env['OPTEX_FUZZ_SEED'] ? Number(process.env['OPTEX_FUZZ_SEED']) : Date.now() % 2 ** 31;

const CASES: readonly [Recommendation, ObservedResource][] = [
  [recs.rightsize, observed.runningInstance],
  [recs.rightsize, observed.stoppedInstance],
  [recs.stopIdle, observed.runningInstance],
  [recs.modifyVolume, observed.gp2Volume],
  [recs.deleteVolume, observed.gp2Volume],
  [recs.deleteVolumeNoSnapshot, observed.gp2Volume],
  [recs.deleteSnapshot, observed.snapshot],
  [recs.releaseAddress, observed.address],
  [recs.purchaseRI, observed.offering],
];

/** What a step's call returns, when it returns something. */
const OUTPUTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'create-snapshot': { snapshotId: 'snap-new' },
  'create-volume-from-snapshot': { volumeId: 'vol-new' },
  'allocate-address': { allocationId: 'eipalloc-new', publicIp: '203.0.113.10' },
  'purchase-reserved-instances': { reservedInstancesId: 'ri-new' },
};
const ERRORS = ['UnauthorizedOperation', 'IncorrectInstanceState', 'InvalidVolume.NotFound', 'VolumeModificationRateExceeded', 'RequestLimitExceeded', 'Timeout'];
const PEOPLE = ['alice', 'bob', 'Alice', 'carol'];

/** The resource after a change, as the validator may find it. */
function after(rec: Recommendation, seen: ObservedResource, pick: number): ObservedResource | undefined {
  if (pick % 4 === 0) return undefined;
  if (pick % 4 === 1) return seen;
  switch (seen.kind) {
    case 'instance':
      return { ...seen, instanceType: rec.action.type === 'rightsize' ? rec.action.targetInstanceType : seen.instanceType, state: rec.action.type === 'stop-idle' ? 'stopped' : 'running' };
    case 'volume':
      return { ...seen, volumeType: 'gp3' };
    default:
      return seen;
  }
}

/** The command a walk makes at one point: the process manager's move, carried out with an outcome `pick` chooses, or a person's. */
function commandAt(state: Exclude<OptimizationState, { status: 'initial' }>, seen: ObservedResource, pick: number, now: Date, justStarted: string | undefined): OptimizationCommand | undefined {
  const meta = { now };
  const by = PEOPLE[pick % PEOPLE.length]!;
  if (pick % 13 === 12) {
    // A person, whatever the state: most are refused (DomainError), which is the point.
    const kinds = ['Approve', 'Deny', 'CancelOptimization', 'RetryRollback', 'ResolveOptimization', 'ExpireApproval'] as const;
    const type = kinds[Math.floor(pick / 13) % kinds.length]!;
    if (type === 'Approve') return { type, data: { by }, metadata: meta };
    if (type === 'Deny') return { type, data: { by, reason: 'no' }, metadata: meta };
    if (type === 'ResolveOptimization') return { type, data: { by, note: 'checked by hand' }, metadata: meta };
    if (type === 'ExpireApproval') return { type, data: {}, metadata: { now: new Date(now.getTime() + 8 * 86_400_000) } };
    return { type, data: { by, reason: 'operator' }, metadata: meta };
  }
  switch (state.status) {
    case 'received':
      if (state.risk === undefined) return { type: 'AssessRisk', data: { policy: defaultPolicy, credentialsAccountId: undefined, priceBook: defaultPriceBook, ...(pick % 3 ? { live: { observed: seen } } : {}) }, metadata: meta };
      return { type: 'DecideApproval', data: { policy: defaultPolicy, priceBook: defaultPriceBook }, metadata: meta };
    case 'approved':
      return { type: 'ScheduleExecution', data: { batchId: 'b-1', notBefore: now }, metadata: meta };
    default:
      break;
  }
  const move = nextMove(state, { now, ...(justStarted ? { justStarted } : {}) });
  switch (move.kind) {
    case 'idle':
      return undefined;
    case 'decide':
      return move.command;
    case 'pre-validate': {
      const choice = pick % 10; // 0-2: the resource gone, not describable, held by another; else as seen
      return {
        type: 'RecordPreValidation',
        data: {
          ...(choice === 0 ? {} : choice === 1 ? { describeError: { code: 'UnauthorizedOperation', message: 'denied' } } : { observed: seen }),
          activeOnResource: choice === 2 ? [{ optimizationId: 'other', action: 'modify-volume', status: 'executing' }] : [],
          scope: defaultPolicy.scope,
          policy: defaultPolicy,
          priceBook: defaultPriceBook,
        },
        metadata: meta,
      };
    }
    case 'perform': {
      const fails = pick % 8 === 0;
      const step: Step = move.step;
      if (move.phase === 'execution') {
        return fails
          ? { type: 'FailExecution', data: { error: { code: ERRORS[pick % ERRORS.length]!, message: 'failed' }, failedStepIndex: move.index }, metadata: meta }
          : { type: 'CompleteExecutionStep', data: { index: move.index, step, outputs: OUTPUTS[step.kind] ?? {} }, metadata: meta };
      }
      return fails
        ? { type: 'FailRollback', data: { error: { code: ERRORS[pick % ERRORS.length]!, message: 'failed' }, failedStepIndex: move.index }, metadata: meta }
        : { type: 'CompleteRollbackStep', data: { index: move.index, step, outputs: OUTPUTS[step.kind] ?? {} }, metadata: meta };
    }
    case 'reconcile': {
      const evidence = [
        { kind: 'none' },
        { kind: 'unanswered', reason: 'throttled' },
        { kind: 'not-carried-out', reason: 'held by the kill switch' },
        { kind: 'created', outputs: OUTPUTS[move.step.kind] ?? {} },
        { kind: 'created' },
        { kind: 'exists', exists: pick % 2 === 0 },
        { kind: 'reservations', found: pick % 2 ? [] : [{ reservedInstancesId: 'ri-x', instanceCount: 2, offeringId: 'ri-offering-0abc' }] },
        { kind: 'instance', instance: { instanceType: 'm5.large', state: 'stopped' } },
        { kind: 'volume', volume: { volumeType: 'gp3', state: 'in-use', modificationState: 'optimizing' } },
      ] as const;
      return { type: 'ReconcileStep', data: { phase: move.phase, index: move.index, evidence: evidence[pick % evidence.length]! }, metadata: meta };
    }
    case 'validate':
      return {
        type: 'RecordValidation',
        data: {
          ...(pick % 6 === 0 ? { describeError: { code: 'UnauthorizedOperation', message: 'denied' } } : {}),
          ...(after(state.recommendation, seen, pick) ? { observedAfter: after(state.recommendation, seen, pick)! } : {}),
          sample: pick % 3 === 0 ? {} : { before: { cpuP95: 20 }, after: { cpuP95: pick % 2 ? 30 : 95 } },
          policy: defaultPolicy,
          priceBook: defaultPriceBook,
        },
        metadata: meta,
      };
    default: {
      const _exhaustive: never = move;
      return _exhaustive;
    }
  }
}

/** An event as the store keeps it (JSON, with its schema version), read back. */
const stored = (e: OptimizationEvent): OptimizationEvent =>
  parseStoredEvent({ type: e.type, data: JSON.parse(JSON.stringify(e.data)) as unknown, metadata: { schemaVersion: schemaVersionOf(e.type) }, stream: `optimization-${OPT_ID}` }) as OptimizationEvent;

describe(`the optimization decider, as a property (seed ${seed})`, () => {
  it('random walks: decide throws only DomainErrors, and every event it decides is read back and folds into the same state', () => {
    fc.assert(
      fc.property(fc.nat(CASES.length - 1), fc.boolean(), fc.array(fc.nat(1000), { minLength: 20, maxLength: 60 }), (which, dryRun, picks) => {
        const [rec, seen] = CASES[which]!;
        let now = new Date('2027-02-01T10:00:00Z');
        let state = optimizationDecider.initialState();
        let replayed = optimizationDecider.initialState();
        let justStarted: string | undefined;
        const receive: OptimizationCommand = { type: 'ReceiveRecommendation', data: { optimizationId: OPT_ID, recommendation: rec, dryRun, deliveryId: 'd-1' }, metadata: { now } };
        const apply = (command: OptimizationCommand): void => {
          let events: OptimizationEvent[];
          try {
            events = optimizationDecider.decide(command, state);
          } catch (error) {
            if (error instanceof DomainError) return;
            throw new Error(`${command.type} in ${state.status} threw ${String(error)}`, { cause: error });
          }
          justStarted = undefined;
          for (const e of events) {
            state = optimizationDecider.evolve(state, e);
            replayed = optimizationDecider.evolve(replayed, stored(e));
            if (e.type === 'ExecutionStepStarted' || e.type === 'RollbackStepStarted') justStarted = e.data.clientToken;
          }
          // As JSON, key order aside: what a reader folds from the store is what the decider went on with.
          expect(JSON.parse(JSON.stringify(replayed))).toEqual(JSON.parse(JSON.stringify(state)));
        };
        apply(receive);
        for (const pick of picks) {
          if (state.status === 'initial') break;
          now = new Date(now.getTime() + 7 * 3_600_000); // past EC2's 6-hour modification cool-down, and soak
          // A crash now and then: the intent this process recorded is forgotten, so the step is reconciled.
          if (pick % 11 === 10) justStarted = undefined;
          const command = commandAt(state, seen, pick, now, justStarted);
          if (command) apply(command);
        }
      }),
      { numRuns: 400, seed },
    );
  });
});
