// Benchmark of the embedded engine (what `optex run` does): prints figures and the issue's ratios, asserts nothing.
//
//   npm run -s bench:engine -- [--sizes 1000,10000,100000] [--modes dry,real] [--max-parallel N]
//                              [--store-events N] [--fleet file|sharded] [--heap-mb N] [--cpu-prof DIR] [--json] [--keep]
//
// For each size N and mode, a fresh child process generates N modify-volume recommendations (gp2 → gp3,
// LOW risk, auto-approved) and a simulated fleet of the N matching gp2 volumes in a temp dir, runs the
// engine in-process exactly as `optex run [--dry-run]` does (SQLite store, in-memory bus, simulated
// fleet, the runtime's processUntilQuiescent) and reports wall time, optimizations/s, events/s and its
// own peak RSS (process.resourceUsage().maxRSS) and V8 heap limit, and, sampled every second, the most messages each consumer group
// had not acknowledged yet (the in-memory bus's lag: which service falls behind). `--heap-mb N` runs the engine
// children with `--max-old-space-size=N` (as `NODE_OPTIONS=--max-old-space-size=N optex run …` would): V8 sizes its
// heap limit from the machine's memory and collects lazily below it, so peak RSS on a large machine is mostly headroom.
// Every child sets V8's heap growth as the `optex` entry point does (`limitHeapGrowth`: OPTEX_HEAP_GROWTH_PERCENT,
// default 50 %; `OPTEX_HEAP_GROWTH_PERCENT=v8 npm run bench:engine` measures V8's own policy).
// Another child measures the SQLite store's append rate with bench:store's pattern (1–3 events per append over 1000
// streams, expected revisions). Then the ratios the issue targets: throughput at the largest size / at the smallest (≥ 80 %), engine events/s /
// store append rate (≥ 40 %), dry runs ≥ 1,000 optimizations/s at 10k and 100k, peak RSS ≤ 1 GiB.
// `--fleet sharded` is a diagnostic: every volume gets its own in-memory simulated fleet, so the
// figures show the engine without the simulated fleet's own cost per call (the rows it changed and
// its call-log entry, written to its SQLite file in one transaction); the default `file` is what `optex run` uses.
// `--cpu-prof DIR` profiles each engine run with V8's sampling profiler (as `node --cpu-prof` does, but from the run's
// start to its end only: DIR/engine-<mode>-<N>.cpuprofile, the thread that runs the engine) and prints where that
// CPU went by layer of optex, in µs per optimization (scripts/support/cpu-layers.ts: each sample goes to its nearest
// frame in a layer's files).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { getHeapStatistics } from 'node:v8';
import { join } from 'node:path';
import { SqliteEventStore } from '@optex/event-store';
import { SimulatedFleet } from '@optex/cloud';
import type { InMemoryBus } from '@optex/messaging';
import { silentLogger, type Ec2Gateway, type MetricsSource } from '@optex/ports';
import { heapGrowthFromEnv, intakeLimitsFromEnv, limitHeapGrowth, openAdapters, processUntilQuiescent, readInput } from '@optex/runtime';
import { NO_BLAST_RADIUS } from '@optex/domain';
import { appendWorkload } from './support/store-workload';
import { layerTable, layerTimes, readCpuProfile, type CpuProfile, type LayerTime } from './support/cpu-layers';
import { inScratchDirSync } from './support/scratch-dir';

/** A bad command line (exit code 2). */
class UsageError extends Error {}

type Mode = 'dry' | 'real';
type FleetKind = 'file' | 'sharded';

interface Args {
  readonly sizes: readonly number[];
  readonly modes: readonly Mode[];
  readonly maxParallel: number;
  readonly storeEvents: number;
  readonly fleet: FleetKind;
  readonly heapMb?: number;
  readonly cpuProf?: string;
  readonly json: boolean;
  readonly keep: boolean;
}

