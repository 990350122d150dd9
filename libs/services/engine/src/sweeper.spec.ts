import { silentLogger } from '@optex/ports';
import { StallSweeper } from './sweeper';

function sweeperOver(candidates: string[], resume: (id: string) => Promise<void>) {
  let now = 1_000;
  const sweeper = new StallSweeper({ everyMs: 0, afterMs: 100, now: () => now, logger: silentLogger, candidates: () => candidates, resume });
  return { sweeper, advance: (ms: number) => (now += ms) };
}

describe('StallSweeper', () => {
  it('resumes a candidate only once no progress was seen for afterMs, counting from when it was first noticed', async () => {
    const resumed: string[] = [];
    const { sweeper, advance } = sweeperOver(['a', 'b'], async (id) => void resumed.push(id));
    expect(await sweeper.sweep()).toEqual([]); // first noticed now
    advance(60);
    sweeper.progressed('b');
    advance(60);
    expect(await sweeper.sweep()).toEqual(['a']); // b progressed 60 ms ago
    advance(100);
    expect(await sweeper.sweep()).toEqual(['a', 'b']);
    expect(resumed).toEqual(['a', 'a', 'b']);
  });

  it('with the log at hand, does not resume what another instance moves (its stream gained an event within afterMs); counts its stall from that event', async () => {
    let now = 1_000;
    const logged = new Map<string, number>([['moved-elsewhere', 0]]);
    const resumed: string[] = [];
    const sweeper = new StallSweeper({
      everyMs: 0,
      afterMs: 100,
      now: () => now,
      logger: silentLogger,
      candidates: () => ['moved-elsewhere', 'stalled', 'unreadable'],
      resume: async (id) => void resumed.push(id),
      lastLoggedAt: async (id) => {
        if (id === 'unreadable') throw new Error('store unavailable');
        return logged.get(id);
      },
    });
    await sweeper.sweep(); // first noticed at 1,000
    now = 1_100;
    logged.set('moved-elsewhere', 1_090); // the other instance appended 10 ms ago
    logged.set('stalled', 950);
    expect(await sweeper.sweep()).toEqual(['stalled', 'unreadable']);
    now = 1_189; // 99 ms after the other instance's last event: still not stalled
    expect(await sweeper.sweep()).toEqual([]);
    now = 1_190;
    expect(await sweeper.sweep()).toEqual(['moved-elsewhere']);
    expect(resumed).toEqual(['stalled', 'unreadable', 'moved-elsewhere']);
  });

  it('with owns, leaves a stalled candidate another instance owns; once it is owned here, resumes it at the next sweep (the stall already counted)', async () => {
    let now = 1_000;
    const owned = new Set(['mine']);
    const sweeper = new StallSweeper({ everyMs: 0, afterMs: 100, now: () => now, logger: silentLogger, candidates: () => ['mine', 'theirs'], resume: async () => undefined, owns: (id) => owned.has(id) });
    await sweeper.sweep(); // both first noticed at 1,000
    now = 1_500;
    expect(await sweeper.sweep()).toEqual(['mine']);
    now = 1_550;
    owned.add('theirs'); // its partition came here: the instance that owned it left the group
    expect(await sweeper.sweep()).toEqual(['theirs']);
  });

  it('a failed resume is tried again afterMs later, not at every sweep', async () => {
    let calls = 0;
    const { sweeper, advance } = sweeperOver(['a'], async () => {
      calls++;
      throw new Error('store unavailable');
    });
    await sweeper.sweep();
    advance(100);
    expect(await sweeper.sweep()).toEqual([]);
    expect(calls).toBe(1);
    advance(50);
    await sweeper.sweep();
    expect(calls).toBe(1);
    advance(50);
    await sweeper.sweep();
    expect(calls).toBe(2);
  });

  it('forgets what is no longer a candidate; after stop() it resumes nothing', async () => {
    const candidates = ['a'];
    const resumed: string[] = [];
    const { sweeper, advance } = sweeperOver(candidates, async (id) => void resumed.push(id));
    await sweeper.sweep();
    candidates.splice(0, 1, 'b');
    advance(100);
    expect(await sweeper.sweep()).toEqual([]); // a is done; b noticed now
    await sweeper.stop();
    advance(100);
    expect(await sweeper.sweep()).toEqual([]);
    expect(resumed).toEqual([]);
  });
});
