import { spawn } from 'node:child_process';
import { CLI, ROOT, optex, json } from './cli';
import { join } from 'node:path';

export interface StackInfo {
  bus: string;
  store: string;
  cloud: string;
  services: Record<string, { pid: number; port: number }>;
}

const STACK = join(ROOT, 'dist/apps/optex/src/stack-main.js');

function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [STACK, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** `stack up --json` in `dir`; fails with its stderr when it does not come up. */
export async function stackUp(dir: string, env: NodeJS.ProcessEnv = {}, args: readonly string[] = []): Promise<StackInfo> {
  const result = await run(['up', '--dir', dir, '--json', ...args], env);
  if (result.code !== 0) throw new Error(`stack up failed (exit ${result.code}):\n${result.stderr}`);
  return JSON.parse(result.stdout) as StackInfo;
}

export async function stackDown(dir: string): Promise<void> {
  const result = await run(['down', '--dir', dir, '--json'], {});
  if (result.code !== 0) throw new Error(`stack down failed:\n${result.stderr}`);
}

export interface ListedOptimization {
  optimizationId: string;
  recommendationId: string;
  status: string;
  approval: string | null;
  risk: string | null;
  error: string | null;
  actualMonthlySavings: number | null;
}

export async function list(store: string): Promise<ListedOptimization[]> {
  return json<{ optimizations: ListedOptimization[] }>(await optex(['list', '--store', store, '--json'])).optimizations;
}

/** Polls `optex list` until `done` holds, or fails after `timeoutMs` with the last listing. */
export async function waitForList(store: string, done: (list: ListedOptimization[]) => boolean, timeoutMs = 90_000): Promise<ListedOptimization[]> {
  const deadline = Date.now() + timeoutMs;
  let last: ListedOptimization[] = [];
  while (Date.now() < deadline) {
    last = await list(store);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out; last listing:\n${JSON.stringify(last.map((o) => [o.recommendationId, o.status, o.error]), null, 1)}`);
}

export { CLI };
