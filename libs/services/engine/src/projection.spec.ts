import { OPTIMIZATION_STREAM_PREFIX, type Recommendation } from '@optex/domain';
import { OptimizationProjection, type KnownOptimization } from './projection';

const AT = '2026-03-01T10:00:00.000Z';
const rec = (volumeId: string, id = volumeId): Recommendation =>
  ({
    recommendationId: `rec-${id}`,
    source: 'spec',
    accountId: '123456789012',
    region: 'us-east-1',
    resource: { type: 'ec2:volume', id: volumeId },
    action: { type: 'modify-volume', targetVolumeType: 'gp3' },
    estimatedMonthlySavings: 2,
    currency: 'USD',
  }) as Recommendation;

/** Events of one optimization's stream, numbered by revision as they are appended. */
function stream(id: string, volumeId = `vol-${id}`) {
  let revision = -1n;
  const event = (type: string, data: Record<string, unknown> = {}) => ({ stream: `${OPTIMIZATION_STREAM_PREFIX}${id}`, revision: ++revision, type, data: { optimizationId: id, at: AT, ...data } });
  return {
    received: () => event('OptimizationReceived', { recommendation: rec(volumeId, id), dryRun: false, deliveryId: `d:${id}` }),
    assessed: () => event('RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'v1' }),
    approved: () => event('ApprovalGranted', { mode: 'auto', approvers: [], final: true }),
    requested: () => event('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: '2026-03-08T10:00:00.000Z' }),
    denied: () => event('ApprovalDenied', { by: 'bob', reason: 'no' }),
    scheduled: () => event('ExecutionScheduled', { batchId: 'b1', notBefore: AT, priority: 'MEDIUM' }),
    started: () => event('ExecutionStarted', { dryRun: false }),
    preValidationFailed: () => event('PreValidationFailed', { reasons: ['gone'] }),
    rollbackStarted: () => event('RollbackStarted', { reason: 'validation failed', steps: [] }),
    rollbackFailed: () => event('RollbackFailed', { error: { code: 'InsufficientInstanceCapacity', message: 'no capacity' } }),
    rollbackRetried: () => event('RollbackRetried', { by: 'oncall', reason: 'capacity is back' }),
    rolledBack: () => event('RollbackCompleted'),
    resolved: () => event('OptimizationResolved', { by: 'oncall', note: 'restored by hand', from: 'rollback-failed' }),
    conflicted: (deliveryId: string) =>
      event('ResubmissionConflicted', { deliveryId, recommendation: { ...rec(volumeId, id), estimatedMonthlySavings: 3 }, differences: [{ path: 'estimatedMonthlySavings', recorded: 2, resubmitted: 3 }] }),
  };
}

const ids = (set: ReadonlySet<string>) => [...set].sort();
const idsOf = (states: readonly KnownOptimization[]) => states.map((s) => s.optimizationId).sort();

describe('OptimizationProjection indexes', () => {
  it('counts and lists optimizations per status as events move them', () => {
    const p = new OptimizationProjection();
    const a = stream('a');
    const b = stream('b');
    p.apply(a.received());
    p.apply(b.received());
    expect(p.countByStatus('received')).toBe(2);
    expect(p.size).toBe(2);

    p.apply(a.assessed());
    p.apply(a.approved());
    p.apply(b.assessed());
    p.apply(b.requested());
    expect(p.countByStatus('received')).toBe(0);
    expect(ids(p.idsByStatus('approved'))).toEqual(['a']);
    expect(ids(p.idsByStatus('awaiting-approval'))).toEqual(['b']);

    p.apply(b.denied());
    expect(p.countByStatus('awaiting-approval')).toBe(0);
    expect(ids(p.idsByStatus('denied'))).toEqual(['b']);
    expect(p.size).toBe(2);
    expect(idsOf(p.all())).toEqual(['a', 'b']);
  });

  it('indexes optimizations active on a resource while scheduled, executing, validating or rolling back', () => {
    const p = new OptimizationProjection();
    const a = stream('a', 'vol-shared');
    const b = stream('b', 'vol-shared');
    const key = '123456789012/us-east-1/vol-shared';
    for (const e of [a.received(), a.assessed(), a.approved(), b.received(), b.assessed(), b.approved()]) p.apply(e);
    expect(p.activeOnResource(key)).toEqual([]);
    expect(p.isResourceBusy(key)).toBe(false);
    expect(p.activeCount()).toBe(0);

    p.apply(a.scheduled());
    expect(idsOf(p.activeOnResource(key))).toEqual(['a']);
    expect(p.activeCount()).toBe(1);

    p.apply(a.started());
    expect(idsOf(p.activeOnResource(key))).toEqual(['a']);
    expect(p.activeOnResource(key)[0].status).toBe('executing');
    expect(p.activeCount()).toBe(1);

    p.apply(b.scheduled());
    expect(idsOf(p.activeOnResource(key))).toEqual(['a', 'b']);
    expect(p.activeCount()).toBe(2);

    p.apply(a.preValidationFailed());
    expect(idsOf(p.activeOnResource(key))).toEqual(['b']);
    expect(p.countByStatus('failed')).toBe(1);
    expect(p.activeCount()).toBe(1);
    expect(p.activeOnResource('123456789012/us-east-1/vol-other')).toEqual([]);
    expect(p.resourceKeyOf('a')).toBe(key);
  });

  it('keeps a rollback-failed optimization holding its resource, not a parallel slot, until an operator closes it', () => {
    const p = new OptimizationProjection();
    const key = '123456789012/us-east-1/vol-shared';
    const a = stream('a', 'vol-shared');
    const b = stream('b', 'vol-shared');
    for (const e of [a.received(), a.assessed(), a.approved(), a.scheduled(), a.started(), a.rollbackStarted(), b.received(), b.assessed(), b.approved()]) p.apply(e);
    expect(idsOf(p.activeOnResource(key))).toEqual(['a']);
    expect(p.activeCount()).toBe(1);

    p.apply(a.rollbackFailed());
    expect(p.get('a')?.status).toBe('rollback-failed');
    expect(idsOf(p.activeOnResource(key))).toEqual(['a']); // what pre-validation of b receives
    expect(p.activeOnResource(key)[0].status).toBe('rollback-failed');
    expect(p.isResourceBusy(key)).toBe(true); // the scheduler's lock: b waits
    expect(p.activeCount()).toBe(0); // it runs nothing: no slot taken

    p.apply(a.rollbackRetried()); // retry-rollback: rolling back again, a slot again
    expect(idsOf(p.activeOnResource(key))).toEqual(['a']);
    expect(p.activeCount()).toBe(1);
    p.apply(a.rollbackFailed());
    expect(p.isResourceBusy(key)).toBe(true);
    expect(p.activeCount()).toBe(0);

    p.apply(a.resolved()); // resolve: released
    expect(p.activeOnResource(key)).toEqual([]);
    expect(p.isResourceBusy(key)).toBe(false);
    expect(p.activeCount()).toBe(0);

    // b the same way, then retried to the end: rolled back releases it as well
    for (const e of [b.scheduled(), b.started(), b.rollbackStarted(), b.rollbackFailed()]) p.apply(e);
    expect(p.isResourceBusy(key)).toBe(true);
    expect(p.activeCount()).toBe(0);
    p.apply(b.rollbackRetried());
    p.apply(b.rolledBack());
    expect(p.isResourceBusy(key)).toBe(false);
    expect(p.activeOnResource(key)).toEqual([]);
    expect(p.activeCount()).toBe(0);
  });

  it('keeps holding the resource of a rollback-failed optimization held packed, and releases it when resolved', () => {
    const p = new OptimizationProjection({ unpackedSettled: 0 }); // rollback-failed is settled: packed at once
    const key = '123456789012/us-east-1/vol-shared';
    const a = stream('a', 'vol-shared');
    for (const e of [a.received(), a.assessed(), a.approved(), a.scheduled(), a.started(), a.rollbackStarted(), a.rollbackFailed()]) p.apply(e);
    expect(p.isResourceBusy(key)).toBe(true);
    expect(p.activeOnResource(key).map((s) => s.status)).toEqual(['rollback-failed']);
    expect(p.activeCount()).toBe(0);
    p.apply(a.resolved());
    expect(p.isResourceBusy(key)).toBe(false);
    expect(p.activeCount()).toBe(0);
  });

  it('ignores redelivered and out-of-order revisions', () => {
    const p = new OptimizationProjection();
    const a = stream('a');
    const received = a.received();
    const assessed = a.assessed();
    const approved = a.approved();
    const scheduled = a.scheduled();
    p.apply(received);
    p.apply(assessed);
    p.apply(approved);
    p.apply(scheduled);
    expect(p.apply(approved)).toBeUndefined();
    expect(p.apply(received)).toBeUndefined();
    expect(p.get('a')?.status).toBe('scheduled');
    expect(p.countByStatus('approved')).toBe(0);
    expect(p.countByStatus('scheduled')).toBe(1);
    expect(p.activeCount()).toBe(1);
    expect(p.size).toBe(1);
  });

  it('never folds an event over a gap: a stream it missed events of (another replica handled them) is left for the caller to read', () => {
    const p = new OptimizationProjection();
    const truth = new OptimizationProjection(); // the log, as the caller reads it
    const a = stream('a');
    const received = a.received();
    p.apply(received);
    const missed = [a.assessed(), a.approved()]; // handled elsewhere: this replica never sees revisions 1 and 2
    const scheduled = a.scheduled();
    for (const e of [received, ...missed, scheduled]) truth.apply(e);
    expect(p.applyRelayed(scheduled)).toBeUndefined();
    expect(p.knownAt('a', scheduled.revision)).toBeUndefined(); // so the caller reads the stream
    expect(p.known('a')).toMatchObject({ revision: 0n, state: { status: 'received' } });
    expect(p.countByStatus('scheduled')).toBe(0);
    // An optimization first seen mid-stream is not folded from nothing either.
    const b = stream('b');
    b.received();
    expect(p.applyRelayed(b.assessed())).toBeUndefined();
    expect(p.known('b')).toBeUndefined();
    // The caller's state, read from the log, repairs it; the next event folds on it.
    const started = a.started();
    p.set('a', truth.get('a')!, scheduled.revision);
    expect(p.applyRelayed(started)?.status).toBe('executing');
    expect(p.knownAt('a', started.revision)?.state.status).toBe('executing');
  });

  it('knownAt() gives the state and revision only while the last event folded is the one asked for', () => {
    const p = new OptimizationProjection();
    const a = stream('a');
    p.apply(a.received());
    const assessed = a.assessed();
    p.apply(assessed);
    expect(p.knownAt('a', assessed.revision)).toEqual({ state: p.get('a'), revision: 1n });
    expect(p.knownAt('a', assessed.revision)?.state.status).toBe('received');
    expect(p.knownAt('a', 0n)).toBeUndefined(); // moved past it
    expect(p.knownAt('a', 2n)).toBeUndefined(); // not folded yet
    expect(p.knownAt('b', 0n)).toBeUndefined(); // unknown
    p.apply(a.approved());
    expect(p.knownAt('a', assessed.revision)).toBeUndefined();
    expect(p.knownAt('a', 2n)?.state.status).toBe('approved');
    expect(p.known('a')).toEqual({ state: p.get('a'), revision: 2n }); // whatever revision it is at
    expect(p.known('b')).toBeUndefined();
  });

  it('set() moves an optimization between indexes, but never back to an older revision', () => {
    const source = new OptimizationProjection();
    const a = stream('a');
    const events = [a.received(), a.assessed(), a.approved(), a.scheduled()];
    const snapshots = events.map((e) => ({ state: source.apply(e) as KnownOptimization, revision: e.revision }));

    const p = new OptimizationProjection();
    p.set('a', snapshots[2].state, snapshots[2].revision);
    expect(ids(p.idsByStatus('approved'))).toEqual(['a']);
    p.set('a', snapshots[3].state, snapshots[3].revision);
    expect(p.countByStatus('approved')).toBe(0);
    expect(p.activeCount()).toBe(1);
    p.set('a', snapshots[1].state, snapshots[1].revision);
    expect(p.get('a')?.status).toBe('scheduled');
    expect(p.revisionOf('a')).toBe(3n);
  });

  it('tells listeners each change with the state before', () => {
    const p = new OptimizationProjection();
    const seen: string[] = [];
    const stop = p.onChange((after, before) => seen.push(`${before?.status ?? '∅'}→${after.status}`));
    const a = stream('a');
    p.apply(a.received());
    const assessed = a.assessed();
    p.apply(assessed);
    p.apply(assessed); // a redelivery changes nothing
    stop();
    p.apply(a.approved());
    expect(seen).toEqual(['∅→received', 'received→received']);
  });

  it('ignores events of other streams', () => {
    const p = new OptimizationProjection();
    expect(p.apply({ stream: 'batch-1', revision: 0n, type: 'BatchPlanned', data: {} })).toBeUndefined();
    expect(p.size).toBe(0);
  });
});

describe('OptimizationProjection holding settled optimizations packed', () => {
  /** `a` and `b` denied (settled), `c` awaiting approval, fed to a projection that keeps `unpackedSettled` unpacked. */
  function fed(unpackedSettled?: number) {
    const p = new OptimizationProjection(unpackedSettled === undefined ? {} : { unpackedSettled });
    const [a, b, c] = [stream('a'), stream('b'), stream('c')];
    for (const x of [a, b]) for (const e of [x.received(), x.assessed(), x.requested(), x.denied()]) p.apply(e);
    for (const e of [c.received(), c.assessed(), c.requested()]) p.apply(e);
    return { p, a, b, c };
  }

  it('reads a packed optimization back as the same state, with the same indexes', () => {
    const plain = fed().p;
    const packed = fed(0).p;
    for (const id of ['a', 'b', 'c']) {
      expect(packed.get(id)).toEqual(plain.get(id));
      expect(packed.statusOf(id)).toBe(plain.statusOf(id));
      expect(packed.revisionOf(id)).toBe(plain.revisionOf(id));
      expect(packed.resourceKeyOf(id)).toBe(`123456789012/us-east-1/vol-${id}`);
    }
    expect(packed.statusOf('nope')).toBeUndefined();
    expect(ids(packed.idsByStatus('denied'))).toEqual(['a', 'b']);
    expect(packed.all()).toEqual(plain.all());
    expect([...packed.states()].map((s) => s.optimizationId)).toEqual(['a', 'b', 'c']);
  });

  it('packs the optimizations that settled longest ago beyond the limit, and only settled ones', () => {
    const { p } = fed(1);
    // A packed state is unpacked into a new object on every read; an unpacked one is the object held.
    expect(p.get('a')).not.toBe(p.get('a'));
    expect(p.get('b')).toBe(p.get('b'));
    expect(p.get('c')).toBe(p.get('c'));
    const all = fed(0).p;
    expect(all.get('b')).not.toBe(all.get('b'));
    expect(all.get('c')).toBe(all.get('c'));
    const none = fed(Number.POSITIVE_INFINITY).p;
    expect(none.get('a')).toBe(none.get('a'));
  });

  it('folds an event into a packed optimization from its unpacked state, and tells listeners the state before', () => {
    const { p, a } = fed(0);
    const seen: [string, number, number][] = [];
    p.onChange((after, before) => seen.push([after.status, before?.conflicts?.length ?? 0, after.conflicts?.length ?? 0]));
    p.apply(a.conflicted('d:again'));
    p.apply(a.conflicted('d:third'));
    expect(seen).toEqual([
      ['denied', 0, 1],
      ['denied', 1, 2],
    ]);
    const state = p.get('a');
    expect(state?.status).toBe('denied');
    expect(state?.conflicts?.map((c) => c.deliveryId)).toEqual(['d:again', 'd:third']);
    expect(state?.recommendation.estimatedMonthlySavings).toBe(2);
    expect(p.revisionOf('a')).toBe(5n);
  });

  it('packs and reads back states of tens of KiB, the first of them (the dictionary) too', () => {
    const packed = new OptimizationProjection({ unpackedSettled: 0 });
    const reference = new OptimizationProjection({ unpackedSettled: Number.POSITIVE_INFINITY });
    for (const id of ['x', 'y']) {
      const s = stream(id);
      const events = [s.received(), s.assessed(), s.requested(), ...Array.from({ length: 300 }, (_, i) => s.conflicted(`d:${id}:${i}`)), s.denied()];
      for (const e of events) {
        packed.apply(e);
        reference.apply(e);
      }
    }
    // 'x' settled first: its JSON is the dictionary, larger than zlib's 32 KiB window.
    expect(JSON.stringify(reference.get('x')).length).toBeGreaterThan(32 * 1024);
    for (const id of ['x', 'y']) {
      expect(packed.get(id)).not.toBe(packed.get(id)); // held packed
      expect(packed.get(id)).toEqual(reference.get(id));
    }
  });

  it('refuses a limit that is not a whole number', () => {
    expect(() => new OptimizationProjection({ unpackedSettled: -1 })).toThrow('unpackedSettled must be a whole number ≥ 0 or Infinity, got -1');
    expect(() => new OptimizationProjection({ unpackedSettled: 1.5 })).toThrow(/unpackedSettled/);
  });
});
