import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CreateVolumeCommand, DescribeSnapshotsCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { NO_BLAST_RADIUS, TERMINAL_STATUSES, type OptimizationView } from '@optex/domain';
import { TOPICS, isOutage, type Bus, type Delivery } from '@optex/ports';
import { EsdbEventStore } from '@optex/event-store';
import { deadLetterTopicOf, inputRecord, openBus, recommendationMessages, report } from '@optex/runtime';
import { SERVICE_GROUPS } from '@optex/engine';
import { startCountingProxy, startMoto, type CountingProxy, type MotoServer } from '@optex/testing';
import { execFile } from 'node:child_process';
import { repoRoot, seededRandom } from '@optex/testing';
import { STACK_SERVICES, kill, readStackState, serviceEnv, stackDown, stackUp, startServiceProcess, type StackComponent, type StackState } from './stack';

/** What a chaos run does. */
export interface ChaosOptions {
  /**
   * Where the stack lives (it is brought up and down by the run; its processes' logs stay there). The harness's own
   * files — the policy the services run with and the log of the moto it starts — go in `<dir>-chaos` beside it.
   */
  readonly dir: string;
  /** Recommendations submitted (half gp2→gp3 modifications, half deletions of unattached volumes). */
  readonly recommendations: number;
  /** Kills before the run stops killing: the first three are one of each kind (a service, Kafka, the store). */
  readonly kills: number;
  /** Random pause between kills (ms). */
  readonly killEveryMs: readonly [min: number, max: number];
  /** How long Kafka or the store stays down when killed. */
  readonly downMs: number;
  /** Seed of the choices (what to kill, when). */
  readonly seed: number;
  /** Give up waiting for every optimization to be terminal after this long. */
  readonly timeoutMs: number;
  /** Run a second executor in the same consumer group (partition ownership across instances). @defaultValue true */
  readonly twoExecutors?: boolean;
  /** Latency before every EC2 call of the services, so that kills land on executions under way. @defaultValue 200 */
  readonly ec2CallDelayMs?: number;
  readonly partitions?: number;
  readonly progress?: (line: string) => void;
}

export interface ChaosKill {
  readonly atMs: number;
  readonly component: StackComponent | 'executor-2';
  readonly downMs: number;
  /** Optimizations submitted and not terminal at a look just before the kill (the kill hit work under way when > 0; -1: the store was down). */
  readonly pending: number;
}

/** What the run found. `violations` is 0 when every invariant held. */
export interface ChaosReport {
  readonly recommendations: number;
  readonly kills: readonly ChaosKill[];
  readonly killsByKind: { readonly service: number; readonly kafka: number; readonly store: number };
  /** Kills that left a shared component (Kafka, the store) down for a while. */
  readonly outages: number;
  readonly durationMs: number;
  readonly statuses: Readonly<Record<string, number>>;
  /** Recommendations generated for the run without an optimization in the log (rejected or never submitted ones count as lost). */
  readonly lost: readonly string[];
  /** Not terminal at the end, without an explanation. */
  readonly stuck: readonly { readonly recommendationId: string; readonly status: string }[];
  /** Not terminal at the end, with what explains it (an operator must look). */
  readonly explained: readonly { readonly recommendationId: string; readonly status: string; readonly why: string }[];
  /** Mutating EC2 calls made more than once for one resource (through the counting proxy in front of moto). */
  readonly duplicatedCalls: readonly { readonly action: string; readonly resource: string; readonly times: number }[];
  /** Where moto's state disagrees with what the log says was done. */
  readonly cloudMismatches: readonly string[];
  /**
   * Messages in the dead-letter topics of approval, scheduler, executor and validator. Not the risk-assessor's
   * (`optex.recommendations.dlq.v1`): it holds rejected input by design; a valid recommendation dead-lettered there
   * has no optimization and counts as lost.
   */
  readonly deadLettered: readonly string[];
  /** Mutating EC2 calls made, by action. */
  readonly calls: Readonly<Record<string, number>>;
  /** Optimizations each executor started (from their logs), when two ran. */
  readonly executionsByExecutor?: readonly number[];
  /** moto's request log (in `<dir>-chaos`, kept after the run with the stack's logs). */
  readonly motoLog: string;
  readonly violations: number;
}

/**
 * The executor's topic is keyed per account and region (one executor owns an account-region's EC2 budget), so a run in
 * one region would give all its executions to one executor. These three regions' keys (`123456789012/<region>`) fall
 * on partitions 2, 0 and 1 of a three-partition topic under kafkajs's default partitioner, so both executors of the
 * group own work whichever partitions the group gives them.
 */
