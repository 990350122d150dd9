import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { transformFileSync } from '@swc/core';
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';
import type { ResolvedEvent } from '@eventstore/db-client';

// The emulator as the local stack runs it: its own process, URL on stdout, stopped by SIGTERM.
// main.ts and its two modules are compiled with SWC into a temporary directory (as
// scripts/build.mjs would into dist/), with node_modules reachable through NODE_PATH.

const root = resolve(__dirname, '../../../..');
const dir = mkdtempSync(join(tmpdir(), 'optex-esdb-main-'));
const running = new Set<ChildProcess>();
beforeAll(() => {
  for (const name of ['main', 'server', 'log']) {
    const { code } = transformFileSync(join(__dirname, `${name}.ts`), {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    });
    writeFileSync(join(dir, `${name}.js`), code);
  }
});
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function launch(args: string[]): { child: ChildProcess; firstLine: Promise<string>; exit: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [join(dir, 'main.js'), ...args], {
    env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const firstLine = new Promise<string>((resolveLine, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolveLine);
    child.once('exit', () => reject(new Error(`emulator exited before printing its url: ${stderr}`)));
  });
  firstLine.catch(() => undefined); // awaited only by tests that expect a url
  const exit = new Promise<{ code: number | null; stderr: string }>((resolveExit) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolveExit({ code, stderr });
    }),
  );
  return { child, firstLine, exit };
}

it('prints its url as one JSON line, serves the client, persists with --data and exits 0 on SIGTERM', async () => {
  const dataFile = join(dir, 'log.jsonl');
  const first = launch(['--data', dataFile]);
  const { url, port } = JSON.parse(await first.firstLine) as { url: string; port: number };
  expect(url).toBe(`esdb://127.0.0.1:${port}?tls=false`);
  const client = EventStoreDBClient.connectionString(url);
  const id = randomUUID();
  await client.appendToStream('proc', [jsonEvent({ id, type: 'Started', data: { n: 1 } })], { expectedRevision: 'no_stream' });
  await client.dispose();
  first.child.kill('SIGTERM');
  expect((await first.exit).code).toBe(0);

  const second = launch(['--data', dataFile, '--port', String(port)]);
  expect(JSON.parse(await second.firstLine)).toEqual({ url, port });
  const again = EventStoreDBClient.connectionString(url);
  const read: ResolvedEvent[] = [];
  for await (const e of again.readStream('proc') as AsyncIterable<ResolvedEvent>) read.push(e);
  await again.dispose();
  expect(read.map((e) => [e.event?.id, e.event?.type, e.event?.data])).toEqual([[id, 'Started', { n: 1 }]]);
  second.child.kill('SIGTERM');
  expect((await second.exit).code).toBe(0);
}, 30_000);

it('exits 2 with a one-line error on a bad argument', async () => {
  const bad = launch(['--port', 'eighty']);
  const { code, stderr } = await bad.exit;
  expect(code).toBe(2);
  expect(stderr.trim()).toBe('esdb emulator: --port: expected 0..65535, got "eighty"');
});
