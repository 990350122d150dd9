// The intake fuzzer at full size, and the peak RSS of a 50 MB input: prints figures, exits 1 when a record was
// lost, something crashed or a property failed.
//
//   npm run -s fuzz [-- --records N] [--inputs N] [--seed S] [--rss] [--rss-only] [--json]
//
// --records N   records through the domain's intake (default 100,000; env OPTEX_FUZZ_RECORDS)
// --inputs N    whole inputs (NDJSON / JSON arrays in random chunks) through the splitter, the bus decoding, the
//               risk-assessor and the run report, which checks received = processed + rejected + duplicates
//               (default 5,000; env OPTEX_FUZZ_INPUTS)
// --seed S      replay a seed a failure printed
// --rss         also measure peak RSS (a preload reads process.resourceUsage().maxRSS at exit) of
//               (1) `optex run --dry-run` on a 50 MB NDJSON input whose first record has a 50 MB resource.id, and
//               (2) the intake path alone (stream, split, check and parse every record) on 50 MB of NDJSON
//               holding about 240,000 records, half of them broken
// --rss-only    only the RSS measurements
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { intakeRecord } from '@optex/domain';
import { intakeLimitsFromEnv, readInput } from '@optex/runtime';
import { fuzzInputs, fuzzRecords, type FuzzFigures } from '../apps/optex/src/fuzz/intake-fuzz';

const ROOT = resolve(__dirname, '..', '..');
const CLI = join(ROOT, 'dist/apps/optex/src/main.js');
const PRELOAD = join(ROOT, 'scripts/support/report-peak-rss.cjs');
const MiB = 2 ** 20;