export const CHAOS_REGIONS = ['us-east-1', 'us-east-2', 'eu-central-1'] as const;
const regionOf = (i: number): string => CHAOS_REGIONS[i % CHAOS_REGIONS.length]!;
const ACCOUNT = '123456789012';
const MUTATING = ['ModifyVolume', 'CreateSnapshot', 'DeleteVolume'] as const;
const EXPLAINED: Readonly<Record<string, string>> = { 'reconciliation-needed': 'an operator must check a step EC2 could not confirm', 'awaiting-approval': 'waits for a person' };

/**
 * The chaos harness of issue 7: brings the stack up (Kafka, the ESDB emulator, moto behind a counting proxy, the five
 * services and a second executor in the same group), submits recommendations, kills stack processes with SIGKILL at
 * random times while they are processed — a service (restarted at once), Kafka or the store (started again after
 * `downMs`) — then waits for every optimization to be terminal and checks the invariants against the log and moto:
 * nothing lost, nothing stuck, no mutating call made twice, moto as the log says, nothing dead-lettered.
 */
export async function runStackChaos(options: ChaosOptions): Promise<ChaosReport> {
  const progress = options.progress ?? (() => undefined);
  const dir = resolve(options.dir);
  const random = seededRandom(options.seed);
  const between = ([min, max]: readonly [number, number]) => min + Math.floor(random() * (max - min + 1));
  const started = Date.now();
  let moto: MotoServer | undefined;
  let proxy: CountingProxy | undefined;
  let secondExecutor: { pid: number; log: string } | undefined;
  let stackStarted = false;
  try {
    // Not in `dir`: `stack up` empties that before it starts, and moto runs before it (the stack's cloud is its proxy).
    const ownDir = `${dir}-chaos`;
    mkdirSync(ownDir, { recursive: true });
    moto = await startMoto({ logDir: ownDir });
    proxy = await startCountingProxy(moto.endpoint);
    const policy = join(ownDir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ version: 'chaos', approval: { autoApprove: { maxLevel: 'CRITICAL', maxMonthlySavings: 1_000_000 } }, blastRadius: NO_BLAST_RADIUS }));
    const partitions = options.partitions ?? 3;
    progress(`stack up in ${dir} (moto behind a counting proxy at ${proxy.endpoint})…`);
    const state = await stackUp({
      dir,
      partitions,
      cloud: `aws:${proxy.endpoint}`,
      progress,
      // Sweeps that a chaos run can see: an optimization with no event for 30 s is resumed.
      serviceEnv: {
        OPTEX_POLICY: policy,
        OPTEX_LOG_LEVEL: 'info',
        OPTEX_SWEEP_EVERY_MS: '5000',
        OPTEX_SWEEP_AFTER_MS: '30000',
        OPTEX_WAIT_TIMEOUT_MS: '20000',
        OPTEX_EC2_CALL_DELAY_MS: String(options.ec2CallDelayMs ?? 200),
      },
    });
    stackStarted = true;
    if (options.twoExecutors ?? true) {
      const log = join(dir, 'executor-2.log');
      secondExecutor = { ...(await startServiceProcess('executor', serviceEnv(state, partitions, state.serviceEnv ?? {}), log)), log };
      progress(`second executor (pid ${secondExecutor.pid}) in the same consumer group`);
    }

    // The cloud: one unattached gp2 volume per recommendation, created in moto directly (not counted).
    const clients = new Map(CHAOS_REGIONS.map((region) => [region, new EC2Client({ region, endpoint: moto!.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } })]));
    const ec2Of = (i: number): EC2Client => clients.get(regionOf(i) as (typeof CHAOS_REGIONS)[number])!;
    const volumes: string[] = [];
    for (let i = 0; i < options.recommendations; i++) volumes.push((await ec2Of(i).send(new CreateVolumeCommand({ AvailabilityZone: `${regionOf(i)}a`, VolumeType: 'gp2', Size: 10 }))).VolumeId!);
    const records = volumes.map((id, i) =>
      JSON.stringify({
        recommendationId: `chaos-${i}`,
        source: 'chaos',
        accountId: ACCOUNT,
        region: regionOf(i),
        resource: { type: 'ec2:volume', id },
        action: i % 2 === 0 ? { type: 'modify-volume', targetVolumeType: 'gp3' } : { type: 'delete-volume' },
        estimatedMonthlySavings: 1,
        currency: 'USD',
      }),
    );
    // Submitted in waves, one before each kill (when the previous ones are done), so every kill lands on work under way.
    const messages = recommendationMessages({ records: records.map(inputRecord), deliveryPrefix: `chaos-${options.seed}`, name: 'chaos' }, false);
    const waveSize = Math.ceil(messages.length / (options.kills + 1));
    let submitted = 0;
    const submitWave = async () => {
      const wave = messages.slice(submitted, submitted + waveSize);
      if (wave.length === 0) return;
      const bus: Bus = await openBus(readStackState(dir)!.bus, 'optex-chaos', partitions);
      try {
        await bus.publish(wave);
      } finally {
        await bus.close();
      }
      submitted += wave.length;
      progress(`${submitted} of ${records.length} recommendations submitted`);
    };
    await submitWave();

    const terminal = new Set<string>(TERMINAL_STATUSES);
    const store = EsdbEventStore.connect(state.store);
    const views = async (): Promise<OptimizationView[] | undefined> => {
      try {
        return (await report(store)).optimizations;
      } catch (error) {
        if (isOutage(error)) return undefined; // the store is down: look again later
        throw error;
      }
    };
    const settled = (v: readonly OptimizationView[]) => v.length === records.length && v.every((o) => terminal.has(o.status) || o.status in EXPLAINED);

    // Kill at random times while the work goes on: first one of each kind, then anything.
    const kills: ChaosKill[] = [];
    let last: OptimizationView[] = [];
    /** Submitted and not terminal yet, by a fresh look at the log (undefined while the store is down). */
    const pending = async (): Promise<number | undefined> => {
      const v = await views();
      if (v) last = v;
      return v ? submitted - v.filter((o) => terminal.has(o.status)).length : undefined;
    };
    const kinds: ('service' | 'kafka' | 'store')[] = shuffle(['service', 'kafka', 'store'], random);
    const chaos = (async () => {
      while (kills.length < options.kills) {
        await sleep(between(options.killEveryMs));
        // Right before the kill, not before the sleep: work done during the sleep would leave the kill nothing to hit.
        // The look that decides on a new wave is the one reported: a second look (a read of the whole log) could find
        // the last of the work done in between, and did once the stack got faster.
        let look = await pending();
        if (look === 0) {
          await submitWave();
          look = await pending();
        }
        const pendingNow = look ?? -1;
        const kind = kills.length < kinds.length ? kinds[kills.length]! : (['service', 'service', 'kafka', 'store'] as const)[Math.floor(random() * 4)]!;
        const atMs = Date.now() - started;
        if (kind === 'service') {
          const targets: (StackComponent | 'executor-2')[] = [...STACK_SERVICES, ...(secondExecutor ? ['executor-2' as const] : [])];
          const target = targets[Math.floor(random() * targets.length)]!;
          progress(`kill -9 ${target} at ${(atMs / 1000).toFixed(1)} s`);
          if (target === 'executor-2') {
            process.kill(secondExecutor!.pid, 'SIGKILL');
            const current = readStackState(dir)!;
            secondExecutor = { ...(await startServiceProcess('executor', serviceEnv(current, partitions, current.serviceEnv ?? {}), secondExecutor!.log)), log: secondExecutor!.log };
          } else await restartWithCli(dir, target, 0);
          kills.push({ atMs, component: target, downMs: 0, pending: pendingNow });
        } else {
          progress(`kill -9 ${kind} at ${(atMs / 1000).toFixed(1)} s, down for ${options.downMs} ms`);
          await restartWithCli(dir, kind, options.downMs);
          kills.push({ atMs, component: kind, downMs: options.downMs, pending: pendingNow });
        }
      }
    })();

    const deadline = started + options.timeoutMs;
    let chaosDone = false;
    void chaos.then(() => (chaosDone = true), () => (chaosDone = true));
    for (;;) {
      const v = await views();
      if (v) last = v;
      if (chaosDone && submitted === records.length && v && settled(v)) break;
      if (chaosDone && submitted < records.length) await submitWave();
      if (Date.now() > deadline) {
        progress('timed out waiting for every optimization to be terminal');
        break;
      }
      await sleep(1000);
    }
    await chaos;
    await store.close();

    // Invariants, against the log and against moto.
    const byRec = new Map(last.map((o) => [o.recommendationId, o]));
    const lost = records.map((_, i) => `chaos-${i}`).filter((id) => !byRec.has(id));
    const stuck = last.filter((o) => !terminal.has(o.status) && !(o.status in EXPLAINED)).map((o) => ({ recommendationId: o.recommendationId, status: o.status }));
    const explained = last.filter((o) => o.status in EXPLAINED).map((o) => ({ recommendationId: o.recommendationId, status: o.status, why: o.error ?? EXPLAINED[o.status]! }));
    const duplicatedCalls: { action: string; resource: string; times: number }[] = [];
    const calls: Record<string, number> = {};
    for (const action of MUTATING) {
      calls[action] = proxy.made(action);
      for (const volumeId of volumes) {
        const times = proxy.made(action, (p) => p['VolumeId'] === volumeId);
        if (times > 1) duplicatedCalls.push({ action, resource: volumeId, times });
      }
    }
    const cloudMismatches: string[] = [];
    for (const [i, volumeId] of volumes.entries()) {
      const o = byRec.get(`chaos-${i}`);
      if (!o) continue;
      const ec2 = ec2Of(i);
      const described = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'volume-id', Values: [volumeId] }] }));
      const volume = described.Volumes?.[0];
      if (o.action === 'modify-volume') {
        if (o.status === 'completed' && volume?.VolumeType !== 'gp3') cloudMismatches.push(`${volumeId}: completed gp3 modification, moto says ${volume?.VolumeType ?? 'gone'}`);
        if (['failed', 'rolled-back'].includes(o.status) && volume?.VolumeType !== 'gp2') cloudMismatches.push(`${volumeId}: ${o.status}, moto says ${volume?.VolumeType ?? 'gone'}`);
      } else {
        const snapshots = (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'volume-id', Values: [volumeId] }] }))).Snapshots ?? [];
        if (o.status === 'completed' && volume) cloudMismatches.push(`${volumeId}: completed deletion, moto still has it`);
        if (o.status === 'completed' && snapshots.length !== 1) cloudMismatches.push(`${volumeId}: completed deletion with ${snapshots.length} backup snapshots`);
        if (o.status !== 'completed' && !volume) cloudMismatches.push(`${volumeId}: ${o.status}, but moto has deleted it`);
      }
    }
    for (const client of clients.values()) client.destroy();
    const deadLettered = await readDeadLetters(readStackState(dir)!, partitions);
    const executionsByExecutor = secondExecutor ? [countStarted(readStackState(dir)!.services.executor.log), countStarted(secondExecutor.log)] : undefined;
    const statuses: Record<string, number> = {};
    for (const o of last) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
    const killsByKind = {
      service: kills.filter((k) => k.component !== 'kafka' && k.component !== 'store').length,
      kafka: kills.filter((k) => k.component === 'kafka').length,
      store: kills.filter((k) => k.component === 'store').length,
    };
    return {
      recommendations: records.length,
      kills,
      killsByKind,
      outages: killsByKind.kafka + killsByKind.store,
      durationMs: Date.now() - started,
      statuses,
      lost,
      stuck,
      explained,
      duplicatedCalls,
      cloudMismatches,
      deadLettered,
      calls,
      ...(executionsByExecutor ? { executionsByExecutor } : {}),
      motoLog: moto.logFile,
      violations: lost.length + stuck.length + duplicatedCalls.length + cloudMismatches.length + deadLettered.length,
    };
  } finally {
    if (secondExecutor) await kill(secondExecutor.pid);
    if (stackStarted) await stackDown(dir, progress).catch((error: unknown) => progress(`stack down failed: ${String(error)}`));
    await proxy?.stop();
    await moto?.stop();
  }
}

