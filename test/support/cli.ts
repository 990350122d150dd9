import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
export const CLI = join(ROOT, 'dist/apps/optex/src/main.js');

/** Compiles the workspace once per test file (SWC, about a second) so tests run the real CLI. */
export function ensureBuilt(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, env: { ...process.env, OPTEX_BUILD_QUIET: '1' } });
  if (!existsSync(CLI)) throw new Error(`build did not produce ${CLI}`);
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `optex ARGS` as a separate process, from the repository root (`nodeArgs` go to node before the script, e.g. a `--require`). */
export function optex(args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; nodeArgs?: readonly string[] } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], { cwd: ROOT, env: { ...process.env, OPTEX_LOG_LEVEL: 'warn', ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Parses stdout as JSON, failing with the whole output when it is not. */
export function json<T = Record<string, unknown>>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `optex-${prefix}-`));
