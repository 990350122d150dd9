import { setFlagsFromString } from 'node:v8';

/**
 * How far, in percent, V8 may let the heap grow past what its last full collection kept before it collects again, in
 * an optex process (`optex` and the five services), unless `OPTEX_HEAP_GROWTH_PERCENT` says otherwise.
 *
 * V8's own policy lets a heap with a large limit (4 GiB on a 24 GiB machine) grow to up to four times what survived
 * when collecting looks cheap next to the program's allocation rate (`--trace-gc` showed ~3.8 times here). In a long
 * `run` that headroom is most of the memory the process takes: 100,000 embedded real runs committed 937 MiB of heap
 * (1,104 MiB peak RSS), while heap snapshots at 10,000 and 30,000 held 123 and 129 MB (~150 MB at 100,000 by that
 * slope). At 50 %, 20,000 real runs peaked at 419 MiB RSS instead of 655 MiB at the same throughput (143 against 145
 * per second), and 100,000 at 603 MiB; `bench:engine` applies the same setting to its runs and prints the figures.
 */
export const DEFAULT_HEAP_GROWTH_PERCENT = 50;

/** Bounds of `OPTEX_HEAP_GROWTH_PERCENT` (below 10 % the process would do little but collect). */
const MIN_PERCENT = 10;
const MAX_PERCENT = 1000;

/**
 * The heap growth `env` asks for: `OPTEX_HEAP_GROWTH_PERCENT` (an integer from 10 to 1000), `v8` to leave V8's own
 * policy (`undefined`), or {@link DEFAULT_HEAP_GROWTH_PERCENT} when unset or empty.
 * @throws RangeError naming the variable and the bad value.
 */
export function heapGrowthFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env['OPTEX_HEAP_GROWTH_PERCENT']?.trim();
  if (raw === undefined || raw === '') return DEFAULT_HEAP_GROWTH_PERCENT;
  if (raw.toLowerCase() === 'v8') return undefined;
  const percent = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(percent) || percent < MIN_PERCENT || percent > MAX_PERCENT) {
    throw new RangeError(`OPTEX_HEAP_GROWTH_PERCENT must be an integer from ${MIN_PERCENT} to ${MAX_PERCENT}, or v8 (V8's own policy), got ${JSON.stringify(raw)}`);
  }
  return percent;
}

/**
 * Sets V8's heap growth for the rest of this process with `--heap-growing-percent`, a flag V8 reads at every full
 * collection, so setting it after start-up takes effect from the next one (measured: see
 * {@link DEFAULT_HEAP_GROWTH_PERCENT}). `undefined` leaves V8's own policy and sets nothing.
 */
export function setHeapGrowth(percent: number | undefined, setFlags: (flags: string) => void = setFlagsFromString): void {
  if (percent !== undefined) setFlags(`--heap-growing-percent=${percent}`);
}

/**
 * {@link setHeapGrowth} from `env` ({@link heapGrowthFromEnv}): the first thing an optex process's entry point does.
 * Returns the percent set (`undefined`: V8's own policy).
 * @throws RangeError for a bad `OPTEX_HEAP_GROWTH_PERCENT`, before anything is set.
 */
export function limitHeapGrowth(env: NodeJS.ProcessEnv = process.env, setFlags: (flags: string) => void = setFlagsFromString): number | undefined {
  const percent = heapGrowthFromEnv(env);
  setHeapGrowth(percent, setFlags);
  return percent;
}
