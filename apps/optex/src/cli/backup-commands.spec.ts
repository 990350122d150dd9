import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@optex/ports';
import { main } from './program';

// A policy given on a pipe (`--policy /dev/stdin`, `--policy <(…)`) can be read once only: `backups` reads it once
// and uses what it read (it read it twice, and the second read found the pipe drained: "Unexpected end of JSON input").

const ROOT = join(__dirname, '..', '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'optex-backups-'));
const store = `sqlite:${join(dir, 'events.db')}`;
const writers: ChildProcess[] = [];
beforeAll(async () => {
  const code = await main(['run', join(ROOT, 'examples/recommendations.json'), '--store', store, '--cloud', `simulated:${join(ROOT, 'examples/fleet.json')}`], { out: () => undefined, err: () => undefined, logger: silentLogger });
  expect(code).toBe(0);
});
afterAll(() => {
  writers.forEach((writer) => writer.kill('SIGKILL'));
  rmSync(dir, { recursive: true, force: true });
});

/** A named pipe that gives `content` to its first reader and nothing (end of file) to any later one, as a drained pipe does. */
function pipeOnce(name: string, content: string): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, content);
  const fifo = join(dir, name);
  execFileSync('mkfifo', [fifo]);
  writers.push(spawn('sh', ['-c', 'cat "$1" > "$2"; sleep 0.3; while :; do : > "$2"; done', 'sh', file, fifo], { stdio: 'ignore' }));
  return fifo;
}

async function optex(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s), logger: silentLogger });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('backups --policy on a pipe', () => {
  it('reads the policy once and applies it', async () => {
    const policy = pipeOnce('policy-pipe', JSON.stringify({ version: 'piped', backups: { retentionDays: 7 } }));
    const result = await optex(['backups', '--policy', policy, '--store', store]);
    expect(result.stderr).toBe('');
    expect([result.code, result.stdout]).toEqual([0, 'No backup snapshots in this store (retention 7 day(s)).']);
  });
});

describe('run --policy on a pipe', () => {
  it('reads the policy once and applies it (openAdapters checked it, then read it again from a drained pipe)', async () => {
    const policy = pipeOnce('run-policy-pipe', JSON.stringify({ version: 'piped-run' }));
    const fresh = `sqlite:${join(dir, 'piped-run', 'events.db')}`;
    const result = await optex(['run', join(ROOT, 'examples/recommendations.json'), '--store', fresh, '--cloud', `simulated:${join(ROOT, 'examples/fleet.json')}`, '--policy', policy, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as { summary: { received: number } }).summary.received).toBe(25);
  });
});

describe('backups at OPTEX_NOW', () => {
  const saved = process.env['OPTEX_NOW'];
  afterEach(() => {
    if (saved === undefined) delete process.env['OPTEX_NOW'];
    else process.env['OPTEX_NOW'] = saved;
  });

  it.each(['2026', 'December 7, 2026', '1', '2026-12-07', '2026-12-07T10:00:00', 'not a time'])('refuses %j, not an ISO-8601 time with a zone (exit 2), where new Date() guessed at most of them', async (raw) => {
    process.env['OPTEX_NOW'] = raw;
    const result = await optex(['backups', '--store', store]);
    expect([result.code, result.stderr]).toEqual([2, expect.stringContaining(`OPTEX_NOW must be an ISO-8601 time, got ${JSON.stringify(raw)}`)]);
    expect(result.stdout).toBe('');
  });

  it.each(['2026-12-07T10:00:00Z', '2026-12-07T10:00:00.000+01:00'])('judges retention at the ISO-8601 time %j', async (raw) => {
    process.env['OPTEX_NOW'] = raw;
    const result = await optex(['backups', '--store', store, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as { now: string }).now).toBe(new Date(raw).toISOString());
  });
});
