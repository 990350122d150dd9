import type { BusMessage } from '@optex/ports';
import { IntakeWindow } from './intake-window';

const message = (i: number): BusMessage => ({ topic: 't', key: `k${i % 3}`, value: Buffer.from(String(i)), headers: {} });
const indexes = (batches: BusMessage[][]) => batches.flat().map((m) => Number(m.value.toString()));

function fixture(total: number, window: number) {
  const batches: BusMessage[][] = [];
  let settled = 0;
  const bus = {
    publish: async (batch: readonly BusMessage[]) => {
      batches.push([...batch]);
    },
  };
  const published = () => batches.reduce((n, b) => n + b.length, 0);
  const intake = new IntakeWindow(bus, total, message, () => published() - settled, window);
  return { intake, batches, settle: (n: number) => (settled += n) };
}

describe('IntakeWindow', () => {
  it('publishes the first window only, then refills it once fewer than half of it are in flight', async () => {
    const { intake, batches, settle } = fixture(10, 4);
    await intake.start();
    expect(indexes(batches)).toEqual([0, 1, 2, 3]);
    settle(2);
    intake.pump(); // 2 in flight: half the window, not fewer than half
    await Promise.resolve();
    expect(indexes(batches)).toEqual([0, 1, 2, 3, 4, 5]);
    intake.pump(); // 4 in flight: full
    expect(batches).toHaveLength(2);
    settle(3);
    intake.pump();
    await Promise.resolve();
    expect(batches.at(-1)!.map((m) => Number(m.value.toString()))).toEqual([6, 7, 8]);
    expect(intake.remaining).toBe(1);
  });

  it('once stopped, publishes nothing more: the records not published yet stay unread, and takenIn says how many were', async () => {
    const { intake, batches, settle } = fixture(10, 4);
    await intake.start();
    intake.stop();
    expect([intake.remaining, intake.takenIn]).toEqual([0, 4]);
    settle(4);
    intake.pump();
    await intake.forceNext();
    expect(indexes(batches)).toEqual([0, 1, 2, 3]);
  });

  it('publishes the next window when forced (the engine is idle with records left), and each record once, in input order', async () => {
    const { intake, batches } = fixture(10, 4);
    await intake.start();
    await intake.forceNext();
    await intake.forceNext();
    await intake.forceNext();
    expect(indexes(batches)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(batches.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(intake.remaining).toBe(0);
  });

  it('does not start a second publish while one is under way', async () => {
    let release!: () => void;
    const calls: number[] = [];
    const bus = {
      publish: (batch: readonly BusMessage[]) => {
        calls.push(batch.length);
        return calls.length === 2 ? new Promise<void>((r) => (release = r)) : Promise.resolve();
      },
    };
    const intake = new IntakeWindow(bus, 20, message, () => 0, 4);
    await intake.start();
    intake.pump();
    intake.pump();
    expect(calls).toEqual([4, 4]);
    release();
    await intake.forceNext();
    expect(calls).toEqual([4, 4, 4]);
  });

  it('fails the run with the error of a publish that failed in the background', async () => {
    let fail = false;
    const failing = {
      publish: async (batch: readonly BusMessage[]) => {
        if (fail) throw new Error(`broker gone (${batch.length})`);
      },
    };
    const intake = new IntakeWindow(failing, 10, message, () => 0, 4);
    await intake.start();
    fail = true;
    intake.pump();
    await new Promise((r) => setImmediate(r));
    await expect(intake.forceNext()).rejects.toThrow('broker gone (4)');
  });

  it('refuses a window that is not a positive integer, naming it', () => {
    expect(() => new IntakeWindow({ publish: async () => undefined }, 0, message, () => 0, 0)).toThrow(/window must be an integer ≥ 1, got 0/);
    expect(() => new IntakeWindow({ publish: async () => undefined }, 0, message, () => 0, 1.5)).toThrow(RangeError);
  });
});
