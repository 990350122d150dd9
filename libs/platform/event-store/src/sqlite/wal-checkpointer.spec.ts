import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transformFileSync } from '@swc/core';

describe('WalCheckpointer', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'optex-wal-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `body` in a new Node process that has `WalCheckpointer` (this file's sibling, compiled) and a WAL-mode file at `db`. */
  function child(body: string): Promise<{ code: number | null; stderr: string }> {
    const compiled = join(dir, 'wal-checkpointer.js');
    writeFileSync(compiled, transformFileSync(join(__dirname, 'wal-checkpointer.ts'), { module: { type: 'commonjs' }, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }).code);
    const db = join(dir, 'events.db');
    const script = `
      const { WalCheckpointer } = require(${JSON.stringify(compiled)});
      const Database = require('better-sqlite3');
      const db = new Database(${JSON.stringify(db)});
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (x)');
      ${body}`;
    return new Promise((resolve) => {
      // The compiled copy lives outside the repository: it finds better-sqlite3 through NODE_PATH.
      const env = { ...process.env, NODE_PATH: join(process.cwd(), 'node_modules') };
      const p = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      p.once('exit', (code) => resolve({ code, stderr }));
    });
  }

  it('keeps the process alive while it stops: code after `await stop()` runs, and the exit code it sets holds', async () => {
    const result = await child(`
      const checkpointer = new WalCheckpointer({ path: ${JSON.stringify(join(dir, 'events.db'))}, everyMs: 10, busyTimeoutMs: 1000, onError: (m) => console.error('failed: ' + m) });
      setTimeout(async () => {
        db.exec('INSERT INTO t VALUES (1)');
        await checkpointer.stop();
        await checkpointer.stop(); // idempotent
        db.close();
        process.exitCode = 3;
      }, 50);`);
    expect(result).toEqual({ code: 3, stderr: '' });
  });

  it('does not keep a process alive that leaves it running', async () => {
    const result = await child(`
      new WalCheckpointer({ path: ${JSON.stringify(join(dir, 'events.db'))}, everyMs: 10, busyTimeoutMs: 1000, onError: () => undefined });
      process.exitCode = 4;`);
    expect(result.code).toBe(4);
  });
});
