import { percentile } from './percentile';
import { cpuShares, cpuTicksOfStat, transitions } from './stack-figures';

describe('bench:stack figures', () => {
  it('times each pair of consecutive event types across optimizations, in lifecycle order', () => {
    const a = [
      { type: 'Received', at: 0 },
      { type: 'Assessed', at: 40 },
      { type: 'Granted', at: 60 },
      { type: 'Scheduled', at: 190 },
    ];
    const b = [
      { type: 'Received', at: 1000 },
      { type: 'Assessed', at: 1060 },
      { type: 'Granted', at: 1070 },
      { type: 'Scheduled', at: 1170 },
    ];
    const c = [
      { type: 'Received', at: 5 },
      { type: 'Assessed', at: 55 },
      { type: 'Rejected', at: 65 },
    ];
    expect(transitions([a, b, c])).toEqual([
      { from: 'Received', to: 'Assessed', count: 3, medianMs: 50, p95Ms: 60 },
      { from: 'Assessed', to: 'Granted', count: 2, medianMs: 10, p95Ms: 20 },
      { from: 'Assessed', to: 'Rejected', count: 1, medianMs: 10, p95Ms: 10 },
      { from: 'Granted', to: 'Scheduled', count: 2, medianMs: 100, p95Ms: 130 },
    ]);
    expect(transitions([])).toEqual([]);
  });

  it('takes percentiles by nearest rank', () => {
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 95)).toBe(40);
    expect(percentile([], 50)).toBeNaN();
  });

  it('reads utime + stime from a /proc stat line, whatever the command name holds', () => {
    const fields = (name: string) => `4242 (${name}) S 1 4242 4242 0 -1 4194560 5000 0 12 0 1234 56 0 0 20 0 11 0 100 1000000 5000`;
    expect(cpuTicksOfStat(fields('node'))).toBe(1290);
    expect(cpuTicksOfStat(fields('odd) name (x'))).toBe(1290);
    expect(() => cpuTicksOfStat('garbage')).toThrow(/not a \/proc/);
  });

  it('shares the CPU used between two readings out of the machine, largest first, leaving out processes without both readings', () => {
    expect(cpuShares({ kafka: 10, moto: 5, gone: 1, fresh: undefined }, { kafka: 40, moto: 65, gone: undefined, fresh: 3 }, 50, 2)).toEqual([
      { process: 'moto', cpuSeconds: 60, pctOfMachine: 60 },
      { process: 'kafka', cpuSeconds: 30, pctOfMachine: 30 },
    ]);
  });
});
