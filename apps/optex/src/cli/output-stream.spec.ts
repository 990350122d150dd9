import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { silentLogger } from '@optex/ports';
import { lineWriter } from './output-stream';
import { main } from './program';

// `optex list … | true`, `optex run … | head -1`: the reader of stdout goes away. That is not an error: the output ends
// quietly — no unhandled 'error' event, no stack trace — and the command exits with its own code (0: its work is done).

const ROOT = join(__dirname, '..', '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'optex-output-stream-'));
const store = `sqlite:${join(dir, 'events.db')}`;
beforeAll(async () => {
  const code = await main(['run', join(ROOT, 'examples/recommendations.json'), '--store', store, '--cloud', `simulated:${join(ROOT, 'examples/fleet.json')}`], { out: () => undefined, err: () => undefined, logger: silentLogger });
  expect(code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const readers: ChildProcess[] = [];
afterAll(() => readers.forEach((reader) => reader.kill('SIGKILL')));

/** A real pipe whose reader closed it without reading (`| true`): every write to it fails EPIPE. */
async function closedPipe(): Promise<Writable> {
  const reader = spawn('sh', ['-c', 'exec 0<&-; echo closed; exec sleep 60'], { stdio: ['pipe', 'pipe', 'ignore'] });
  readers.push(reader);
  await once(reader.stdout!, 'data');
  return reader.stdin!;
}

/** `main` with stdout a closed pipe and stderr collected; how many writes went to the pipe. */
async function optexIntoClosedPipe(args: readonly string[]): Promise<{ code: number; stderr: string; writes: number }> {
  const stdout = await closedPipe();
  let writes = 0;
  const write = stdout.write.bind(stdout);
  stdout.write = ((...a: Parameters<Writable['write']>) => {
    writes++;
    return write(...a);
  }) as Writable['write'];
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await main(args, { stdout, stderr, logger: silentLogger });
  await new Promise((resolve) => setTimeout(resolve, 20)); // any late 'error' event would surface now
  return { code, stderr: err, writes };
}

describe('a reader that goes away (EPIPE on stdout)', () => {
  it.each([
    ['list', ['list']],
    ['list --json', ['list', '--json']],
    ['replay', ['replay']],
    ['run (a second run of the same file: all duplicates)', ['run', join(ROOT, 'examples/recommendations.json'), '--cloud', `simulated:${join(ROOT, 'examples/fleet.json')}`]],
  ])('%s: the output ends quietly, exit 0, nothing on stderr', async (_what, args) => {
    const result = await optexIntoClosedPipe([...args, '--store', store]);
    expect(result.writes).toBeGreaterThan(0);
    expect(result).toMatchObject({ code: 0, stderr: '' });
  });

  it('replay --format ndjson (a streamed export): stops at the first refused write, exit 0, no "exported" count', async () => {
    // Read whole, the export is written in several chunks of about 64 KiB.
    const whole = new PassThrough();
    let chunks = 0;
    whole.on('data', () => chunks++);
    expect(await main(['replay', '--format', 'ndjson', '--store', store], { stdout: whole, err: () => undefined, logger: silentLogger })).toBe(0);
    expect(chunks).toBeGreaterThan(2);

    const result = await optexIntoClosedPipe(['replay', '--format', 'ndjson', '--store', store]);
    expect(result.writes).toBeGreaterThan(0);
    expect(result.writes).toBeLessThan(chunks);
    expect(result).toMatchObject({ code: 0, stderr: '' });
  });

  it('lineWriter drops every line after EPIPE without throwing; any other write error is told once', async () => {
    const pipe = await closedPipe();
    const told: Error[] = [];
    const write = lineWriter(pipe, (error) => told.push(error));
    write('first');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(() => write('second')).not.toThrow();
    expect(told).toEqual([]);
    expect(write.failure()).toBeUndefined();

    const full = new PassThrough();
    const other = lineWriter(full, (error) => told.push(error));
    full.destroy(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    other('lost');
    expect(told.map((e) => e.message)).toEqual(['ENOSPC: no space left on device, write']);
    expect(other.failure()?.message).toBe('ENOSPC: no space left on device, write');
  });
});
