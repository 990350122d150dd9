import { WakeUps } from './wake-ups';

describe('WakeUps: one timer per optimization, at a time the process manager named', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('wakes each optimization once at its time, and reports the earliest time of those still waiting', () => {
    const woken: string[] = [];
    const wakeUps = new WakeUps();
    expect(wakeUps.set('a', 5_000, 1_000, () => woken.push('a'))).toBe(true);
    expect(wakeUps.set('a', 2_000, 1_000, () => woken.push('a again'))).toBe(false); // already waits: unchanged
    expect(wakeUps.set('b', 3_000, 1_000, () => woken.push('b'))).toBe(true);
    expect(wakeUps.earliest(() => true)).toEqual(new Date(3_000));
    expect(wakeUps.earliest((id) => id !== 'b')).toEqual(new Date(5_000)); // b no longer waits (its status moved on)

    jest.advanceTimersByTime(2_000);
    expect(woken).toEqual(['b']);
    expect(wakeUps.earliest(() => true)).toEqual(new Date(5_000));
    jest.advanceTimersByTime(2_000);
    expect(woken).toEqual(['b', 'a']);
    expect(wakeUps.earliest(() => true)).toBeUndefined();
    expect(wakeUps.set('a', 9_000, 5_000, () => woken.push('a later'))).toBe(true); // woken: may wait again
  });

  it('clear cancels every timer', () => {
    const woken: string[] = [];
    const wakeUps = new WakeUps();
    wakeUps.set('a', 1_000, 0, () => woken.push('a'));
    wakeUps.clear();
    jest.advanceTimersByTime(10_000);
    expect(woken).toEqual([]);
    expect(wakeUps.earliest(() => true)).toBeUndefined();
  });
});
