import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreInUseError, StoreLocationError, WriterLock } from './writer-lock';

describe('WriterLock: one writer per SQLite store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'optex-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a second writer is refused with the holder named; after release the store can be locked again', () => {
    const store = join(dir, 'events.db');
    const first = WriterLock.acquire(store, 'run a.json');
    let refused: unknown;
    try {
      WriterLock.acquire(store, 'resume');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(StoreInUseError);
    expect((refused as StoreInUseError).holder).toMatchObject({ pid: process.pid, command: 'run a.json' });
    expect((refused as Error).message).toContain(`${store} is in use by another optex process: pid ${process.pid} (run a.json, since `);
    first.release();
    first.release(); // idempotent
    WriterLock.acquire(store, 'resume').release();
  });

  it('a holder killed with SIGKILL leaves no stale lock: the kernel releases it with the process', async () => {
    const store = join(dir, 'events.db');
    // Another process takes the same lock (SQLite's exclusive lock on <store>.lock) and is killed without any clean-up.
    const holder = spawn(
      process.execPath,
      ['-e', `const D=require('better-sqlite3');const db=new D(${JSON.stringify(`${store}.lock`)},{timeout:0});db.exec('BEGIN EXCLUSIVE');require('fs').writeFileSync(${JSON.stringify(`${store}.lock.json`)},JSON.stringify({pid:process.pid,hostname:require('os').hostname(),since:new Date().toISOString(),command:'run big.json'}));console.log('locked');setInterval(()=>{},1000);`],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    expect(() => WriterLock.acquire(store, 'resume')).toThrow(new RegExp(`pid ${holder.pid} \\(run big\\.json`));
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    expect(existsSync(`${store}.lock`)).toBe(true); // the file stays; the lock does not
    const lock = WriterLock.acquire(store, 'resume');
    expect(WriterLock.holderOf(store)).toMatchObject({ pid: process.pid, command: 'resume' });
    lock.release();
  });

  it('a store path where the lock cannot be created is a StoreLocationError saying why in one line, not a raw fs or SQLite error', () => {
    writeFileSync(join(dir, 'afile'), '');
    const refusal = (store: string): Error => {
      try {
        WriterLock.acquire(store, 'run a.json');
      } catch (error) {
        return error as Error;
      }
      throw new Error(`the lock of ${store} was taken`);
    };
    const underAFile = refusal(join(dir, 'afile', 'sub', 'events.db'));
    expect(underAFile).toBeInstanceOf(StoreLocationError);
    expect(underAFile.message).toBe(`${join(dir, 'afile')} is not a directory`);
    const inProc = refusal('/proc/optex-spec/events.db');
    expect(inProc).toBeInstanceOf(StoreLocationError);
    expect(inProc.message).toMatch(/^cannot create the directory \/proc\/optex-spec: ENOENT \(no such file or directory\)$/);
    const procFile = refusal('/proc/optex-spec.db');
    expect(procFile.message).toBe('cannot create /proc/optex-spec.db.lock (its writer lock): ENOENT (no such file or directory)');
    expect(existsSync(join(dir, 'afile.lock'))).toBe(false);
  });
});