interface Args {
  records: number;
  inputs: number;
  seed?: number;
  rss: boolean;
  fuzz: boolean;
  json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const count = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} needs a whole number, got ${JSON.stringify(value ?? '')}`);
    return n;
  };
  const args: Args = {
    records: count('OPTEX_FUZZ_RECORDS', process.env['OPTEX_FUZZ_RECORDS'] ?? '100000'),
    inputs: count('OPTEX_FUZZ_INPUTS', process.env['OPTEX_FUZZ_INPUTS'] ?? '5000'),
    rss: false,
    fuzz: true,
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--records') args.records = count(arg, argv[++i]);
    else if (arg === '--inputs') args.inputs = count(arg, argv[++i]);
    else if (arg === '--seed') args.seed = count(arg, argv[++i]);
    else if (arg === '--rss') args.rss = true;
    else if (arg === '--rss-only') {
      args.rss = true;
      args.fuzz = false;
    } else if (arg === '--json') args.json = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  return args;
}

const line = (label: string, value: string | number) => process.stdout.write(`  ${label.padEnd(34)} ${typeof value === 'number' ? value.toLocaleString('en-US') : value}\n`);

function printFigures(title: string, f: FuzzFigures, seconds: number): void {
  process.stdout.write(`${title} (seed ${f.seed}, ${seconds.toFixed(1)} s)\n`);
  line('cases tried', f.cases);
  line('records through the intake', f.records);
  line('accepted', f.accepted);
  line('rejected with a reason', f.rejectedWithReason);
  if (f.duplicates) line('duplicates', f.duplicates);
  if (f.unreadableInputs) line('inputs unreadable as a whole', f.unreadableInputs);
  line('lost', f.lost);
  line('crashes', f.crashes);
  if (f.failure) line('FAILED', f.failure);
}

/** Writes `megabytes` MB of NDJSON: one record whose resource.id is that large, then one valid record. */
async function writeHugeId(file: string, megabytes: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('{"recommendationId":"rss-huge","source":"fuzz","accountId":"123456789012","region":"us-east-1","resource":{"type":"ec2:volume","id":"vol-');
  const block = '0'.repeat(MiB);
  for (let i = 0; i < megabytes; i++) if (!out.write(block)) await once(out, 'drain');
  out.write('"},"action":{"type":"modify-volume","targetVolumeType":"gp3"},"estimatedMonthlySavings":1,"currency":"USD"}\n');
  out.write('{"recommendationId":"rss-ok","source":"fuzz","accountId":"123456789012","region":"us-east-1","resource":{"type":"ec2:volume","id":"vol-0e2e000000000002"},"action":{"type":"modify-volume","targetVolumeType":"gp3"},"estimatedMonthlySavings":1,"currency":"USD"}\n');
  out.end();
  await once(out, 'close');
}

/** Writes about `megabytes` MB of NDJSON records, four in eight broken (one each: bad region, blank source, cut, deep). */
async function writeManyRecords(file: string, megabytes: number): Promise<number> {
  const out = createWriteStream(file);
  let bytes = 0;
  let n = 0;
  while (bytes < megabytes * MiB) {
    const rec = { recommendationId: `rss-${n}`, source: 'fuzz', accountId: '123456789012', region: n % 8 === 1 ? 'xx-yy-1' : 'us-east-1', resource: { type: 'ec2:volume', id: `vol-${n}` }, action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 1, currency: 'USD' };
    let text = JSON.stringify(n % 8 === 2 ? { ...rec, source: '  ' } : rec);
    if (n % 8 === 3) text = text.slice(0, 40);
    if (n % 8 === 4) text = `${'['.repeat(100)}${']'.repeat(100)}`;
    if (!out.write(`${text}\n`)) await once(out, 'drain');
    bytes += text.length + 1;
    n++;
  }
  out.end();
  await once(out, 'close');
  return n;
}

/** Child mode: the intake path alone on FILE; prints one JSON line of counts. */
async function intakeChild(file: string): Promise<void> {
  const limits = intakeLimitsFromEnv();
  const input = await readInput(file, limits);
  let accepted = 0;
  let rejected = 0;
  for (const r of input.records) {
    if (intakeRecord(r.bytes, limits, r.size).ok) accepted++;
    else rejected++;
  }
  process.stdout.write(`${JSON.stringify({ records: input.records.length, accepted, rejected })}\n`);
}

function measured(command: readonly string[], rssFile: string): { peakRss: number; seconds: number; stdout: string; status: number | null } {
  const started = Date.now();
  const child = spawnSync(process.execPath, ['--require', PRELOAD, ...command], { cwd: ROOT, env: { ...process.env, OPTEX_PEAK_RSS_FILE: rssFile, OPTEX_LOG_LEVEL: 'error' }, encoding: 'utf8', maxBuffer: 64 * MiB });
  if (child.status !== 0) throw new Error(`${command.join(' ')} exited ${child.status}: ${child.stderr}`);
  return { peakRss: Number(readFileSync(rssFile, 'utf8')), seconds: (Date.now() - started) / 1000, stdout: child.stdout, status: child.status };
}

async function measureRss(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'optex-fuzz-rss-'));
  try {
    const huge = join(dir, 'huge-id.ndjson');
    await writeHugeId(huge, 50);
    const run = measured([CLI, 'run', huge, '--dry-run', '--store', 'memory:', '--cloud', 'simulated:test/fixtures/fleet.json', '--json'], join(dir, 'rss-run'));
    const report = JSON.parse(run.stdout) as { summary: { received: number; rejected: number } };
    process.stdout.write('peak RSS, 50 MB inputs\n');
    line('optex run --dry-run, 50 MB resource.id', `${(run.peakRss / MiB).toFixed(0)} MiB (${run.seconds.toFixed(1)} s; received ${report.summary.received}, rejected ${report.summary.rejected})`);
    const many = join(dir, 'many.ndjson');
    const written = await writeManyRecords(many, 50);
    const intake = measured([__filename, '--intake-child', many], join(dir, 'rss-intake'));
    const counts = JSON.parse(intake.stdout) as { records: number; accepted: number; rejected: number };
    line('intake path, 50 MB of NDJSON', `${(intake.peakRss / MiB).toFixed(0)} MiB (${intake.seconds.toFixed(1)} s; ${counts.records.toLocaleString('en-US')} of ${written.toLocaleString('en-US')} records, ${counts.rejected.toLocaleString('en-US')} rejected)`);
    return { runHugeIdPeakRssBytes: run.peakRss, runHugeId: report.summary, intakePathPeakRssBytes: intake.peakRss, intakePath: counts };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === '--intake-child') {
    await intakeChild(argv[1]!);
    return 0;
  }
  const args = parseArgs(argv);
  const results: Record<string, unknown> = {};
  let ok = true;
  if (args.fuzz) {
    const seed = args.seed === undefined ? {} : { seed: args.seed };
    let started = Date.now();
    const records = fuzzRecords(args.records, seed);
    printFigures(`intake fuzz: ${args.records.toLocaleString('en-US')} records`, records, (Date.now() - started) / 1000);
    started = Date.now();
    const inputs = await fuzzInputs(args.inputs, seed);
    printFigures(`intake fuzz: ${args.inputs.toLocaleString('en-US')} whole inputs through the risk-assessor`, inputs, (Date.now() - started) / 1000);
    ok = [records, inputs].every((f) => f.lost === 0 && f.crashes === 0 && f.failure === undefined);
    Object.assign(results, { records, inputs });
  }
  if (args.rss) Object.assign(results, { rss: await measureRss() });
  if (args.json) process.stdout.write(`${JSON.stringify(results)}\n`);
  return ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`fuzz: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