function positive(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer, got ${JSON.stringify(value ?? '')}`);
  return n;
}

function parseArgs(argv: readonly string[]): Args {
  let sizes: number[] = [1000, 10_000, 100_000];
  let modes: Mode[] = ['dry', 'real'];
  let maxParallel = 4;
  let storeEvents = 20_000;
  let cpuProf: string | undefined;
  let heapMb: number | undefined;
  let fleet: FleetKind = 'file';
  let json = false;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') json = true;
    else if (arg === '--keep') keep = true;
    else if (arg === '--sizes') sizes = (argv[++i] ?? '').split(',').map((s) => positive('--sizes', s.replace(/_/g, '')));
    else if (arg === '--modes') {
      modes = (argv[++i] ?? '').split(',') as Mode[];
      if (modes.length === 0 || modes.some((m) => m !== 'dry' && m !== 'real')) throw new UsageError('--modes: expected dry, real or dry,real');
    } else if (arg === '--max-parallel') maxParallel = positive(arg, argv[++i]);
    else if (arg === '--store-events') storeEvents = positive(arg, argv[++i]);
    else if (arg === '--heap-mb') heapMb = positive(arg, argv[++i]);
    else if (arg === '--fleet') {
      const kind = argv[++i];
      if (kind !== 'file' && kind !== 'sharded') throw new UsageError(`--fleet: expected file or sharded, got ${JSON.stringify(kind ?? '')}`);
      fleet = kind;
    }
    else if (arg === '--cpu-prof') {
      cpuProf = argv[++i];
      if (!cpuProf) throw new UsageError('--cpu-prof needs a directory');
    } else throw new UsageError(`unknown argument ${JSON.stringify(arg)} (expected --sizes N,N, --modes dry,real, --max-parallel N, --store-events N, --fleet file|sharded, --heap-mb N, --cpu-prof DIR, --json, --keep)`);
  }
  return { sizes, modes, maxParallel, storeEvents, fleet, ...(heapMb ? { heapMb } : {}), ...(cpuProf ? { cpuProf } : {}), json, keep };
}

// ── child: one engine run ──

interface EngineFigures {
  readonly kind: 'engine';
  readonly size: number;
  readonly mode: Mode;
  readonly wallMs: number;
  readonly optimizationsPerSecond: number;
  readonly events: number;
  readonly eventsPerSecond: number;
  readonly peakRssBytes: number;
  /** V8's limit on the heap (`--max-old-space-size` or its default for this machine's memory). */
  readonly heapLimitBytes: number;
  /** Sampled every second (`process.memoryUsage()`): the most V8 heap committed and used, and the most memory outside it (ArrayBuffers, native). */
  readonly peakHeapTotalBytes: number;
  readonly peakHeapUsedBytes: number;
  readonly peakExternalBytes: number;
  readonly byStatus: Record<string, number>;
  /** Per consumer group, the most messages it had not acknowledged yet at one of the samples taken every second. */
  readonly peakLag: Record<string, number>;
  /** With `--cpu-prof`: the run's CPU time by layer (scripts/support/cpu-layers.ts), added by the parent. */
  readonly cpuLayers?: readonly LayerTime[];
}

/**
 * V8's sampling profiler on this thread through the inspector (what `node --cpu-prof` runs for the whole process), so
 * the profile covers the measured run only: not start-up, nor the count of events after it.
 */
async function startProfiler(): Promise<{ stop(): Promise<CpuProfile> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      return profile as unknown as CpuProfile;
    },
  };
}

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const volumeId = (i: number) => `vol-${i.toString(16).padStart(17, '0')}`;

function volumeOf(i: number) {
  return { id: volumeId(i), accountId: ACCOUNT, region: REGION, volumeType: 'gp2', sizeGiB: 100, state: 'in-use', attachedTo: 'i-0a1b2c3d4e5f60001', tags: { env: 'dev' } };
}

/**
 * Diagnostic gateway: one in-memory simulated fleet per volume, created on first use, each call routed
 * by its resource id — the simulated fleet's rules, without its per-call cost growing with the fleet.
 */
function shardedFleet(): Ec2Gateway & MetricsSource {
  const shards = new Map<string, SimulatedFleet>();
  const shardOf = (id: string): SimulatedFleet => {
    let shard = shards.get(id);
    if (!shard) {
      const i = Number.parseInt(id.replace(/^vol-/, ''), 16);
      shard = SimulatedFleet.fromFleet({ instances: [], volumes: Number.isSafeInteger(i) ? [volumeOf(i)] : [], addresses: [], snapshots: [], reservedInstanceOfferings: [], faults: [] });
      shards.set(id, shard);
    }
    return shard;
  };
  return new Proxy({} as Ec2Gateway & MetricsSource, {
    get(_target, method) {
      if (typeof (SimulatedFleet.prototype as unknown as Record<string | symbol, unknown>)[method] !== 'function') return undefined;
      return (...args: unknown[]) => {
        const first = args[0] as { id?: unknown; volumeId?: unknown } | undefined;
        const id = typeof first?.id === 'string' ? first.id : typeof first?.volumeId === 'string' ? first.volumeId : '';
        const shard = shardOf(id) as unknown as Record<string | symbol, (...a: unknown[]) => unknown>;
        return shard[method](...args);
      };
    },
  });
}

/** Writes `size` recommendations and a fleet file holding their volumes (none with `withVolumes` false: the sharded fleet makes its own). */
function writeInputs(dir: string, size: number, withVolumes: boolean): { recommendations: string; fleet: string } {
  const recommendations = join(dir, 'recommendations.ndjson');
  const fleet = join(dir, 'fleet.json');
  const lines: string[] = [];
  const volumes: unknown[] = [];
  for (let i = 0; i < size; i++) {
    const id = volumeId(i);
    lines.push(
      JSON.stringify({
        recommendationId: `bench-${i}`,
        source: 'bench-engine',
        accountId: ACCOUNT,
        region: REGION,
        resource: { type: 'ec2:volume', id, tags: { env: 'dev' }, monthlyCost: 10 },
        action: { type: 'modify-volume', targetVolumeType: 'gp3' },
        estimatedMonthlySavings: 2,
        currency: 'USD',
      }),
    );
    if (withVolumes) volumes.push(volumeOf(i));
  }
  writeFileSync(recommendations, `${lines.join('\n')}\n`);
  writeFileSync(fleet, JSON.stringify({ instances: [], volumes, addresses: [], snapshots: [], reservedInstanceOfferings: [], faults: [] }));
  return { recommendations, fleet };
}

async function childEngine(size: number, mode: Mode, maxParallel: number, fleetKind: FleetKind, dir: string): Promise<EngineFigures> {
  const { fleet, recommendations } = writeInputs(dir, size, fleetKind === 'file');
  const input = await readInput(recommendations, intakeLimitsFromEnv());
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ blastRadius: NO_BLAST_RADIUS }));
  const opened = await openAdapters({ store: `sqlite:${join(dir, 'events.db')}`, bus: 'memory', cloud: `simulated:${fleet}`, policy }, silentLogger, { maxParallel });
  const sharded = fleetKind === 'sharded' ? shardedFleet() : undefined;
  const adapters = sharded ? { ...opened, ec2: sharded, metricsSource: sharded } : opened;
  try {
    const started = performance.now();
    const peakLag: Record<string, number> = {};
    const memory = { heapTotal: 0, heapUsed: 0, external: 0 };
    const bus = adapters.bus as Partial<InMemoryBus>;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      memory.heapTotal = Math.max(memory.heapTotal, m.heapTotal);
      memory.heapUsed = Math.max(memory.heapUsed, m.heapUsed);
      memory.external = Math.max(memory.external, m.external);
      const byGroup = new Map<string, number>();
      for (const l of bus.lag?.() ?? []) byGroup.set(l.group, (byGroup.get(l.group) ?? 0) + l.messages);
      for (const [group, messages] of byGroup) peakLag[group] = Math.max(peakLag[group] ?? 0, messages);
    }, 1000);
    const profilePath = process.env['OPTEX_BENCH_CPU_PROFILE'];
    const profiler = profilePath ? await startProfiler() : undefined;
    const result = await processUntilQuiescent(adapters, { input, dryRun: mode === 'dry', progress: (line) => process.stderr.write(`  [${size} ${mode}] ${line}\n`) }).finally(() => clearInterval(sampler));
    const wallMs = performance.now() - started;
    if (profiler && profilePath) writeFileSync(profilePath, JSON.stringify(await profiler.stop()));
    let events = 0;
    for await (const e of adapters.store.readAll()) if (!e.stream.startsWith('relay-checkpoint-')) events++;
    return {
      kind: 'engine',
      size,
      mode,
      wallMs: Math.round(wallMs),
      optimizationsPerSecond: Math.round((size / wallMs) * 1000),
      events,
      eventsPerSecond: Math.round((events / wallMs) * 1000),
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      heapLimitBytes: getHeapStatistics().heap_size_limit,
      peakHeapTotalBytes: memory.heapTotal,
      peakHeapUsedBytes: memory.heapUsed,
      peakExternalBytes: memory.external,
      byStatus: result.summary.byStatus as Record<string, number>,
      peakLag,
    };
  } finally {
    await adapters.close();
  }
}

// ── child: the store's own append rate (bench:store's pattern) ──

interface StoreFigures {
  readonly kind: 'store';
  readonly events: number;
  readonly appendEventsPerSecond: number;
}

async function childStore(events: number, dir: string): Promise<StoreFigures> {
  const store = SqliteEventStore.open(join(dir, 'append.db'));
  try {
    const { appended, ms } = await appendWorkload(store, { events, streams: 1000, recordedBy: 'bench-engine' });
    return { kind: 'store', events: appended, appendEventsPerSecond: Math.round((appended / ms) * 1000) };
  } finally {
    await store.close();
  }
}

// ── parent ──

function runChild(args: Args, childArgs: string[], label: string): EngineFigures | StoreFigures {
  const profile = args.cpuProf && childArgs[0] === 'engine' ? join(args.cpuProf, `${label}.cpuprofile`) : undefined;
  const nodeArgs = args.heapMb ? [`--max-old-space-size=${args.heapMb}`] : [];
  const keeping = { keep: args.keep, holds: childArgs[0] === 'engine' ? "the run's store, fleet and input" : 'the store', report: (line: string) => process.stderr.write(`  ${label}: ${line}\n`) };
  return inScratchDirSync('bench-engine', keeping, (dir) => {
    const child = spawnSync(process.execPath, [...nodeArgs, __filename, '--child', ...childArgs, dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', args.json ? 'ignore' : 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, OPTEX_LOG_LEVEL: 'silent', ...(profile ? { OPTEX_BENCH_CPU_PROFILE: profile } : {}) },
    });
    if (child.status !== 0) throw new Error(`${label}: child exited with ${child.status ?? child.signal}`);
    const figures = JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as EngineFigures | StoreFigures;
    return profile && figures.kind === 'engine' ? { ...figures, cpuLayers: layerTimes(readCpuProfile(profile)) } : figures;
  });
}

const pct = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 10 : NaN);
const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);
const num = (n: number) => n.toLocaleString('en-US');

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    limitHeapGrowth();
    const figures = argv[1] === 'store' ? await childStore(Number(argv[2]), argv[3]) : await childEngine(Number(argv[2]), argv[3] as Mode, Number(argv[4]), argv[5] as FleetKind, argv[6]);
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    return;
  }
  const args = parseArgs(argv);
  if (args.cpuProf) mkdirSync(args.cpuProf, { recursive: true });
  const heapGrowth = heapGrowthFromEnv();
  const log = (line: string) => (args.json ? undefined : process.stderr.write(`${line}\n`));
  log(
    `bench:engine — embedded default (SQLite store, in-memory bus, ${args.fleet === 'file' ? 'simulated fleet' : 'simulated fleet sharded per volume (diagnostic)'}), modify-volume, max parallel ${args.maxParallel}, ${args.heapMb ? `heap limit ${args.heapMb} MiB` : 'default heap limit'}, heap growth ${heapGrowth === undefined ? "V8's own" : `${heapGrowth} %`} (OPTEX_HEAP_GROWTH_PERCENT), ${process.version}`,
  );
  const store = runChild(args, ['store', String(args.storeEvents)], 'store-append') as StoreFigures;
  log(`  store append (bench:store pattern, ${num(store.events)} events): ${num(store.appendEventsPerSecond)} events/s`);
  const runs: EngineFigures[] = [];
  for (const mode of args.modes) {
    for (const size of args.sizes) {
      log(`  running ${num(size)} ${mode === 'dry' ? 'dry runs' : 'real runs'} …`);
      const r = runChild(args, ['engine', String(size), mode, String(args.maxParallel), args.fleet], `engine-${mode}-${size}`) as EngineFigures;
      runs.push(r);
      log(
        `    ${(r.wallMs / 1000).toFixed(1)} s, ${num(r.optimizationsPerSecond)} optimizations/s, ${num(r.eventsPerSecond)} events/s (${num(r.events)} events), peak RSS ${mib(r.peakRssBytes)} MiB (V8 heap limit ${mib(r.heapLimitBytes)} MiB; sampled each second, at most ${mib(r.peakHeapTotalBytes)} MiB heap committed, ${mib(r.peakHeapUsedBytes)} used, ${mib(r.peakExternalBytes)} outside it) — ${Object.entries(r.byStatus)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}; most messages a group had not acknowledged: ${Object.entries(r.peakLag)
          .map(([group, n]) => `${group.replace(/^optex-/, '')} ${num(n)}`)
          .join(', ')}`,
      );
      if (r.cpuLayers) log([`    CPU of the run's thread by layer (scripts/support/cpu-layers.ts; profile ${args.cpuProf}/engine-${mode}-${size}.cpuprofile):`, ...layerTable(r.cpuLayers, r.size, 'optimization').map((line) => `      ${line}`)].join('\n'));
    }
  }
  const ratios = args.modes.map((mode) => {
    const of = runs.filter((r) => r.mode === mode).sort((x, y) => x.size - y.size);
    const small = of[0];
    const large = of[of.length - 1];
    return {
      mode,
      throughputLargestVsSmallestPct: pct(large.optimizationsPerSecond, small.optimizationsPerSecond),
      engineEventsVsStoreAppendPct: pct(Math.max(...of.map((r) => r.eventsPerSecond)), store.appendEventsPerSecond),
      engineEventsVsStoreAppendAtLargestPct: pct(large.eventsPerSecond, store.appendEventsPerSecond),
      peakRssAtLargestMiB: mib(large.peakRssBytes),
      largest: large.size,
      smallest: small.size,
    };
  });
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ node: process.version, maxParallel: args.maxParallel, fleet: args.fleet, ...(args.heapMb ? { heapMb: args.heapMb } : {}), heapGrowthPercent: heapGrowth ?? null, store, runs, ratios })}\n`);
    return;
  }
  const rows = [
    ['mode', 'N', 'wall s', 'opt/s', 'events', 'events/s', 'peak RSS MiB', 'heap limit MiB'],
    ...runs.map((r) => [r.mode, num(r.size), (r.wallMs / 1000).toFixed(1), num(r.optimizationsPerSecond), num(r.events), num(r.eventsPerSecond), String(mib(r.peakRssBytes)), String(mib(r.heapLimitBytes))]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const out = [''];
  for (const row of rows) out.push(`  ${row.map((c, i) => (i < 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`);
  out.push('', `  store append rate: ${num(store.appendEventsPerSecond)} events/s`);
  for (const r of ratios) {
    const dryTarget = r.mode === 'dry' ? runs.filter((x) => x.mode === 'dry' && x.size >= 10_000).map((x) => `${num(x.size)}: ${num(x.optimizationsPerSecond)}/s ${x.optimizationsPerSecond >= 1000 ? 'ok' : 'BELOW'}`) : [];
    out.push(
      `  ${r.mode}: throughput at ${num(r.largest)} / at ${num(r.smallest)} = ${r.throughputLargestVsSmallestPct} % (target ≥ 80 %); engine events/s / store append = ${r.engineEventsVsStoreAppendPct} % best, ${r.engineEventsVsStoreAppendAtLargestPct} % at ${num(r.largest)} (target ≥ 40 %); peak RSS at ${num(r.largest)} = ${r.peakRssAtLargestMiB} MiB (target ≤ 1024)${dryTarget.length ? `; dry ≥ 1,000/s at ${dryTarget.join(', ')}` : ''}`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-engine: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
