import { InfrastructureError, silentLogger } from '@optex/ports';
import { recoverEach, type RecoverOptions } from './outage-retry';

const options = (concurrency?: number): RecoverOptions => ({
  signal: new AbortController().signal,
  initialDelayMs: 1,
  logger: silentLogger,
  doing: 'driving',
  ...(concurrency === undefined ? {} : { concurrency }),
});

/** A handle that takes `ms` and notes how many were under way at once. */
function timed(ms: number) {
  const handled: string[] = [];
  let running = 0;
  let most = 0;
  const handle = async (id: string) => {
    running++;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, ms));
    running--;
    handled.push(id);
  };
  return { handle, handled, most: () => most };
}

describe('recoverEach: the start-up recovery of what was left mid-way', () => {
  const ids = Array.from({ length: 10 }, (_, i) => `o-${i}`);

  it('handles every id, at most `concurrency` at a time, taking them in order', async () => {
    const t = timed(20);
    await recoverEach(ids, t.handle, options(4));
    expect([...t.handled].sort()).toEqual([...ids].sort());
    expect(t.most()).toBe(4);
    expect(t.handled.slice(0, 4).sort()).toEqual(['o-0', 'o-1', 'o-2', 'o-3']);
  });

  it('one at a time by default', async () => {
    const t = timed(1);
    await recoverEach(ids, t.handle, options());
    expect(t.handled).toEqual(ids);
    expect(t.most()).toBe(1);
  });

  it('an id that meets an outage is handled again with backoff while the others go on; it returns once it went through', async () => {
    const tries = new Map<string, number>();
    const handle = async (id: string) => {
      tries.set(id, (tries.get(id) ?? 0) + 1);
      if (id === 'o-1' && tries.get(id)! < 3) throw new InfrastructureError('store unreachable');
    };
    await recoverEach(ids, handle, options(3));
    expect(tries.get('o-1')).toBe(3);
    expect([...tries.values()].reduce((a, b) => a + b, 0)).toBe(ids.length + 2);
  });

  it('any other error is thrown once the handles under way ended, and no further id is taken', async () => {
    const started: string[] = [];
    const ended: string[] = [];
    const handle = async (id: string) => {
      started.push(id);
      if (id === 'o-0') throw new TypeError('a bug');
      await new Promise((resolve) => setTimeout(resolve, 10));
      ended.push(id);
    };
    await expect(recoverEach(ids, handle, options(2))).rejects.toThrow('a bug');
    expect(started).toEqual(['o-0', 'o-1']);
    expect(ended).toEqual(['o-1']);
  });
});
