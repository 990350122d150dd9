import type { Step, StepOutputs } from './types';

// After a crash between a step's intent (ExecutionStepStarted / RollbackStepStarted) and its outcome, the executor
// looks for the step's effect before calling EC2 again. What to look at is decided here, and so is the verdict.

/** The look-up that tells whether a started step's effect happened. */
export type EffectLookup =
  /** DescribeInstances of the step's instance (stop, start, type change). */
  | { readonly kind: 'describe-instance'; readonly instanceId: string }
  /** DescribeVolumes of the step's volume (modification, deletion). */
  | { readonly kind: 'describe-volume'; readonly volumeId: string }
  | { readonly kind: 'describe-snapshot'; readonly snapshotId: string }
  | { readonly kind: 'describe-address'; readonly allocationId: string }
  /** What a creating call tagged with the step's client token (`optex:client-token`). */
  | { readonly kind: 'find-by-client-token'; readonly resource: 'snapshot' | 'volume' | 'address' }
  /** Reservations of the offering's instance type bought since the intent (the purchase takes no client token). */
  | { readonly kind: 'find-reservations'; readonly instanceType: string; readonly since: string }
  /** Nothing to look at: the call is idempotent at EC2 by its client token and may be sent again with the same one. */
  | { readonly kind: 'none' };

/** What the look-up found. */
export type StepEvidence =
  | { readonly kind: 'instance'; readonly instance?: { readonly instanceType: string; readonly state: string } }
  | {
      readonly kind: 'volume';
      readonly volume?: { readonly volumeType: string; readonly iops?: number; readonly throughput?: number; readonly state: string; readonly modificationState?: string };
    }
  | { readonly kind: 'exists'; readonly exists: boolean }
  /** The resource the client token names, as the step's outputs (e.g. `{ snapshotId }`), or nothing. */
  | { readonly kind: 'created'; readonly outputs?: StepOutputs }
  | { readonly kind: 'reservations'; readonly found: readonly { readonly reservedInstancesId: string; readonly instanceCount: number; readonly offeringId?: string }[] }
  | { readonly kind: 'none' }
  /** The look-up could not be made (EC2 refused it, or kept failing past the executor's bound): `reason` says what failed. */
  | { readonly kind: 'unanswered'; readonly reason: string }
  /**
   * No look-up needed: the executor that recorded the intent saw that no call of the step was carried out and none is in
   * flight — the kill switch held the call before it was sent, or EC2 refused every attempt for its rate (a throttle)
   * and the process stopped before sending it again. `reason` says which.
   */
  | { readonly kind: 'not-carried-out'; readonly reason: string };

/** The verdict on a started step: its effect happened (with the step's outputs), did not happen, or cannot be told. */
export type EffectVerdict =
  | { readonly verdict: 'happened'; readonly outputs: StepOutputs; readonly evidence: string }
  | { readonly verdict: 'not-happened'; readonly evidence: string }
  | { readonly verdict: 'unknown'; readonly reason: string };

/**
 * Which look-up tells whether `step` took effect. `offeringInstanceType` is the reserved-instances offering's type (from the
 * pre-validation observation) and `since` the intent's time, for purchases.
 */
export function effectLookupFor(step: Step, context: { readonly since: string; readonly offeringInstanceType?: string }): EffectLookup {
  switch (step.kind) {
    case 'stop-instance':
    case 'start-instance':
    case 'modify-instance-type':
      return { kind: 'describe-instance', instanceId: step.instanceId };
    case 'modify-volume':
    case 'delete-volume':
      return { kind: 'describe-volume', volumeId: step.volumeId };
    case 'delete-snapshot':
      return { kind: 'describe-snapshot', snapshotId: step.snapshotId };
    case 'release-address':
      return { kind: 'describe-address', allocationId: step.allocationId };
    case 'create-snapshot':
      return { kind: 'find-by-client-token', resource: 'snapshot' };
    case 'create-volume-from-snapshot':
      return { kind: 'find-by-client-token', resource: 'volume' };
    case 'allocate-address':
      return { kind: 'find-by-client-token', resource: 'address' };
    case 'purchase-reserved-instances':
      return context.offeringInstanceType === undefined ? { kind: 'none' } : { kind: 'find-reservations', instanceType: context.offeringInstanceType, since: context.since };
    case 'list-reserved-instances':
    case 'wait-instance-stopped':
    case 'wait-instance-running':
    case 'wait-snapshot-completed':
      return { kind: 'none' };
    default: {
      const _exhaustive: never = step;
      return _exhaustive;
    }
  }
}

const mismatch = (step: Step, evidence: StepEvidence): EffectVerdict => ({
  verdict: 'unknown',
  reason: `the look-up for ${step.kind} returned ${evidence.kind} evidence, which says nothing about it`,
});

/**
 * Judges a started step from its look-up. Idempotent changes are judged by the resource's state (a stop happened when
 * the instance is stopping or stopped, a deletion when the resource is gone…); creations by the client token's tag; a
 * reservation purchase happened when exactly one reservation of the type started since the intent has the purchase's
 * instance count (and its offering, when EC2 names it) — none or several cannot be told apart from EC2's eventual
 * consistency or the customer's own purchases, so an operator decides and the purchase is never repeated. A step the
 * executor saw not carried out (`not-carried-out` evidence: held by the kill switch, or throttled when the process
 * stopped) did not happen, and is started again.
 */
