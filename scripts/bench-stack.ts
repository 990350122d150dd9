// Benchmark of the production topology on this machine: prints figures, asserts nothing.
//
//   npm run -s bench:stack -- [--latency N] [--throughput N] [--max-parallel N] [--partitions N] [--guards] [--json] [--keep]
//
// Its working directory (the services', Kafka's and the emulator's logs, the emulator's data, the policy file) is
// removed after `stack down` when the run succeeds, and kept — its path printed — when it fails or with `--keep`.
// 1. `stack up` (Kafka, ESDB emulator, moto, five service processes): its wall time. The services run with a policy
//    that turns off the EC2 request budget and the blast radius (as bench:engine does): with the default budget every
//    ModifyVolume, dry run or not, waits for optex's share of the mutating bucket (2.5 calls/s after 25), so the
//    throughput phase would measure that bucket (1,000 dry runs in ~390 s) and not optex. `--guards` keeps the
//    default policy; `npm run bench:budget` measures the budget itself.
// 2. Latency, cold: N (default 100) auto-approved modify-volume recommendations on distinct moto
//    volumes, one at a time (the next is published when the previous one is validated), before any other traffic;
//    latency = recordedAt of ValidationPassed − publish time; `between`: median and p95 between each pair of
//    consecutive events (their recordedAt), which says where the latency goes. Printed as `latencyCold`.
// 3. Throughput: M (default 1000) dry-run recommendations over 200 volumes, published at once;
//    throughput = M / (last terminal event − first publish), with `--partitions` (default 8)
//    partitions per topic and `--max-parallel` (default 16) executions at once; `throughputCpu`: the CPU seconds each
//    process (the five services, Kafka, the emulator, moto, this one) used meanwhile, from /proc (Linux). Two passes
//    of M each: the first (`throughputCold`) on the stack as it came up, the second (`throughput`, the figure set
//    against the target) on the stack the first has warmed — in a cold pass Kafka's JIT compiler threads took about
//    half of Kafka's CPU (docs/benchmarks.md, twenty-second part), and the raw relay below runs on a warm broker.
//    Then the latency phase again, on the stack the throughput phase has warmed (Kafka's JIT, V8's in every service):
//    `latency`, the figure set against the target, since a stack that executes recommendations runs for days.
// 4. Baseline: a raw kafkajs relay of the same M messages over five hops on the same broker
//    (topic 0 → 1 → … → 5, one consumer group per hop, each message produced to the next topic with
//    acks=all before its offset is committed: the delivery semantics optex's bus has), and optex's
//    throughput as a share of it. optex's own path is also about five hops (input → risk → approval →
//    scheduler → executor → validator) plus a store append and the relay per event.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { CreateVolumeCommand, EC2Client } from '@aws-sdk/client-ec2';
import { EsdbEventStore } from '@optex/event-store';
import { KafkaBus } from '@optex/messaging';
import { HEADERS, TOPICS, type RecordedEvent } from '@optex/ports';
import { Kafka, logLevel } from 'kafkajs';
import { NO_BLAST_RADIUS, optimizationIdFor, previewIdFor, OPTIMIZATION_STREAM_PREFIX } from '@optex/domain';
import { stackDown, stackUp } from '../apps/optex/src/stack/stack';
import { percentile } from './support/percentile';
import { inScratchDir } from './support/scratch-dir';
import { cpuSecondsOf, cpuShares, transitions, type TimedEvent } from './support/stack-figures';

