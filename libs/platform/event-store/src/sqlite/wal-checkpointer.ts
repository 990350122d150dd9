import { Worker } from 'node:worker_threads';

/**
 * The worker's code, evaluated as CommonJS (`eval: true`), so that it runs the same from the built files and from the
 * sources under jest. It opens its own connection to the file and runs a PASSIVE checkpoint every `everyMs`: it copies
 * what the WAL holds into the database file and syncs it, without blocking the writer or readers of other connections.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
db.pragma('wal_autocheckpoint = 0');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    if (error && error.code === 'SQLITE_BUSY') return; // another connection is checkpointing: nothing to do now
    parentPort.postMessage({ failed: String(error && error.message ? error.message : error) });
  }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointerOptions {
  /** The SQLite file (in WAL mode). */
  readonly path: string;
  /** Time between checkpoints. */
  readonly everyMs: number;
  readonly busyTimeoutMs: number;
  /** Called with what a failed checkpoint reported (the next one tries again); SQLITE_BUSY — another connection checkpointing — is not a failure. */
  readonly onError: (message: string) => void;
}

/**
 * Checkpoints a WAL-mode SQLite file from a worker thread, so the fsyncs and page copies of a checkpoint run beside
 * the process's main thread instead of inside one of its commits. The writer keeps a high `wal_autocheckpoint` as a
 * backstop (see `SqliteEventStore`), for a worker that falls behind or dies.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private stopped: Promise<void> | undefined;
  private exited = false;

  constructor(options: WalCheckpointerOptions) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver: require.resolve('better-sqlite3'), path: options.path, everyMs: options.everyMs, busyTimeoutMs: options.busyTimeoutMs },
    });
    this.worker.on('message', (message: { failed?: string }) => {
      if (message.failed !== undefined) options.onError(message.failed);
    });
    this.worker.on('error', (error) => options.onError(error instanceof Error ? error.message : String(error)));
    this.worker.once('exit', () => (this.exited = true));
    this.worker.unref(); // a store left open does not keep the process alive for its checkpoints
  }

  /** Runs one last checkpoint, closes the worker's connection and waits for the worker to end. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      if (this.exited) return resolve(); // it failed and ended already
      this.worker.once('exit', () => resolve());
      // Referenced again while it stops: an unreferenced worker does not keep the process alive, so a caller awaiting
      // this with nothing else pending would see the process end before its await returned (and its exit code lost).
      this.worker.ref();
      this.worker.postMessage('stop');
    });
    return this.stopped;
  }
}
