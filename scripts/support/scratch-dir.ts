import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ScratchDirOptions<T> {
  /** Keep the directory whatever happens (a script's `--keep`). */
  readonly keep: boolean;
  /** Whether `work`'s result is a success; a failed one keeps the directory, as a throw does. @defaultValue always */
  readonly succeeded?: (result: T) => boolean;
  /** Told the directory's path when it is kept. */
  readonly report: (line: string) => void;
  /** What the directory holds, for the line that says it was kept (e.g. "the stack's logs"). */
  readonly holds: string;
}

/**
 * Runs `work` in a new directory `optex-<prefix>-XXXXXX` under the system's temporary directory and removes the
 * directory after a success, so a long script run again and again leaves nothing behind. A failure — `work` throws or
 * its result is not a success — keeps it, as `keep` does, and reports its path: what is in it (logs, data) says why.
 */
export async function inScratchDir<T>(prefix: string, options: ScratchDirOptions<T>, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = makeScratchDir(prefix);
  let succeeded = false;
  try {
    const result = await work(dir);
    succeeded = options.succeeded ? options.succeeded(result) : true;
    return result;
  } finally {
    leaveScratchDir(dir, succeeded, options);
  }
}

/** {@link inScratchDir} for synchronous work (a benchmark's `spawnSync` of its child). */
export function inScratchDirSync<T>(prefix: string, options: ScratchDirOptions<T>, work: (dir: string) => T): T {
  const dir = makeScratchDir(prefix);
  let succeeded = false;
  try {
    const result = work(dir);
    succeeded = options.succeeded ? options.succeeded(result) : true;
    return result;
  } finally {
    leaveScratchDir(dir, succeeded, options);
  }
}

const makeScratchDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `optex-${prefix}-`));

function leaveScratchDir(dir: string, succeeded: boolean, options: Pick<ScratchDirOptions<unknown>, 'keep' | 'report' | 'holds'>): void {
  if (succeeded && !options.keep) rmSync(dir, { recursive: true, force: true });
  else options.report(`kept ${dir} (${options.holds})`);
}