export function judgeStepEffect(step: Step, evidence: StepEvidence): EffectVerdict {
  // Without an answer nothing can be told, whatever the step: it needs an operator, and is never repeated.
  if (evidence.kind === 'unanswered') return { verdict: 'unknown', reason: evidence.reason };
  // Seen by the executor itself, whatever the step (a purchase included, which no look-up could tell): nothing happened.
  if (evidence.kind === 'not-carried-out') return { verdict: 'not-happened', evidence: evidence.reason };
  switch (step.kind) {
    case 'stop-instance':
    case 'start-instance':
    case 'modify-instance-type': {
      if (evidence.kind !== 'instance') return mismatch(step, evidence);
      const i = evidence.instance;
      if (!i) return { verdict: 'unknown', reason: `instance ${step.instanceId} is gone` };
      if (step.kind === 'stop-instance') {
        return i.state === 'stopping' || i.state === 'stopped'
          ? { verdict: 'happened', outputs: {}, evidence: `instance ${step.instanceId} is ${i.state}` }
          : { verdict: 'not-happened', evidence: `instance ${step.instanceId} is ${i.state}` };
      }
      if (step.kind === 'start-instance') {
        return i.state === 'pending' || i.state === 'running'
          ? { verdict: 'happened', outputs: {}, evidence: `instance ${step.instanceId} is ${i.state}` }
          : { verdict: 'not-happened', evidence: `instance ${step.instanceId} is ${i.state}` };
      }
      return i.instanceType === step.instanceType
        ? { verdict: 'happened', outputs: {}, evidence: `instance ${step.instanceId} is ${i.instanceType}` }
        : { verdict: 'not-happened', evidence: `instance ${step.instanceId} is still ${i.instanceType}` };
    }
    case 'modify-volume': {
      if (evidence.kind !== 'volume') return mismatch(step, evidence);
      const v = evidence.volume;
      if (!v) return { verdict: 'unknown', reason: `volume ${step.volumeId} is gone` };
      const asked = v.volumeType === step.volumeType && (step.iops === undefined || v.iops === step.iops) && (step.throughput === undefined || v.throughput === step.throughput);
      return asked
        ? { verdict: 'happened', outputs: {}, evidence: `volume ${step.volumeId} is ${v.volumeType}${v.modificationState ? ` (${v.modificationState})` : ''}` }
        : { verdict: 'not-happened', evidence: `volume ${step.volumeId} is still ${v.volumeType}` };
    }
    case 'delete-volume': {
      if (evidence.kind !== 'volume') return mismatch(step, evidence);
      const v = evidence.volume;
      return !v || v.state === 'deleting' || v.state === 'deleted'
        ? { verdict: 'happened', outputs: {}, evidence: `volume ${step.volumeId} is ${v ? v.state : 'gone'}` }
        : { verdict: 'not-happened', evidence: `volume ${step.volumeId} is ${v.state}` };
    }
    case 'delete-snapshot':
    case 'release-address': {
      if (evidence.kind !== 'exists') return mismatch(step, evidence);
      const what = step.kind === 'delete-snapshot' ? `snapshot ${step.snapshotId}` : `address ${step.allocationId}`;
      return evidence.exists ? { verdict: 'not-happened', evidence: `${what} still exists` } : { verdict: 'happened', outputs: {}, evidence: `${what} is gone` };
    }
    case 'create-snapshot':
    case 'create-volume-from-snapshot':
    case 'allocate-address': {
      if (evidence.kind !== 'created') return mismatch(step, evidence);
      return evidence.outputs
        ? { verdict: 'happened', outputs: evidence.outputs, evidence: `found ${Object.values(evidence.outputs).join(', ')} by its client token` }
        : { verdict: 'not-happened', evidence: 'nothing carries the step client token' };
    }
    case 'purchase-reserved-instances': {
      if (evidence.kind === 'none') return { verdict: 'unknown', reason: 'the offering was not observed, so no reservation can be matched to the purchase' };
      if (evidence.kind !== 'reservations') return mismatch(step, evidence);
      const matching = evidence.found.filter((r) => r.instanceCount === step.instanceCount && (r.offeringId === undefined || r.offeringId === step.offeringId));
      if (matching.length === 1) return { verdict: 'happened', outputs: { reservedInstancesId: matching[0]!.reservedInstancesId }, evidence: `reservation ${matching[0]!.reservedInstancesId} started after the intent` };
      return {
        verdict: 'unknown',
        reason:
          matching.length === 0
            ? `no reservation of ${step.instanceCount} from offering ${step.offeringId} is visible since the intent; EC2 cannot tell whether the purchase went through, so it is not repeated`
            : `${matching.length} reservations could be this purchase (${matching.map((r) => r.reservedInstancesId).join(', ')})`,
      };
    }
    case 'list-reserved-instances':
      return { verdict: 'not-happened', evidence: 'the listing call is idempotent by its client token: sent again with the same one' };
    case 'wait-instance-stopped':
    case 'wait-instance-running':
    case 'wait-snapshot-completed':
      return { verdict: 'not-happened', evidence: 'a wait changes nothing' };
    default: {
      const _exhaustive: never = step;
      return _exhaustive;
    }
  }
}
