import { batchWindowClosesAt, selectDispatches, type BatchPlan, type QueuedItem } from './scheduling';

const item = (id: string, over: Partial<QueuedItem> = {}): QueuedItem => ({
  optimizationId: id,
  resourceKey: `111122223333/us-east-1/${id}`,
  resourceType: 'ec2:instance',
  regionKey: '111122223333/us-east-1',
  priority: 'MEDIUM',
  approvedAt: '2026-11-26T10:00:00.000Z',
  ...over,
});
const batch = (over: Partial<BatchPlan>): BatchPlan => ({
  batchId: 'b1',
  mode: 'parallel',
  maxParallel: 4,
  notBefore: '2026-11-26T00:00:00.000Z',
  queued: [],
  active: [],
  ...over,
});
const now = new Date('2026-11-26T12:00:00.000Z');
const ids = (items: QueuedItem[]) => items.map((i) => i.optimizationId);

describe('selectDispatches', () => {
  it('given a sequential batch with one active item, when asked, then starts nothing', () => {
    expect(selectDispatches(batch({ mode: 'sequential', queued: [item('a')], active: [item('b')] }), now, new Set())).toEqual([]);
    // nor while an execution of another batch is active (its resource is busy): sequential is one at a time overall
    expect(selectDispatches(batch({ mode: 'sequential', queued: [item('a')] }), now, new Set(['elsewhere']))).toEqual([]);
    expect(ids(selectDispatches(batch({ mode: 'parallel', queued: [item('a')] }), now, new Set(['elsewhere'])))).toEqual(['a']);
  });

  it('given a sequential batch, when idle, then starts exactly the highest-priority item', () => {
    const queued = [item('low', { priority: 'LOW' }), item('crit', { priority: 'CRITICAL' }), item('high', { priority: 'HIGH' })];
    expect(ids(selectDispatches(batch({ mode: 'sequential', queued }), now, new Set()))).toEqual(['crit']);
  });

  it('given a parallel batch with maxParallel 2 and one active, when asked, then starts one more', () => {
    expect(ids(selectDispatches(batch({ maxParallel: 2, queued: [item('a'), item('b')], active: [item('c')] }), now, new Set()))).toEqual(['a']);
  });

  it('orders equal priorities by approval time', () => {
    const queued = [item('late', { approvedAt: '2026-11-26T11:00:00.000Z' }), item('early', { approvedAt: '2026-11-26T09:00:00.000Z' })];
    expect(ids(selectDispatches(batch({ maxParallel: 1, queued }), now, new Set()))).toEqual(['early']);
  });

  it('never starts two executions on one resource, within the batch', () => {
    const queued = [item('a', { resourceKey: 'k' }), item('b', { resourceKey: 'k' }), item('c')];
    expect(ids(selectDispatches(batch({ queued }), now, new Set()))).toEqual(['a', 'c']);
  });

  it('never starts an execution on a resource busy elsewhere', () => {
    const queued = [item('a', { resourceKey: 'busy' }), item('b')];
    expect(ids(selectDispatches(batch({ queued }), now, new Set(['busy'])))).toEqual(['b']);
  });

  it('starts nothing before notBefore, and everything allowed at notBefore exactly', () => {
    const b = batch({ notBefore: now.toISOString(), queued: [item('a')] });
    expect(selectDispatches(b, new Date(now.getTime() - 1), new Set())).toEqual([]);
    expect(ids(selectDispatches(b, now, new Set()))).toEqual(['a']);
  });

  it('respects the global capacity left', () => {
    expect(ids(selectDispatches(batch({ queued: [item('a'), item('b'), item('c')] }), now, new Set(), 2))).toEqual(['a', 'b']);
  });

  it('resource-grouped: runs one resource type at a time, the highest-priority group first', () => {
    const queued = [
      item('vol1', { resourceType: 'ec2:volume' }),
      item('inst1', { priority: 'HIGH' }),
      item('inst2'),
      item('vol2', { resourceType: 'ec2:volume' }),
    ];
    expect(ids(selectDispatches(batch({ mode: 'resource-grouped', queued }), now, new Set()))).toEqual(['inst1', 'inst2']);
  });

  it('resource-grouped: does not start the next group while the current one is active', () => {
    const queued = [item('vol1', { resourceType: 'ec2:volume' })];
    expect(selectDispatches(batch({ mode: 'resource-grouped', queued, active: [item('inst1')] }), now, new Set())).toEqual([]);
  });

  it('region-grouped: runs one account/region at a time', () => {
    const queued = [item('east'), item('west', { regionKey: '111122223333/us-west-2' }), item('east2')];
    expect(ids(selectDispatches(batch({ mode: 'region-grouped', queued }), now, new Set()))).toEqual(['east', 'east2']);
  });
});

describe('batchWindowClosesAt', () => {
  const settings = { windowMs: 100, quietMs: 20 };

  it('closes a lone approval\'s window after the quiet time', () => {
    expect(batchWindowClosesAt(1_000, 1_000, settings)).toBe(1_020);
  });

  it('keeps the window open while approvals keep arriving within the quiet time', () => {
    expect(batchWindowClosesAt(1_000, 1_050, settings)).toBe(1_070);
  });

  it('closes at the longest window however busy the arrivals', () => {
    expect(batchWindowClosesAt(1_000, 1_090, settings)).toBe(1_100);
    expect(batchWindowClosesAt(1_000, 5_000, settings)).toBe(1_100);
  });

  it('never closes early with no quiet time (the window alone decides)', () => {
    expect(batchWindowClosesAt(1_000, 1_000, { windowMs: 100, quietMs: 0 })).toBe(1_100);
  });

  it('counts the quiet time from the opening when the last approval reads as earlier', () => {
    expect(batchWindowClosesAt(1_000, 900, settings)).toBe(1_020);
  });
});
