// Benchmark of the audit surface on a large log: prints figures, asserts nothing.
//
//   npm run -s bench:audit -- [--events 1000000] [--keep] [--json]
//
// Writes a SQLite log of N events through the hash-chained store (optimization streams of ten lifecycle events, the
// first carrying its recommendation, so filters by account/region/resource have something to find), then runs the
// real CLI as child processes — `replay --format ndjson`, `replay --format csv`, a filtered export, `verify` — each
// timed as a whole process with its own peak RSS (read from process.resourceUsage() at exit by a preloaded hook).
// The temp directory is removed after the run; kept, its path printed, after a failure or with --keep.
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createEventStore } from '@optex/event-store';
import type { NewEvent } from '@optex/ports';
import { inScratchDir } from './support/scratch-dir';

/** A bad command line (exit code 2). */
class UsageError extends Error {}

const CLI = resolve(__dirname, '../apps/optex/src/main.js');
const EVENTS_PER_OPTIMIZATION = 10;
const LIFECYCLE = ['RiskAssessed', 'ApprovalGranted', 'ExecutionScheduled', 'ExecutionStarted', 'PreValidationPassed', 'ExecutionStepStarted', 'ExecutionStepCompleted', 'ExecutionSucceeded', 'ValidationPassed'];

interface Args {
  readonly events: number;
  readonly keep: boolean;
  readonly json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  let events = 1_000_000;
  let keep = false;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--keep') keep = true;
    else if (arg === '--json') json = true;
    else if (arg === '--events') {
      events = Number((argv[++i] ?? '').replace(/_/g, ''));
      if (!Number.isSafeInteger(events) || events < EVENTS_PER_OPTIMIZATION) throw new UsageError(`--events needs a whole number ≥ ${EVENTS_PER_OPTIMIZATION}`);
    } else throw new UsageError(`unknown argument ${JSON.stringify(arg)} (expected --events N, --keep, --json)`);
  }
  return { events, keep, json };
}

const uuid = (n: number, kind: number): string => `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function lifecycle(i: number): NewEvent[] {
  const optimizationId = uuid(i, 1);
  const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  const region = ['us-east-1', 'eu-west-1', 'ap-northeast-1'][i % 3];
  const recommendation = {
    recommendationId: `bench-${i}`,
    source: 'bench',
    accountId: String(100000000000 + (i % 7)),
    region,
    resource: { type: 'ec2:volume', id: `vol-${i.toString(16).padStart(17, '0')}` },
    action: { type: 'modify-volume', targetVolumeType: 'gp3' },
    estimatedMonthlySavings: 10,
    currency: 'USD',
  };
  const meta = { schemaVersion: 1, recordedBy: 'bench', correlationId: `bench-${i}` };
  return [
    { id: uuid(i, 2), type: 'OptimizationReceived', data: { optimizationId, at, recommendation, dryRun: false }, metadata: meta },
    ...LIFECYCLE.map((type, k) => ({ id: uuid(i, 3 + k), type, data: { optimizationId, at, step: k }, metadata: meta })),
  ];
}

async function writeLog(path: string, events: number, log: (line: string) => void): Promise<number> {
  const store = await createEventStore(`sqlite:${path}`);
  const started = Date.now();
  try {
    const optimizations = Math.floor(events / EVENTS_PER_OPTIMIZATION);
    for (let i = 0; i < optimizations; i += 200) {
      const wave: Promise<unknown>[] = [];
      for (let k = i; k < Math.min(i + 200, optimizations); k++) wave.push(store.appendToStream(`optimization-${uuid(k, 1)}`, lifecycle(k), 'no_stream'));
      await Promise.all(wave);
      if ((i / 200) % 50 === 0 && i > 0) log(`    … ${(i * EVENTS_PER_OPTIMIZATION).toLocaleString('en-US')} events written`);
    }
    return Date.now() - started;
  } finally {
    await store.close();
  }
}

interface Figures {
  readonly label: string;
  readonly wallMs: number;
  readonly peakRssBytes: number;
  readonly outputBytes: number | null;
  readonly exitCode: number | null;
}

function runCli(label: string, args: readonly string[], dir: string, hook: string, output?: string): Figures {
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, ['--require', hook, CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OPTEX_LOG_LEVEL: 'silent' }, cwd: dir, maxBuffer: 16 * 1024 * 1024 });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const rss = /BENCH_MAX_RSS_KIB (\d+)/.exec(child.stderr ?? '')?.[1];
  if (child.status !== 0 && !(label === 'verify' && child.status === 1)) throw new Error(`${label}: exit ${child.status ?? child.signal}: ${child.stderr}`);
  return { label, wallMs, peakRssBytes: Number(rss ?? 0) * 1024, outputBytes: output ? statSync(output).size : null, exitCode: child.status };
}

const num = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (line: string) => (args.json ? undefined : process.stderr.write(`${line}\n`));
  await inScratchDir('bench-audit', { keep: args.keep, holds: 'the log and the exports', report: (line) => process.stderr.write(`  ${line}\n`) }, async (dir) => {
    const hook = join(dir, 'rss-hook.js');
    writeFileSync(hook, "process.on('exit', () => require('fs').writeSync(2, `\\nBENCH_MAX_RSS_KIB ${process.resourceUsage().maxRSS}\\n`));\n");
    const db = join(dir, 'events.db');
    log(`bench:audit — ${num(args.events)} events in a hash-chained SQLite log, ${process.version}`);
    const writeMs = await writeLog(db, args.events, log);
    const events = Math.floor(args.events / EVENTS_PER_OPTIMIZATION) * EVENTS_PER_OPTIMIZATION;
    log(`  wrote ${num(events)} events in ${(writeMs / 1000).toFixed(1)} s (${num((events / writeMs) * 1000)} events/s through the chain); file ${mib(statSync(db).size)} MiB`);
    const store = `sqlite:${db}`;
    const runs = [
      runCli('export ndjson', ['replay', '--format', 'ndjson', '--store', store, '--output', join(dir, 'all.ndjson')], dir, hook, join(dir, 'all.ndjson')),
      runCli('export csv', ['replay', '--format', 'csv', '--store', store, '--output', join(dir, 'all.csv')], dir, hook, join(dir, 'all.csv')),
      runCli('export filtered', ['replay', '--format', 'ndjson', '--region', 'eu-west-1', '--type', 'ValidationPassed', '--store', store, '--output', join(dir, 'some.ndjson')], dir, hook, join(dir, 'some.ndjson')),
      runCli('verify', ['verify', '--store', store], dir, hook),
    ];
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ node: process.version, events, writeMs, runs })}\n`);
      return;
    }
    const rows = [['command', 'wall s', 'events/s', 'peak RSS MiB', 'output MiB'], ...runs.map((r) => [r.label, (r.wallMs / 1000).toFixed(1), num((events / r.wallMs) * 1000), String(mib(r.peakRssBytes)), r.outputBytes === null ? '—' : String(mib(r.outputBytes))])];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    const out = ['', ...rows.map((row) => `  ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`)];
    const worst = Math.max(...runs.map((r) => r.peakRssBytes));
    out.push('', `  ${num(events)} events read by each command; the largest peak RSS is ${mib(worst)} MiB (${((worst / statSync(db).size) * 100).toFixed(1)} % of the log's file size).`);
    process.stdout.write(`${out.join('\n')}\n`);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-audit: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
