import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT, ensureBuilt, json, optex, tempDir } from './support/cli';

// Finding 5 of issue 7: two engines on one store fought (rollbacks doubled, an instance left stopped). The embedded engine
// now holds an exclusive writer lock on its store for as long as run/resume works; readers do not need it.

jest.setTimeout(120_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('one writer per store (embedded engine)', () => {
  beforeAll(() => ensureBuilt());

  it('a second run/resume on a store in use exits 1 naming the holder pid; readers still work; a SIGKILLed holder leaves no stale lock', async () => {
    const dir = tempDir('lock');
    const store = `sqlite:${join(dir, 'events.db')}`;
    // The first run is slowed down (5 s before every EC2 call: a minute in all) so that it is still working when the
    // others have run, on a loaded machine too (at 2 s it took 24 s, which five CLI commands beside a busy test run
    // outlasted: it finished before the kill).
    const first = spawn(process.execPath, [CLI, 'run', 'examples/recommendations.json', '--store', store, '--json'], {
      cwd: ROOT,
      env: { ...process.env, OPTEX_LOG_LEVEL: 'error', OPTEX_EC2_CALL_DELAY_MS: '5000' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => first.once('exit', (code) => resolve(code)));
    try {
      const holderFile = join(dir, 'events.db.lock.json');
      for (let i = 0; i < 200 && !(existsSync(holderFile) && readFileSync(holderFile, 'utf8').includes(`"pid":${first.pid}`)); i++) await sleep(50);
      expect(JSON.parse(readFileSync(holderFile, 'utf8'))).toMatchObject({ pid: first.pid, command: 'run examples/recommendations.json' });

      const second = await optex(['resume', '--store', store, '--json']);
      expect(second.code).toBe(1);
      expect(second.stdout).toBe('');
      expect(second.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^optex: .*events\\.db is in use by another optex process: pid ${first.pid} \\(run examples/recommendations\\.json, since .*\\); wait for it to finish, or stop it$`))]);
      const again = await optex(['run', 'examples/recommendations.json', '--store', store]);
      expect(again.code).toBe(1);

      // A reader works beside the writer, and sees its work once the first recommendation is recorded (after its first,
      // delayed, EC2 call).
      let list = await optex(['list', '--store', store, '--json']);
      for (let i = 0; i < 60 && list.code === 0 && json<{ optimizations: unknown[] }>(list).optimizations.length === 0; i++) {
        await sleep(500);
        list = await optex(['list', '--store', store, '--json']);
      }
      expect(list.code).toBe(0);
      expect(json<{ optimizations: unknown[] }>(list).optimizations.length).toBeGreaterThan(0);
      expect((await optex(['metrics', '--store', store, '--json'])).code).toBe(0);
      expect((await optex(['fleet', '--store', store, '--json'])).code).toBe(0);
    } finally {
      first.kill('SIGKILL');
    }
    expect(await exited).toBeNull(); // killed mid-run, not finished

    // The kernel dropped the lock with the process: the next engine goes on from the log.
    const resumed = await optex(['resume', '--store', store, '--json']);
    expect(resumed.code).toBe(0);
    const statuses = json<{ optimizations: { status: string }[] }>(resumed).optimizations.map((o) => o.status);
    expect(statuses.filter((s) => ['executing', 'validating', 'rolling-back', 'scheduled', 'approved'].includes(s))).toEqual([]);
  });

  /** Starts a slowed-down `run` and resolves once its engine works (an optimization is in the log), with its output. */
  async function slowRun(dir: string, delayMs: number) {
    const store = `sqlite:${join(dir, 'events.db')}`;
    const child = spawn(process.execPath, [CLI, 'run', 'examples/recommendations.json', '--store', store, '--json'], {
      cwd: ROOT,
      env: { ...process.env, OPTEX_LOG_LEVEL: 'error', OPTEX_EC2_CALL_DELAY_MS: String(delayMs) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 300; i++) {
      const list = await optex(['list', '--store', store, '--json']);
      if (list.code === 0 && json<{ optimizations: unknown[] }>(list).optimizations.length > 0) break;
      await sleep(50);
    }
    return { child, store, exited, out: () => ({ stdout, stderr }) };
  }

  it('SIGINT: the run finishes what is under way, prints its report, exits 130 and releases the store; a second SIGINT stops at once', async () => {
    // 1 s before each EC2 call (about 12 s in all): still under way when the signal comes, however slow the machine.
    const first = await slowRun(tempDir('sigint'), 1000);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(130);
    const { stdout, stderr } = first.out();
    expect(stderr).toMatch(/^optex: SIGINT: stopping \(no more records of the input are taken in\); finishing what is under way, then the report \(SIGINT again stops at once\)$/m);
    expect(stderr).toMatch(/^optex: stopped by SIGINT: what was taken in was carried as far as it goes now$/m);
    const report = JSON.parse(stdout) as { summary: { received: number }; optimizations: { status: string }[] };
    expect(report.summary.received).toBeGreaterThan(0);
    expect(report.optimizations.map((o) => o.status).filter((s) => ['executing', 'validating', 'rolling-back', 'scheduled'].includes(s))).toEqual([]);
    expect((await optex(['resume', '--store', first.store, '--json'])).code).toBe(0); // the lock went with the process

    const second = await slowRun(tempDir('sigint2'), 5000);
    second.child.kill('SIGINT');
    await sleep(300);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(130);
    expect(second.out().stdout).toBe('');
    expect(second.out().stderr).toMatch(/^optex: SIGINT again: stopping now \(resume carries on from the log\)$/m);
    const resumed = await optex(['resume', '--store', second.store, '--json'], { env: { ...process.env, OPTEX_EC2_CALL_DELAY_MS: '0' } });
    expect(resumed.code).toBe(0);
  });
});