/** `stack restart COMPONENT --signal KILL --down MS`, the operator's command (built into dist/), so chaos runs exercise it. */
function restartWithCli(dir: string, component: StackComponent, downMs: number): Promise<{ oldPid: number; pid: number }> {
  const cli = join(repoRoot(), 'dist/apps/optex/src/stack-main.js');
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [cli, 'restart', component, '--dir', dir, '--signal', 'KILL', '--down', String(downMs), '--json'], { timeout: 180_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`stack restart ${component} failed: ${stderr || error.message}`));
      const result = JSON.parse(stdout) as { oldPid: number; pid: number };
      if (result.pid === result.oldPid) return reject(new Error(`stack restart ${component} kept pid ${result.pid}`));
      resolvePromise(result);
    });
  });
}

/** Every message in the dead-letter topics of the services after the risk-assessor (read by a fresh consumer group from the beginning). */
async function readDeadLetters(state: StackState, partitions: number): Promise<string[]> {
  const bus = await openBus(state.bus, 'optex-chaos-dlq', partitions);
  const found: string[] = [];
  try {
    const topics = [...new Set(Object.values(SERVICE_GROUPS).map(deadLetterTopicOf))].filter((t) => t !== TOPICS.recommendationsDlq);
    const consumer = await bus.subscribe({ groupId: `chaos-dlq-${Date.now()}`, topics }, async (d: Delivery) => {
      found.push(`${d.topic}: ${d.headers['x-optex-dlq-reason'] ?? '(no reason)'}`);
      return { kind: 'ack' };
    });
    await sleep(5000); // join the group and read what is there
    await consumer.stop();
  } finally {
    await bus.close();
  }
  return found;
}

function countStarted(log: string): number {
  try {
    return readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('"msg":"execution started"')).length;
  } catch {
    return 0;
  }
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
