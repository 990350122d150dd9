// Figures bench:stack derives from what it observed: where an optimization's time goes between its events, and which
// process spent the machine's CPU. Pure functions (and one /proc reader), tested in stack-figures.spec.ts.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { percentile } from './percentile';

export interface TimedEvent {
  readonly type: string;
  /** When the store recorded it (ms since the epoch). */
  readonly at: number;
}

export interface Transition {
  readonly from: string;
  readonly to: string;
  /** Optimizations in which `to` directly followed `from`. */
  readonly count: number;
  readonly medianMs: number;
  readonly p95Ms: number;
}


/**
 * Time between consecutive events of each optimization, grouped by the pair of event types: where the end-to-end
 * latency goes. In lifecycle order (by the mean position of the pair in its optimizations' timelines).
 */
export function transitions(timelines: Iterable<readonly TimedEvent[]>): Transition[] {
  const gaps = new Map<string, { from: string; to: string; ms: number[]; positions: number }>();
  for (const timeline of timelines) {
    for (let i = 1; i < timeline.length; i++) {
      const from = timeline[i - 1]!;
      const to = timeline[i]!;
      const key = `${from.type}\u0000${to.type}`;
      const entry = gaps.get(key) ?? { from: from.type, to: to.type, ms: [], positions: 0 };
      entry.ms.push(to.at - from.at);
      entry.positions += i;
      gaps.set(key, entry);
    }
  }
  return [...gaps.values()]
    .sort((a, b) => a.positions / a.ms.length - b.positions / b.ms.length)
    .map(({ from, to, ms }) => {
      const sorted = [...ms].sort((a, b) => a - b);
      return { from, to, count: sorted.length, medianMs: percentile(sorted, 50), p95Ms: percentile(sorted, 95) };
    });
}

/** CPU time (user + system, in clock ticks) from the text of `/proc/<pid>/stat`. */
export function cpuTicksOfStat(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields are counted after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`);
  return utime + stime;
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, asked once; 100 where it cannot be asked). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds each named process has used so far, or undefined where /proc is missing (not Linux) or the process is gone. */
export function cpuSecondsOf(pids: Readonly<Record<string, number>>): Record<string, number | undefined> {
  const tick = ticksPerSecond();
  const out: Record<string, number | undefined> = {};
  for (const [name, pid] of Object.entries(pids)) {
    try {
      out[name] = cpuTicksOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8')) / tick;
    } catch {
      out[name] = undefined;
    }
  }
  return out;
}

export interface CpuShare {
  readonly process: string;
  readonly cpuSeconds: number;
  /** Share of the machine's capacity over the interval (all cores × wall time). */
  readonly pctOfMachine: number;
}

/** CPU each process used between two readings, largest first, as seconds and as a share of `cores × wallSeconds`. */
export function cpuShares(before: Readonly<Record<string, number | undefined>>, after: Readonly<Record<string, number | undefined>>, wallSeconds: number, cores: number): CpuShare[] {
  const shares: CpuShare[] = [];
  for (const [name, end] of Object.entries(after)) {
    const start = before[name];
    if (end === undefined || start === undefined) continue;
    const cpuSeconds = Math.round((end - start) * 100) / 100;
    shares.push({ process: name, cpuSeconds, pctOfMachine: Math.round((cpuSeconds / (wallSeconds * cores)) * 1000) / 10 });
  }
  return shares.sort((a, b) => b.cpuSeconds - a.cpuSeconds);
}
