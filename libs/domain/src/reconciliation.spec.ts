import { judgeStepEffect, effectLookupFor } from './reconciliation';
import type { Step } from './types';

// After a crash, a started step's effect is judged from what EC2 shows; idempotent changes by the resource's state.

const stop: Step = { kind: 'stop-instance', instanceId: 'i-1' };
const start: Step = { kind: 'start-instance', instanceId: 'i-1' };
const type: Step = { kind: 'modify-instance-type', instanceId: 'i-1', instanceType: 'm5.large' };
const mv: Step = { kind: 'modify-volume', volumeId: 'vol-1', volumeType: 'gp3', iops: 4000 };
const del: Step = { kind: 'delete-volume', volumeId: 'vol-1' };
const release: Step = { kind: 'release-address', allocationId: 'eipalloc-1' };
const alloc: Step = { kind: 'allocate-address', publicIp: '203.0.113.1' };
const instance = (state: string, instanceType = 'm5.xlarge') => ({ kind: 'instance' as const, instance: { state, instanceType } });

describe('judgeStepEffect', () => {
  it.each([
    [stop, instance('stopped'), 'happened'],
    [stop, instance('stopping'), 'happened'],
    [stop, instance('running'), 'not-happened'],
    [start, instance('pending'), 'happened'],
    [start, instance('stopped'), 'not-happened'],
    [type, instance('stopped', 'm5.large'), 'happened'],
    [type, instance('stopped', 'm5.xlarge'), 'not-happened'],
    [stop, { kind: 'instance' as const }, 'unknown'],
    [mv, { kind: 'volume' as const, volume: { volumeType: 'gp3', iops: 4000, state: 'in-use', modificationState: 'optimizing' } }, 'happened'],
    [mv, { kind: 'volume' as const, volume: { volumeType: 'gp3', iops: 3000, state: 'in-use' } }, 'not-happened'],
    [del, { kind: 'volume' as const }, 'happened'],
    [del, { kind: 'volume' as const, volume: { volumeType: 'gp2', state: 'available' } }, 'not-happened'],
    [release, { kind: 'exists' as const, exists: false }, 'happened'],
    [release, { kind: 'exists' as const, exists: true }, 'not-happened'],
    [alloc, { kind: 'created' as const, outputs: { allocationId: 'eipalloc-9', publicIp: '203.0.113.1' } }, 'happened'],
    [alloc, { kind: 'created' as const }, 'not-happened'],
    [stop, { kind: 'exists' as const, exists: false }, 'unknown'],
  ])('%o with %o → %s', (step, evidence, verdict) => {
    expect(judgeStepEffect(step, evidence).verdict).toBe(verdict);
  });

  it('a look-up that could not be made tells nothing, whatever the step: unknown, with what failed as the reason', () => {
    const purchase: Step = { kind: 'purchase-reserved-instances', offeringId: 'o-1', instanceCount: 2 };
    for (const step of [stop, del, alloc, purchase]) {
      expect(judgeStepEffect(step, { kind: 'unanswered', reason: 'DescribeReservedInstances failed 9 times over 15 min' })).toEqual({ verdict: 'unknown', reason: 'DescribeReservedInstances failed 9 times over 15 min' });
    }
  });

  it('a step the executor saw not carried out (held by the kill switch, throttled at stop) did not happen, whatever the step — a purchase included', () => {
    const purchase: Step = { kind: 'purchase-reserved-instances', offeringId: 'o-1', instanceCount: 2 };
    for (const step of [stop, type, mv, del, release, alloc, purchase]) {
      expect(judgeStepEffect(step, { kind: 'not-carried-out', reason: 'the kill switch held the call before it was sent' })).toEqual({ verdict: 'not-happened', evidence: 'the kill switch held the call before it was sent' });
    }
    // The same purchase with a look-up that found nothing cannot be told from one EC2 has not shown yet.
    expect(judgeStepEffect(purchase, { kind: 'reservations', found: [] }).verdict).toBe('unknown');
  });

  it('a found creation completes the step with its outputs', () => {
    expect(judgeStepEffect(alloc, { kind: 'created', outputs: { allocationId: 'eipalloc-9', publicIp: '203.0.113.1' } })).toMatchObject({ outputs: { allocationId: 'eipalloc-9' } });
  });
});

describe('effectLookupFor', () => {
  it('looks changes up by describing the resource, creations by client token, purchases by type and time', () => {
    expect(effectLookupFor(stop, { since: 't' })).toEqual({ kind: 'describe-instance', instanceId: 'i-1' });
    expect(effectLookupFor(del, { since: 't' })).toEqual({ kind: 'describe-volume', volumeId: 'vol-1' });
    expect(effectLookupFor(alloc, { since: 't' })).toEqual({ kind: 'find-by-client-token', resource: 'address' });
    const buy: Step = { kind: 'purchase-reserved-instances', offeringId: 'o-1', instanceCount: 1 };
    expect(effectLookupFor(buy, { since: 't', offeringInstanceType: 'm5.large' })).toEqual({ kind: 'find-reservations', instanceType: 'm5.large', since: 't' });
    expect(effectLookupFor(buy, { since: 't' })).toEqual({ kind: 'none' });
  });
});