interface Args {
  partitions: number;
  latency: number;
  throughput: number;
  maxParallel: number;
  guards: boolean;
  json: boolean;
  keep: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { partitions: 8, latency: 100, throughput: 1000, maxParallel: 16, guards: false, json: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') args.json = true;
    else if (a === '--guards') args.guards = true;
    else if (a === '--keep') args.keep = true;
    else if (a === '--latency' || a === '--throughput' || a === '--max-parallel' || a === '--partitions') {
      const n = Number(argv[++i]);
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${a} needs a positive integer`);
      if (a === '--latency') args.latency = n;
      else if (a === '--throughput') args.throughput = n;
      else if (a === '--partitions') args.partitions = n;
      else args.maxParallel = n;
    } else throw new Error(`unknown argument ${a} (expected --latency N, --throughput N, --max-parallel N, --partitions N, --guards, --json, --keep)`);
  }
  return args;
}

const TERMINAL_EVENTS = new Set(['ValidationPassed', 'ValidationFailed', 'PreValidationFailed', 'OptimizationOutOfScope', 'ExecutionFailed', 'RollbackCompleted', 'RollbackFailed', 'ApprovalRequested']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Messages per second through a plain kafkajs relay of `hops` hops (see 4. above). */
async function rawRelay(brokers: string[], count: number, partitions: number, hops = 5): Promise<{ seconds: number; perSecond: number }> {
  const kafka = new Kafka({ clientId: 'bench-raw-relay', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const prefix = `bench-raw-${Date.now()}`;
  const topics = Array.from({ length: hops + 1 }, (_, i) => `${prefix}-${i}`);
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  const consumers = topics.map((_, i) => kafka.consumer({ groupId: `${prefix}-hop-${i}` }));
  let arrived = 0;
  let lastAt = 0;
  try {
    for (const [i, consumer] of consumers.entries()) {
      await consumer.connect();
      await consumer.subscribe({ topic: topics[i]!, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: partitions,
        eachMessage: async ({ message }) => {
          if (i === hops) {
            arrived++;
            lastAt = Date.now();
            return;
          }
          await producer.send({ topic: topics[i + 1]!, acks: -1, messages: [{ key: message.key, value: message.value }] });
        },
      });
    }
    const start = Date.now();
    const messages = Array.from({ length: count }, (_, i) => ({ key: `k-${i % 200}`, value: Buffer.from(`m-${i}`) }));
    for (let i = 0; i < messages.length; i += 200) await producer.send({ topic: topics[0]!, acks: -1, messages: messages.slice(i, i + 200) });
    const deadline = Date.now() + 10 * 60_000;
    while (arrived < count && Date.now() < deadline) await sleep(20);
    if (arrived < count) throw new Error(`raw relay: only ${arrived}/${count} messages arrived in 10 min`);
    const seconds = (lastAt - start) / 1000;
    return { seconds, perSecond: Math.round((count / seconds) * 10) / 10 };
  } finally {
    for (const c of consumers) await c.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (s: string) => (args.json ? undefined : process.stderr.write(`${s}\n`));
  await inScratchDir('bench-stack', { keep: args.keep, holds: "the stack's logs in stack/, the policy file", report: (line) => process.stderr.write(`bench:stack: ${line}\n`) }, (root) => measure(args, root, log));
}

/** Steps 1–4 above, on a stack whose files go under `root`: the stack's directory `stack/` and the services' policy. */
async function measure(args: Args, root: string, log: (line: string) => void): Promise<void> {
  const dir = join(root, 'stack');
  process.env['OPTEX_MAX_PARALLEL'] = String(args.maxParallel);
  process.env['OPTEX_LOG_LEVEL'] = 'warn';
  const t0 = Date.now();
  const policy = join(root, 'policy.json'); // beside the stack's directory, which stack up empties
  writeFileSync(policy, JSON.stringify(args.guards ? {} : { apiBudget: { enabled: false }, blastRadius: NO_BLAST_RADIUS }));
  const stack = await stackUp({ dir, partitions: args.partitions, progress: log, serviceEnv: { OPTEX_POLICY: policy } });
  const stackUpMs = Date.now() - t0;
  log(`stack up in ${stackUpMs} ms`);
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: stack.cloud.replace(/^aws:/, ''), credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const bus = await KafkaBus.connect({ brokers: stack.bus.replace('kafka://', ''), clientId: 'bench', partitions: args.partitions });
  const store = EsdbEventStore.connect(stack.store);
  const terminalAt = new Map<string, { type: string; at: number }>();
  /** Every event of the running latency phase's optimizations, in order: where their time goes. */
  let timelinesOf = new Map<string, TimedEvent[]>();
  const subscription = store.subscribeToAll(
    async (e: RecordedEvent) => {
      const id = e.stream.slice(OPTIMIZATION_STREAM_PREFIX.length);
      timelinesOf.get(id)?.push({ type: e.type, at: e.recordedAt.getTime() });
      if (TERMINAL_EVENTS.has(e.type) || (e.type === 'ExecutionSucceeded' && (e.data as { dryRun: boolean }).dryRun)) {
        terminalAt.set(id, { type: e.type, at: e.recordedAt.getTime() });
      }
    },
    { filter: { kind: 'streamName', prefixes: [OPTIMIZATION_STREAM_PREFIX] } },
  );
  const volumes = async (n: number) => Promise.all(Array.from({ length: n }, async () => (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', VolumeType: 'gp2', Size: 10 }))).VolumeId!));
  const record = (id: string, volumeId: string) =>
    JSON.stringify({
      recommendationId: id,
      source: 'bench',
      accountId: '123456789012',
      region: 'us-east-1',
      resource: { type: 'ec2:volume', id: volumeId },
      action: { type: 'modify-volume', targetVolumeType: 'gp3' },
      estimatedMonthlySavings: 0.2,
      currency: 'USD',
    });
  /** Polls every `everyMs` until each of `ids` has its terminal event, reporting progress every 5 s; fails after 15 minutes. */
  const waitFor = async (ids: readonly string[], label: string, everyMs = 100) => {
    const deadline = Date.now() + 15 * 60_000;
    let lastReport = Date.now();
    for (;;) {
      const done = ids.filter((id) => terminalAt.has(id)).length;
      if (done === ids.length) return;
      if (Date.now() > deadline) throw new Error(`${label}: only ${done}/${ids.length} finished in 15 min`);
      if (Date.now() - lastReport > 5000) {
        lastReport = Date.now();
        log(`${label}: ${done}/${ids.length}`);
      }
      await sleep(everyMs);
    }
  };
  try {
    /** One latency phase: `count` auto-approved recommendations on fresh volumes, one at a time. */
    const latencyPhase = async (label: string, count: number) => {
      const latencyVolumes = await volumes(count);
      const published = new Map<string, number>();
      const timelines = new Map<string, TimedEvent[]>();
      timelinesOf = timelines;
      for (let i = 0; i < count; i++) {
        const recId = `${label}-${i}`;
        const id = optimizationIdFor('bench', recId);
        const at = Date.now();
        published.set(id, at);
        timelines.set(id, [{ type: '(published to optex.recommendations.v1)', at }]);
        await bus.publish([{ topic: TOPICS.recommendations, key: latencyVolumes[i]!, value: Buffer.from(record(recId, latencyVolumes[i]!)), headers: { [HEADERS.deliveryId]: `bench:${label}:${i}` } }]);
        await waitFor([id], label, 5);
      }
      const latencies = [...published].map(([id, at]) => terminalAt.get(id)!.at - at).sort((a, b) => a - b);
      const outcomes = [...published.keys()].map((id) => terminalAt.get(id)!.type);
      return {
        count: latencies.length,
        medianMs: percentile(latencies, 50),
        p95Ms: percentile(latencies, 95),
        maxMs: latencies[latencies.length - 1],
        outcomes: Object.fromEntries([...new Set(outcomes)].map((o) => [o, outcomes.filter((x) => x === o).length])),
        /** Median and p95 between consecutive events (the store's recordedAt): where the latency goes. */
        between: transitions(timelines.values()).map((t) => ({ step: `${t.from} → ${t.to}`, count: t.count, medianMs: t.medianMs, p95Ms: t.p95Ms })),
      };
    };
    // ── latency, cold: the first traffic the stack (its JITs, its connections, its caches) sees ──
    log(`latency (cold): ${args.latency} auto-approved recommendations, one at a time…`);
    const cold = await latencyPhase('latency-cold', args.latency);
    // ── throughput: twice, the first pass on the stack as it came up, the second on the stack the first has warmed ──
    const dryVolumes = await volumes(200);
    const pids = {
      ...Object.fromEntries(Object.entries(stack.services).map(([name, s]) => [name, s.pid])),
      kafka: stack.infrastructure.kafka.pid,
      'esdb-emulator': stack.infrastructure.esdb.pid,
      ...(stack.infrastructure.moto ? { moto: stack.infrastructure.moto.pid } : {}),
      'bench (this process)': process.pid,
    };
    /** One pass: `args.throughput` dry runs published at once; its rate and the CPU each process spent meanwhile. */
    const throughputPass = async (pass: string) => {
      const ids: string[] = [];
      const messages = Array.from({ length: args.throughput }, (_, i) => {
        const recId = `dry-${pass}-${i}`;
        ids.push(previewIdFor('bench', recId)); // a dry run is a preview, with an id of its own
        const volumeId = dryVolumes[i % dryVolumes.length]!;
        return { topic: TOPICS.recommendations, key: volumeId, value: Buffer.from(record(recId, volumeId)), headers: { [HEADERS.deliveryId]: `bench:dry:${pass}:${i}`, [HEADERS.dryRun]: 'true' } };
      });
      const cpuBefore = cpuSecondsOf(pids);
      const start = Date.now();
      for (let i = 0; i < messages.length; i += 200) await bus.publish(messages.slice(i, i + 200));
      await waitFor(ids, `throughput (${pass})`);
      const end = Math.max(...ids.map((id) => terminalAt.get(id)!.at));
      const cpu = cpuShares(cpuBefore, cpuSecondsOf(pids), (Date.now() - start) / 1000, cpus().length);
      const perSecond = args.throughput / ((end - start) / 1000);
      return { perSecond, figures: { recommendations: args.throughput, seconds: (end - start) / 1000, perSecond: Math.round(perSecond * 10) / 10, maxParallel: args.maxParallel, partitions: args.partitions }, cpu };
    };
    log(`throughput (cold): ${args.throughput} dry runs at once…`);
    const coldPass = await throughputPass('cold');
    log(`throughput (warm): ${args.throughput} more…`);
    const warmPass = await throughputPass('warm');
    // ── latency, warm: the same again after the throughput phase, as a stack that has been running answers ──
    log(`latency (warm, after ${2 * args.throughput} dry runs): ${args.latency} auto-approved recommendations, one at a time…`);
    const warm = await latencyPhase('latency', args.latency);
    log('raw kafkajs relay over five hops…');
    const raw = await rawRelay(stack.bus.replace('kafka://', '').split(','), args.throughput, args.partitions);
    const shareOfRaw = (perSecond: number) => Math.round((perSecond / raw.perSecond) * 1000) / 10;
    const result = {
      stackUpMs,
      guards: args.guards ? 'default policy (EC2 request budget and blast radius on)' : 'off (apiBudget.enabled false, no blast radius)',
      /** After the throughput phase: the latency of a stack that has been running (the target's figure). */
      latency: warm,
      /** Before any other traffic: JITs cold (Kafka's, V8's in every service), first connections and caches. */
      latencyCold: cold,
      /** The second pass, on a stack the first has warmed (the target's figure, as for latency; the raw relay also runs on a warm broker). */
      throughput: warmPass.figures,
      /** The first pass: Kafka's JIT compilers (and V8's in every service) still at work beside optex. */
      throughputCold: coldPass.figures,
      /** CPU each process used while a throughput pass ran (Linux /proc; empty elsewhere), of all cores × its wall time. */
      throughputCpu: { cores: cpus().length, processes: warmPass.cpu },
      throughputCpuCold: { cores: cpus().length, processes: coldPass.cpu },
      rawRelay: { messages: args.throughput, hops: 5, seconds: raw.seconds, perSecond: raw.perSecond },
      ratios: { optexVsRawRelayPct: shareOfRaw(warmPass.perSecond), coldOptexVsRawRelayPct: shareOfRaw(coldPass.perSecond) },
      targets: { dryRunsPerSecond: 100, shareOfRawRelayPct: 20, medianAutoApprovedLatencyMs: 150 },
    };
    process.stdout.write(args.json ? `${JSON.stringify(result)}\n` : `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await subscription.unsubscribe();
    await store.close();
    await bus.close();
    ec2.destroy();
    await stackDown(dir, log);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:stack: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
