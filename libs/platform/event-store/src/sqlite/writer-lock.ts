import Database from 'better-sqlite3';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

/** Who holds a store's writer lock, as the holder wrote it beside the lock. */
export interface WriterLockHolder {
  readonly pid: number;
  readonly hostname: string;
  /** ISO 8601. */
  readonly since: string;
  /** What the holder runs, e.g. `run examples/recommendations.json`. */
  readonly command: string;
}

/** The store's writer lock is held by another process. */
export class StoreInUseError extends Error {
  constructor(
    readonly storePath: string,
    /** What the holder wrote about itself; undefined when it could not be read (it is being written, or was removed). */
    readonly holder: WriterLockHolder | undefined,
    /** Whether the holder's pid is alive on this host (`undefined`: another host, or not known). */
    readonly holderAlive: boolean | undefined,
  ) {
    super(
      holder
        ? `${storePath} is in use by another optex process: pid ${holder.pid}${holder.hostname === hostname() ? '' : ` on ${holder.hostname}`} (${holder.command}, since ${holder.since})` +
            `${holderAlive === false ? ' — that pid is gone, so another process holds the lock now' : ''}; wait for it to finish, or stop it`
        : `${storePath} is in use by another optex process; wait for it to finish, or stop it`,
    );
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = new.target.name;
  }
}

/**
 * The store's writer lock (and so the store) cannot be created where the store's path says: under a file, in a
 * directory that cannot be written (`/proc`, a read-only disk), … The message names the path and the reason, in one line.
 */
export class StoreLocationError extends Error {
  constructor(
    readonly storePath: string,
    /** Why, e.g. `/tmp/x/afile is not a directory`. */
    readonly reason: string,
  ) {
    super(reason);
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = new.target.name;
  }
}

/**
 * One writer per SQLite store: an exclusive lock on `<store>.lock` for as long as the engine runs.
 *
 * The lock is SQLite's own (an open `BEGIN EXCLUSIVE` transaction on a small database beside the store), which is a
 * POSIX advisory lock on the file: the kernel releases it when the holder exits in any way, SIGKILL included, so a
 * crashed holder never leaves a stale lock behind and there is no pid-reuse guess to make. A lock file with a pid
 * and a liveness check (what `proper-lockfile` and pid files do) must decide staleness itself, and two processes
 * taking over the same stale file at once can both win. `<store>.lock.json` only says who holds it (pid, host, since,
 * command), for the message a second writer gets; the lock is the truth.
 *
 * Readers (`list`, `history`, `metrics`, `fleet`…) do not take it; approvals and denials append one event each with
 * an expected revision and do not need it either.
 */
export class WriterLock {
  private released = false;

  private constructor(
    private readonly db: Database.Database,
    readonly storePath: string,
  ) {}

  /**
   * Takes the lock of the store at `storePath` (creating its directory and `<store>.lock` when missing) or throws at
   * once: {@link StoreInUseError} when another process holds it, {@link StoreLocationError} when it cannot be created
   * there.
   */
  static acquire(storePath: string, command: string): WriterLock {
    const lockPath = `${storePath}.lock`;
    const dir = dirname(lockPath);
    const notADir = notADirectory(dir);
    if (notADir) throw new StoreLocationError(storePath, notADir);
    try {
      makeDirectories(dir);
    } catch (error) {
      throw new StoreLocationError(storePath, `cannot create the directory ${dir}: ${errnoText(error)}`);
    }
    let db: Database.Database;
    try {
      // Created by Node first, so that a refusal says why (EACCES, EROFS, ENOENT…), where SQLite only says "unable to open database file".
      closeSync(openSync(lockPath, 'a'));
      db = new Database(lockPath, { timeout: 0 });
    } catch (error) {
      throw new StoreLocationError(storePath, `cannot create ${lockPath} (its writer lock): ${errnoText(error)}`);
    }
    try {
      db.pragma('journal_mode = DELETE');
      db.exec('BEGIN EXCLUSIVE');
    } catch (error) {
      db.close();
      if ((error as { code?: string }).code === 'SQLITE_BUSY') {
        const holder = WriterLock.holderOf(storePath);
        throw new StoreInUseError(storePath, holder, holder && holder.hostname === hostname() ? isAlive(holder.pid) : undefined);
      }
      throw error;
    }
    const holder: WriterLockHolder = { pid: process.pid, hostname: hostname(), since: new Date().toISOString(), command };
    writeFileSync(`${lockPath}.json`, `${JSON.stringify(holder)}\n`);
    return new WriterLock(db, storePath);
  }

  /** What the current (or last) holder wrote about itself, if readable. */
  static holderOf(storePath: string): WriterLockHolder | undefined {
    try {
      const holder = JSON.parse(readFileSync(`${storePath}.lock.json`, 'utf8')) as WriterLockHolder;
      return typeof holder.pid === 'number' ? holder : undefined;
    } catch {
      return undefined;
    }
  }

  /** Releases the lock (idempotent). Exiting releases it too. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      this.db.exec('ROLLBACK');
    } finally {
      this.db.close();
    }
  }
}

/**
 * `mkdir -p dir`, one level at a time: Node 20's `mkdirSync(dir, { recursive: true })` never returns for a directory
 * under `/proc` (its parent exists, the mkdir fails ENOENT, and it tries again for ever).
 */
export function makeDirectories(dir: string): void {
  const missing: string[] = [];
  for (let at = dir; !existsSync(at) && dirname(at) !== at; at = dirname(at)) missing.unshift(at);
  for (const at of missing) {
    try {
      mkdirSync(at);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** The nearest existing path on the way to `dir` when it is not a directory (`/tmp/x/afile is not a directory`), else undefined. */
function notADirectory(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    try {
      return statSync(at).isDirectory() ? undefined : `${at} is not a directory`;
    } catch {
      if (dirname(at) === at) return undefined;
    }
  }
}

/** An error's code and what it means (`EACCES (permission denied)`), else its message. */
function errnoText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = (error as Error | undefined)?.message ?? String(error);
  // Node's messages read "EACCES: permission denied, open '/x'": keep the middle part.
  const meaning = /^[A-Z0-9_]+: (.*?)(?:, \w+(?: '.*')?)?$/.exec(message)?.[1];
  return code === undefined ? message : meaning ? `${code} (${meaning})` : `${code} (${message})`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
