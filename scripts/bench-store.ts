// Benchmark of the SQLite event store: prints figures, asserts nothing.
//
//   npm run -s bench:store -- [--events N] [--streams N] [--json] [--keep]
//
// Appends N events (default 20000) to a fresh temp file in realistic calls: 1–3 events per append,
// spread over 1000 streams, each append with the stream's expected revision (as the command
// handler does). Then reads the whole log with readAll, reads every stream, and replays the log
// through a catch-up subscription; prints events/s for each and the file size.
// The temp directory is removed after the run; kept, its path printed, after a failure or with --keep.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteEventStore } from '@optex/event-store';
import { appendWorkload } from './support/store-workload';
import { inScratchDir } from './support/scratch-dir';

/** A bad command line (exit code 2). */
class UsageError extends Error {}

interface Args {
  readonly events: number;
  readonly streams: number;
  readonly json: boolean;
  readonly keep: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  let events = 20_000;
  let streams = 1000;
  let json = false;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') json = true;
    else if (arg === '--keep') keep = true;
    else if (arg === '--events' || arg === '--streams') {
      const value = Number(argv[++i]);
      if (!Number.isSafeInteger(value) || value < 1) throw new UsageError(`${arg} needs a positive integer, got ${JSON.stringify(argv[i] ?? '')}`);
      if (arg === '--events') events = value;
      else streams = value;
    } else throw new UsageError(`unknown argument ${JSON.stringify(arg)} (expected --events N, --streams N, --json, --keep)`);
  }
  return { events, streams, json, keep };
}

const rate = (count: number, ms: number): number => Math.round((count / ms) * 1000);
const fileSize = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await inScratchDir('bench-store', { keep: args.keep, holds: 'the store', report: (line) => process.stderr.write(`bench-store: ${line}\n`) }, (dir) => measure(args, join(dir, 'events.db')));
}

/** Appends the workload to a new store at `path`, reads it back three ways and prints the figures. */
async function measure(args: Args, path: string): Promise<void> {
  const store = SqliteEventStore.open(path);
  try {
    const { appended, appendCalls, revisions, ms: appendMs } = await appendWorkload(store, { events: args.events, streams: args.streams, recordedBy: 'bench-store' });

    const readAllStart = performance.now();
    let readAllCount = 0;
    let payloadBytes = 0;
    for await (const event of store.readAll()) {
      readAllCount++;
      payloadBytes += JSON.stringify(event.data).length;
    }
    const readAllMs = performance.now() - readAllStart;

    const readStreamStart = performance.now();
    let readStreamCount = 0;
    for (const stream of revisions.keys()) readStreamCount += (await store.readStream(`optimization-${stream}`)).length;
    const readStreamMs = performance.now() - readStreamStart;

    const catchUpStart = performance.now();
    let caughtUp = 0;
    await new Promise<void>((resolve) => {
      const subscription = store.subscribeToAll(async () => {
        if (++caughtUp === readAllCount) void subscription.unsubscribe().then(resolve);
      });
    });
    const catchUpMs = performance.now() - catchUpStart;

    const walBytes = fileSize(`${path}-wal`);
    await store.close();
    const fileBytes = fileSize(path);

    const figures = {
      events: appended,
      streams: revisions.size,
      appendCalls,
      append: { ms: Math.round(appendMs), eventsPerSecond: rate(appended, appendMs), callsPerSecond: rate(appendCalls, appendMs) },
      readAll: { events: readAllCount, ms: Math.round(readAllMs), eventsPerSecond: rate(readAllCount, readAllMs) },
      readStream: { events: readStreamCount, ms: Math.round(readStreamMs), eventsPerSecond: rate(readStreamCount, readStreamMs) },
      subscriptionCatchUp: { events: caughtUp, ms: Math.round(catchUpMs), eventsPerSecond: rate(caughtUp, catchUpMs) },
      averageDataBytes: Math.round(payloadBytes / Math.max(1, readAllCount)),
      walBytesBeforeClose: walBytes,
      fileBytes,
      bytesPerEvent: Math.round(fileBytes / Math.max(1, appended)),
      file: args.keep ? path : undefined,
      node: process.version,
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(figures)}\n`);
    } else {
      const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
      process.stdout.write(
        [
          `SQLite event store, ${appended} events in ${appendCalls} appends over ${revisions.size} streams (${process.version})`,
          `  append       ${figures.append.eventsPerSecond.toLocaleString('en-US')} events/s (${figures.append.callsPerSecond.toLocaleString('en-US')} appends/s, ${figures.append.ms} ms)`,
          `  readAll      ${figures.readAll.eventsPerSecond.toLocaleString('en-US')} events/s (${figures.readAll.ms} ms)`,
          `  readStream   ${figures.readStream.eventsPerSecond.toLocaleString('en-US')} events/s (${revisions.size} streams, ${figures.readStream.ms} ms)`,
          `  catch-up     ${figures.subscriptionCatchUp.eventsPerSecond.toLocaleString('en-US')} events/s (${figures.subscriptionCatchUp.ms} ms)`,
          `  file         ${mib(fileBytes)} (${figures.bytesPerEvent} bytes/event, data ≈ ${figures.averageDataBytes} bytes/event; WAL before close ${mib(walBytes)})`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-store: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
