import { setImmediate as nextTurn } from 'node:timers/promises';
import { TurnBatcher } from './turn-batcher';

describe('TurnBatcher', () => {
  it('hands the items added in one turn to run together on the next turn, in order, at most maxGroup at a time', async () => {
    const groups: number[][] = [];
    const batcher = new TurnBatcher<number>(3, (group) => groups.push(group));
    for (let i = 1; i <= 5; i++) batcher.add(i);
    expect(groups).toEqual([]);
    expect(batcher.size).toBe(5);
    await nextTurn();
    expect(groups).toEqual([[1, 2, 3]]);
    await nextTurn();
    expect(groups).toEqual([[1, 2, 3], [4, 5]]);
    batcher.add(6);
    await nextTurn();
    expect(groups).toEqual([[1, 2, 3], [4, 5], [6]]);
    expect(batcher.size).toBe(0);
  });

  it('runs every waiting item at once on drain, group by group, and nothing twice afterwards', async () => {
    const groups: string[][] = [];
    const batcher = new TurnBatcher<string>(2, (group) => groups.push(group));
    ['a', 'b', 'c'].forEach((item) => batcher.add(item));
    batcher.drain();
    expect(groups).toEqual([['a', 'b'], ['c']]);
    await nextTurn();
    await nextTurn();
    expect(groups).toEqual([['a', 'b'], ['c']]);
  });

  it('refuses a maxGroup that is not a positive integer', () => {
    expect(() => new TurnBatcher(0, () => undefined)).toThrow(new RangeError('TurnBatcher: maxGroup must be a positive integer, got 0'));
    expect(() => new TurnBatcher(1.5, () => undefined)).toThrow(RangeError);
  });
});
