import type { RecordedEvent } from '@optex/ports';
import { RecentEvents } from './recent-events';

let position = 0n;
const recorded = (stream: string, revision: bigint, type = 'T'): RecordedEvent => {
  position += 1n;
  return { id: `${stream}-${revision}`, stream, type, revision, position: { commit: position, prepare: position }, data: {}, metadata: {}, recordedAt: new Date(0) };
};

describe('RecentEvents', () => {
  beforeEach(() => {
    position = 0n;
  });

  it('knows nothing until reset with the head, then pages every event appended after it, filtered', () => {
    const recent = new RecentEvents({ streams: 10, tail: 10 });
    recent.appended([recorded('a', 0n)]);
    expect(recent.page(0n, undefined, 10)).toBeUndefined();
    recent.reset(1n);
    const b = [recorded('b', 0n, 'X'), recorded('b', 1n, 'Y')];
    recent.appended(b);
    recent.appended([recorded('c', 0n, 'X')]);
    expect(recent.page(0n, undefined, 10)).toBeUndefined(); // event 1 is before the base: SQLite must answer
    expect(recent.page(1n, undefined, 10)?.events.map((e) => e.position.commit)).toEqual([2n, 3n, 4n]);
    expect(recent.page(2n, { kind: 'eventType', prefixes: ['X'] }, 10)).toEqual({ events: [expect.objectContaining({ stream: 'c' })], scannedUpTo: 4n });
    expect(recent.page(1n, { kind: 'streamName', prefixes: ['b'] }, 1)?.events.map((e) => e.revision)).toEqual([0n]);
    expect(recent.page(4n, undefined, 10)).toEqual({ events: [], scannedUpTo: 4n });
  });

  it('forgets everything when an own commit does not follow the last event it knows of $all (another connection wrote between)', () => {
    const recent = new RecentEvents({ streams: 10, tail: 10 });
    recent.reset(0n);
    expect(recent.appended([recorded('a', 0n)])).toBe(true);
    position += 1n; // position 2: another connection's commit, never seen here
    expect(recent.appended([recorded('a', 1n)])).toBe(false);
    expect(recent.page(0n, undefined, 10)).toBeUndefined();
    expect(recent.stream('a')).toBeUndefined();
    recent.reset(3n);
    expect(recent.appended([recorded('b', 0n)])).toBe(true);
    expect(recent.page(3n, undefined, 10)?.events.map((e) => e.position.commit)).toEqual([4n]);
  });

  it('keeps whole streams: extends a known one, starts one at revision 0, forgets one it cannot extend', () => {
    const recent = new RecentEvents({ streams: 10, tail: 10 });
    recent.rememberStream('a', [recorded('a', 0n)]);
    recent.appended([recorded('a', 1n)]);
    expect(recent.stream('a')?.map((e) => e.revision)).toEqual([0n, 1n]);
    recent.appended([recorded('n', 0n), recorded('n', 1n)]);
    expect(recent.stream('n')?.map((e) => e.revision)).toEqual([0n, 1n]);
    recent.appended([recorded('a', 5n)]); // a gap: something else wrote revisions 2–4
    expect(recent.stream('a')).toBeUndefined();
    recent.appended([recorded('u', 3n)]);
    expect(recent.stream('u')).toBeUndefined();
  });

  it('serves the newest events of a known stream, newest first, and knows a stream found empty until it is written', () => {
    const recent = new RecentEvents({ streams: 10, tail: 10 });
    expect(recent.last('a', 1)).toBeUndefined();
    recent.rememberStream('a', [recorded('a', 0n), recorded('a', 1n), recorded('a', 2n)]);
    expect(recent.last('a', 1)?.map((e) => e.revision)).toEqual([2n]);
    expect(recent.last('a', 2)?.map((e) => e.revision)).toEqual([2n, 1n]);
    expect(recent.last('a', Number.POSITIVE_INFINITY)?.map((e) => e.revision)).toEqual([2n, 1n, 0n]);
    recent.rememberStream('empty', []);
    expect(recent.last('empty', 1)).toEqual([]);
    recent.appended([recorded('empty', 0n, 'First')]);
    expect(recent.last('empty', 1)?.map((e) => e.type)).toEqual(['First']);
    recent.reset(10n);
    expect(recent.last('empty', 1)).toBeUndefined();
  });

  it('hands out copies, so a caller cannot change what it keeps', () => {
    const recent = new RecentEvents({ streams: 10, tail: 10 });
    recent.rememberStream('a', [recorded('a', 0n)]);
    recent.stream('a')?.push(recorded('a', 1n));
    expect(recent.stream('a')).toHaveLength(1);
  });

  it('drops the least recently used stream past its limit and the oldest tail events past twice its limit', () => {
    const recent = new RecentEvents({ streams: 2, tail: 2 });
    recent.reset(0n);
    recent.appended([recorded('a', 0n)]);
    recent.appended([recorded('b', 0n)]);
    recent.stream('a'); // a is now the most recently used
    recent.appended([recorded('c', 0n)]);
    expect(recent.stream('b')).toBeUndefined();
    expect(recent.stream('a')).toBeDefined();
    expect(recent.stream('c')).toBeDefined();
    recent.appended([recorded('d', 0n), recorded('d', 1n)]); // 5 events in the tail > 2 × 2: keeps the last 2
    expect(recent.page(2n, undefined, 10)).toBeUndefined();
    expect(recent.page(3n, undefined, 10)?.events.map((e) => e.position.commit)).toEqual([4n, 5n]);
  });

  it('reset forgets streams and tail', () => {
    const recent = new RecentEvents({ streams: 10, tail: 10 });
    recent.reset(0n);
    recent.appended([recorded('a', 0n)]);
    recent.reset(7n);
    expect(recent.stream('a')).toBeUndefined();
    expect(recent.page(0n, undefined, 10)).toBeUndefined();
    expect(recent.page(7n, undefined, 10)).toEqual({ events: [], scannedUpTo: 7n });
  });
});
