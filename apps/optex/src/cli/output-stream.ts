import type { Writable } from 'node:stream';

/**
 * The reader of the output went away (EPIPE: `optex replay --format csv | head -1`): a command that streams its output
 * stops with this, and `main` exits quietly as if the output had been read (exit 0), like `run … | head -1`.
 */
export class ReaderGone extends Error {
  constructor() {
    super('the reader of the output went away (EPIPE)');
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = new.target.name;
  }
}

const isEpipe = (error: unknown): boolean => (error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';

/** A line writer on a stream that cannot crash the process (see {@link lineWriter}). */
export interface LineWriter {
  (text: string): void;
  /** The write error other than EPIPE the stream met (a full disk, EIO), if any; its lines are dropped from then on. */
  readonly failure: () => Error | undefined;
}

/**
 * Writes each text plus a newline to `stream` (stdout, stderr), with an `'error'` listener so that a write error is
 * never an unhandled event with a stack trace: once the reader has gone (EPIPE: `optex list | true`, `run … | head -1`)
 * the lines are dropped quietly — the command still finishes what it does, and exits with its own code; any other error
 * is told to `onFailure` once (and {@link LineWriter.failure} keeps it) and the lines are dropped too.
 */
export function lineWriter(stream: Writable, onFailure: (error: Error) => void = () => undefined): LineWriter {
  let gone = false;
  let failure: Error | undefined;
  stream.on('error', (error: Error) => {
    if (gone) return;
    gone = true;
    if (isEpipe(error)) return;
    failure = error;
    onFailure(error);
  });
  const write = (text: string): void => {
    if (gone || stream.destroyed) return;
    stream.write(`${text}\n`);
  };
  return Object.assign(write, { failure: () => failure });
}

/**
 * Resolves once what was written to `stream` before has been handed on (or failed), and a failure's `'error'` event
 * delivered — so that the exit code can say whether the output was written. At once when the stream is closed.
 */
export async function flushed(stream: Writable): Promise<void> {
  if (!stream.destroyed && !stream.writableEnded) await new Promise<void>((resolve) => stream.write('', () => resolve()));
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Waits until `out` takes more (`'drain'`) after a `write` returned false. Throws {@link ReaderGone} when its reader
 * went away (EPIPE) — before or while waiting — and the stream's own error for anything else.
 */
export async function drained(out: Writable): Promise<void> {
  failedOrGone(out);
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      if (error) reject(isEpipe(error) ? new ReaderGone() : error);
      else resolve();
    };
    out.once('drain', done);
    out.once('close', done);
    out.once('error', done);
  });
  failedOrGone(out);
}

/** Throws when `out` can take no more: {@link ReaderGone} after EPIPE, else its error (or that it was closed). */
export function failedOrGone(out: Writable): void {
  const error = out.errored;
  if (error) throw isEpipe(error) ? new ReaderGone() : error;
  if (out.destroyed) throw new Error('the output was closed before the end');
}
