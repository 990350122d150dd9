import { optimizationStateAt } from './time-travel';

const at = (s: number) => new Date(Date.UTC(2026, 11, 2, 10, 0, s));
const id = '8a0c6c2e-6c1f-5f39-9d0e-3a1f4a2b9c11';
const rec = { recommendationId: 'r', source: 'spec', accountId: '123456789012', region: 'us-east-1', resource: { type: 'ec2:volume', id: 'vol-1' }, action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 2, currency: 'USD' };
const events = [
  { type: 'OptimizationReceived', data: { optimizationId: id, at: at(0).toISOString(), recommendation: rec, dryRun: false, deliveryId: 'd' }, metadata: { schemaVersion: 1 }, revision: 0n, recordedAt: at(0) },
  {
    type: 'RiskAssessed',
    data: { optimizationId: id, at: at(1).toISOString(), baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'default-v1' },
    metadata: { schemaVersion: 1 },
    revision: 1n,
    recordedAt: at(1),
  },
];

describe('time travel (given a stream, when asked for an instant, then the state as it was)', () => {
  it('before the first event: the optimization did not exist', () => {
    expect(optimizationStateAt(events, at(-1))).toEqual({ state: { status: 'initial' }, applied: 0, after: 2, asOf: null });
  });

  it('between two events: only the first is folded, the second is counted as later', () => {
    const r = optimizationStateAt(events, new Date(at(0).getTime() + 500));
    expect(r).toMatchObject({ state: { status: 'received' }, applied: 1, after: 1, asOf: { revision: 0, type: 'OptimizationReceived', recordedAt: at(0).toISOString() } });
  });

  it('at the instant an event was recorded, that event is included', () => {
    expect(optimizationStateAt(events, at(1))).toMatchObject({ state: { status: 'received', risk: { level: 'LOW' } }, applied: 2, after: 0 });
  });
});

describe('time travel over a stream whose recordedAt are not monotonic (a clock step, several writers, an edited row)', () => {
  const started = { type: 'ExecutionStarted', data: { optimizationId: id, at: at(2).toISOString(), dryRun: false }, metadata: { schemaVersion: 1 } };
  const scheduled = { type: 'ExecutionScheduled', data: { optimizationId: id, at: at(9).toISOString(), batchId: 'b', notBefore: at(9).toISOString(), priority: 'LOW' }, metadata: { schemaVersion: 1 } };

  it('folds the prefix up to the first event recorded after the instant, never an event recorded earlier after it', () => {
    // Revision 2 recorded at +9 s, revision 3 at +2 s (the clock stepped back): at +5 s the stream stood at revision 1.
    const stream = [...events, { ...scheduled, revision: 2n, recordedAt: at(9) }, { ...started, revision: 3n, recordedAt: at(2) }];
    expect(optimizationStateAt(stream, at(5))).toMatchObject({ state: { status: 'received' }, applied: 2, after: 2, asOf: { revision: 1, type: 'RiskAssessed' } });
    expect(optimizationStateAt(stream, at(9))).toMatchObject({ state: { status: 'executing' }, applied: 4, after: 0 });
  });

  it('an event recorded before the instant, after one recorded later, would have folded into an impossible state: it is left out', () => {
    // ExecutionStarted (recorded +2 s) after ExecutionScheduled (recorded +9 s, later): folding it alone needs a schedule.
    const stream = [events[0], { ...scheduled, revision: 1n, recordedAt: at(9) }, { ...started, revision: 2n, recordedAt: at(2) }];
    expect(optimizationStateAt(stream, at(5))).toMatchObject({ state: { status: 'received' }, applied: 1, after: 2 });
  });

  it('a prefix that does not fold throws a DomainError naming the event (revision, type, recorded)', () => {
    const stream = [events[0], { ...started, revision: 1n, recordedAt: at(1) }];
    expect(() => optimizationStateAt(stream, at(5))).toThrow(
      expect.objectContaining({ name: 'DomainError', message: expect.stringMatching(new RegExp(`^the stream does not fold at revision 1 \\(ExecutionStarted, recorded ${at(1).toISOString()}\\): `)) }),
    );
  });
});
