import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AWS_EC2_BUCKETS, SETTINGS_STREAM, withoutByteOrderMark, defaultPolicy, defaultPriceBook, optexFigures, parsePolicy, parseSettingsEvent, settingsOf, settleSettings, type BucketFigures, type Ec2Bucket, type Policy, type SettingInForce, type StoreSettings } from '@optex/domain';
import { TOPICS, silentLogger, systemClock, tracingEnabled, sqliteFileOf, type Bus, type Clock, type CloudIdentity, type Ec2Gateway, type EventStore, type Logger, type MetricsSource } from '@optex/ports';
import { WriterLock, createEventStore } from '@optex/event-store';
import { InMemoryBus, KafkaBus } from '@optex/messaging';
import { AwsEc2Gateway, BudgetedEc2Gateway, CloudWatchMetricsSource, Ec2ApiBudget, SimulatedFleet, StsCloudIdentity, TracedEc2Gateway, stateFileFor } from '@optex/cloud';
import { MemoryReadModelCheckpoints, SqliteReadModelCheckpoints, type ReadModelCheckpoints } from '@optex/projections';
import { CircuitBreakerRecorder, OptexMetrics, appendOnce, type EngineAdapters, type EngineOptions, type OpenedBreaker } from '@optex/engine';
import { crashingGateway, crashingStore, parseCrashPoint, type CrashPoint } from './crash-points';
import { kafkaSecurityFromEnv, type KafkaSecurity } from './kafka-security';

export { StoreInUseError } from '@optex/event-store';

/** A problem with how optex was invoked (exit code 2): a bad flag value, a missing or unreadable file. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export interface AdapterFlags {
  readonly store: string;
  readonly bus: string;
  /** Absent: the one the store remembers ({@link settingsInForce}), else {@link DEFAULT_FLAGS}' `cloud`. */
  readonly cloud?: string;
  /** Absent: the one the store remembers, else the default policy. */
  readonly policy?: string;
  /** Partitions of the topics optex creates on Kafka. @defaultValue 3 */
  readonly partitions?: number;
}

/**
 * What the user calls each adapter setting, for error messages: the CLI's flags ({@link FLAG_NAMES}) or a service
 * process's environment variables (`OPTEX_STORE`, …), so that a bad value is reported under the name it was given by.
 */
export interface SettingNames {
  readonly store: string;
  readonly bus: string;
  readonly cloud: string;
  readonly policy: string;
}

/** The CLI's names of the adapter settings: its flags. */
export const FLAG_NAMES: SettingNames = { store: '--store', bus: '--bus', cloud: '--cloud', policy: '--policy' };

export const DEFAULT_FLAGS = {
  store: 'sqlite:.optex/events.db',
  bus: 'memory',
  cloud: 'simulated:examples/fleet.json',
} as const satisfies AdapterFlags;

/** The `--cloud` and `--policy` a command works with, and where each came from (the flag, the store, the default). */
export interface SettingsInForce {
  readonly cloud: SettingInForce & { readonly value: string };
  readonly policy: SettingInForce;
}

/** A `--cloud` value with its fleet file made absolute (it is remembered for commands run from anywhere). */
const absoluteCloud = (cloud: string): string => (cloud.startsWith('simulated:') && cloud.length > 'simulated:'.length ? `simulated:${resolve(cloud.slice('simulated:'.length))}` : cloud);

/**
 * The `--cloud` and `--policy` in force on `store`: those given, else those the store remembers (stream
 * `optex-settings`), else the defaults. `remember()` records the values given that differ from the remembered ones
 * (`StoreSettingsRecorded`, `by` the command), for later commands on the store; call it once they proved usable. A
 * `memory:` store remembers nothing (it ends with the process).
 */
export async function settingsInForce(
  store: EventStore,
  storeUrl: string,
  flags: Pick<AdapterFlags, 'cloud' | 'policy'>,
  context: { by: string; now: Date },
): Promise<SettingsInForce & { remember(): Promise<void> }> {
  const given = { ...(flags.cloud !== undefined ? { cloud: absoluteCloud(flags.cloud) } : {}), ...(flags.policy !== undefined ? { policyFile: resolve(flags.policy) } : {}) };
  const durable = !/^memory:/i.test(storeUrl.trim());
  const remembered = durable ? await settingsIn(store) : {};
  const settled = settleSettings(remembered, given, { cloud: DEFAULT_FLAGS.cloud }, context);
  const record = durable ? settled.record : undefined;
  return {
    cloud: { ...settled.cloud, value: settled.cloud.value ?? DEFAULT_FLAGS.cloud },
    policy: settled.policy,
    remember: async () => {
      if (record) await appendOnce(store, SETTINGS_STREAM, record, { key: `${record.data.at}:${JSON.stringify(record.data)}`, causationId: context.by, recordedBy: 'optex-cli' });
    },
  };
}

/** Opens the store `url` names; a url that names none is a {@link UsageError} under `name` (the flag or variable it came from). */
export async function openStore(url: string, name = FLAG_NAMES.store): Promise<EventStore> {
  try {
    return await createEventStore(url);
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`${name}: ${error.message}`);
    throw error;
  }
}

/** Where read models keep their checkpoints when `--read-model` is not given, from the store's URL. */
export function defaultReadModelLocation(storeUrl: string): string {
  if (/^(sqlite::memory:|memory:)$/i.test(storeUrl)) return 'memory:';
  const path = sqliteFileOf(storeUrl);
  return path ? `${path}.read-model.db` : '.optex/read-model.db';
}

/**
 * Opens the read-model checkpoints at `location` (`memory:`, `sqlite:PATH` or a path; default: next to a `sqlite:`
 * store, `.optex/read-model.db` for EventStoreDB, in memory for `memory:`), creating the file's directory.
 */
export function openReadModelCheckpoints(storeUrl: string, location?: string): ReadModelCheckpoints {
  const where = (location ?? defaultReadModelLocation(storeUrl)).trim();
  if (where.length === 0) throw new UsageError('--read-model: empty');
  if (/^memory:$/i.test(where)) return new MemoryReadModelCheckpoints();
  const path = where.replace(/^sqlite:/i, '');
  mkdirSync(dirname(resolve(path)), { recursive: true });
  return SqliteReadModelCheckpoints.open(path);
}

/**
 * The writer lock of a store that lives in a file on this machine (`sqlite:PATH`), taken for `command`; `undefined`
 * for stores that are not a local file (`memory:` is private to the process; on EventStoreDB, concurrent writers are
 * kept apart by Kafka's partition ownership and expected revisions). Throws `StoreInUseError` naming the holder.
 */
export function lockStoreForWriting(storeUrl: string, command: string): WriterLock | undefined {
  const path = sqliteFileOf(storeUrl);
  if (!path) return undefined;
  return WriterLock.acquire(resolve(path), command);
}

/** A bus url: `memory` (this process only) or Kafka's bootstrap brokers. */
export type BusTarget = { readonly kind: 'memory' } | { readonly kind: 'kafka'; readonly brokers: readonly string[] };

/** One broker: `host:port` (`[v6 address]:port`), the port decimal digits. */
const BROKER = /^(?:\[[0-9a-f:.]+\]|[^\s:/,[\]]+):(\d{1,5})$/i;

/**
 * What a bus url names, checked without connecting: `memory`, or `kafka://host:port[,host:port]` with each port from 1
 * to 65535. Anything else is a {@link UsageError} under `name` (the flag or variable it came from).
 */
export function parseBusUrl(url: string, name = FLAG_NAMES.bus): BusTarget {
  if (url === 'memory') return { kind: 'memory' };
  const bad = (): UsageError => new UsageError(`${name}: expected memory or kafka://host:port[,host:port], got ${JSON.stringify(url)}`);
  const match = /^kafka:\/\/(.+)$/.exec(url);
  if (!match) throw bad();
  const brokers = match[1].split(',').filter(Boolean);
  if (brokers.length === 0) throw bad();
  for (const broker of brokers) {
    const port = Number(BROKER.exec(broker)?.[1] ?? Number.NaN);
    if (!(port >= 1 && port <= 65535)) throw bad();
  }
  return { kind: 'kafka', brokers };
}

/**
 * Opens the bus `url` names ({@link parseBusUrl}; a bad url is a {@link UsageError} under `name`). Kafka's bus labels
 * its own log lines (`component`: `kafkajs`, `kafka-bus`, `kafka-consumer`) on `logger`, and connects with the TLS and
 * SASL settings `kafka.security` (a service process reads them once, with the rest of its configuration), else those of
 * `kafka.env` (default `process.env`; {@link kafkaSecurityFromEnv}: a bad one is a {@link UsageError} naming its
 * variable, thrown before connecting). A `memory` bus reads none of them.
 */
export async function openBus(
  url: string,
  clientId: string,
  partitions = 3,
  logger: Logger = silentLogger,
  kafka: { sessionTimeoutMs?: number; env?: NodeJS.ProcessEnv; security?: KafkaSecurity } = {},
  name = FLAG_NAMES.bus,
): Promise<Bus> {
  const target = parseBusUrl(url, name);
  // Every consumer group of a process subscribes before anything is published, so what all of them acknowledged can go.
  if (target.kind === 'memory') return new InMemoryBus({ partitions, releaseConsumed: true });
  const { env = process.env, security = kafkaSecurityFromEnv(env), ...settings } = kafka;
  const bus = await KafkaBus.connect({ brokers: target.brokers, clientId, partitions, logger, ...settings, ...security });
  await bus.ensureTopics(Object.values(TOPICS), partitions);
  return bus;
}

/** What a store remembers (`--cloud`, `--policy` given to an earlier run or resume), for commands that only read it. */
export async function rememberedSettings(storeUrl: string): Promise<StoreSettings> {
  if (/^memory:/i.test(storeUrl.trim())) return {};
  const store = await openStore(storeUrl);
  try {
    return await settingsIn(store);
  } finally {
    await store.close();
  }
}

/** The settings remembered with an open store (its `StoreSettingsRecorded` events, folded). */
export async function settingsIn(store: EventStore): Promise<StoreSettings> {
  return settingsOf((await store.readStream(SETTINGS_STREAM)).map(parseSettingsEvent));
}

/** The cloud adapters a `--cloud` value names, and whose credentials they act with. */
export interface OpenedCloud {
  readonly ec2: Ec2Gateway;
  readonly metricsSource: MetricsSource;
  readonly identity: CloudIdentity;
  /** The account's EC2 request budget (per bucket), which optex takes its share of; `undefined`: unlimited (a simulated fleet that does not throttle). */
  readonly apiLimits: Readonly<Record<Ec2Bucket, BucketFigures>> | undefined;
  close(): Promise<void>;
}

/** What a `--cloud` value names: a simulated fleet (its fleet file), or AWS (an endpoint, or AWS's own). */
export type CloudTarget = { readonly kind: 'simulated'; readonly fleetFile: string } | { readonly kind: 'aws'; readonly endpoint?: string };

/**
 * What a `--cloud` value names, checked without opening anything: `simulated:FLEET.json`, `aws` or `aws:http(s)://…`.
 * Anything else is a {@link UsageError} under `name` (the flag or variable it came from).
 */
export function parseCloudUrl(url: string, name = FLAG_NAMES.cloud): CloudTarget {
  if (url.startsWith('simulated:')) {
    const fleetFile = url.slice('simulated:'.length);
    if (!fleetFile) throw new UsageError(`${name}: simulated: needs a fleet file, e.g. simulated:examples/fleet.json`);
    return { kind: 'simulated', fleetFile };
  }
  if (url === 'aws') return { kind: 'aws' };
  if (url.startsWith('aws:')) {
    const endpoint = url.slice('aws:'.length);
    if (!/^https?:\/\/.+/.test(endpoint)) throw new UsageError(`${name}: aws:ENDPOINT needs an http(s) url, got ${JSON.stringify(endpoint)}`);
    return { kind: 'aws', endpoint };
  }
  throw new UsageError(`${name}: expected simulated:FLEET.json, aws or aws:ENDPOINT, got ${JSON.stringify(url)}`);
}

/**
 * Opens the cloud a `--cloud` value names ({@link parseCloudUrl}; a bad value, or a fleet file that cannot be used, is
 * a {@link UsageError} under `name`). For AWS it first asks STS whose credentials these are
 * (`GetCallerIdentity`; an `InfrastructureError` when it cannot) and builds the EC2 and CloudWatch adapters with that
 * account, so a call for any other account fails `AccountMismatch` before reaching AWS.
 */
export async function openCloud(
  url: string,
  storeUrl: string,
  clock: Clock,
  /** Told when an AWS adapter's circuit breaker opens (the simulated fleet has none). */
  onCircuitOpened?: { readonly ec2?: (opened: OpenedBreaker) => void; readonly cloudwatch?: (opened: OpenedBreaker) => void },
  name = FLAG_NAMES.cloud,
): Promise<OpenedCloud> {
  const target = parseCloudUrl(url, name);
  if (target.kind === 'simulated') {
    try {
      const fleet = await SimulatedFleet.open({ fleetFile: target.fleetFile, statePath: stateFileFor(storeUrl), clock });
      return { ec2: fleet, metricsSource: fleet, identity: fleet, apiLimits: fleet.apiLimits, close: async () => fleet.close() };
    } catch (error) {
      throw new UsageError(`${name}: ${(error as Error).message}`);
    }
  }
  const { endpoint } = target;
  const identity = StsCloudIdentity.create({ ...(endpoint ? { endpoint } : {}) });
  let accountId: string;
  try {
    accountId = await identity.credentialsAccountId();
  } finally {
    identity.destroy();
  }
  const ec2 = AwsEc2Gateway.create({ ...(endpoint ? { endpoint } : {}), accountId, clock, ...(onCircuitOpened?.ec2 ? { onCircuitOpened: onCircuitOpened.ec2 } : {}) });
  const metricsSource = CloudWatchMetricsSource.create({ ...(endpoint ? { endpoint } : {}), accountId, ...(onCircuitOpened?.cloudwatch ? { onCircuitOpened: onCircuitOpened.cloudwatch } : {}) });
  return {
    ec2,
    metricsSource,
    identity: { credentialsAccountId: async () => accountId },
    apiLimits: AWS_EC2_BUCKETS,
    close: async () => {
      ec2.destroy();
      metricsSource.destroy();
    },
  };
}

/**
 * The cloud's gateway spending optex's share of the account's EC2 request budget before every call (the policy's
 * `apiBudget`: the customer's share, figures of raised limits), or the gateway itself when the cloud does not throttle.
 */
export function budgeted(cloud: Pick<OpenedCloud, 'ec2' | 'apiLimits'>, policy: Policy, clock: Clock): Ec2Gateway {
  const base = cloud.apiLimits;
  if (!base || !policy.apiBudget.enabled) return cloud.ec2;
  return new BudgetedEc2Gateway(cloud.ec2, new Ec2ApiBudget({ figures: (bucket) => optexFigures(policy.apiBudget, bucket, base), now: () => clock.now().getTime() }));
}

/**
 * The gateway with a client span around every EC2 call ({@link TracedEc2Gateway}), when tracing is on in this process
 * (`startTracing` ran first); the gateway itself otherwise, so a process without tracing pays nothing per call.
 */
export function traced(ec2: Ec2Gateway): Ec2Gateway {
  return tracingEnabled() ? new TracedEc2Gateway(ec2) : ec2;
}

/**
 * The policy in `file` (the default policy without one). A file that cannot be read or is not a valid policy is a
 * {@link UsageError} under `name` (the flag or variable it came from). `remembered`: the file came from the store's
 * settings, not the command line (the error then says so).
 */
export async function loadPolicy(file: string | undefined, remembered = false, name = FLAG_NAMES.policy): Promise<Policy> {
  if (!file) return defaultPolicy;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const again = remembered ? ' (the policy file remembered with the store: give --policy again)' : '';
    throw new UsageError(`${name}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}${again}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(withoutByteOrderMark(text));
  } catch (error) {
    throw new UsageError(`${name}: ${file} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = parsePolicy(raw);
  // A field error's message starts with its path already (`notifications.webhooks.0.url a webhook URL must be …`).
  if (!parsed.ok) throw new UsageError(`${name}: ${file}: ${parsed.errors.map((e) => (e.message.startsWith(e.path) ? e.message : `${e.path}: ${e.message}`)).join('; ')}`);
  return parsed.value;
}

function crashPointFromEnv(): CrashPoint | undefined {
  try {
    return parseCrashPoint(process.env['OPTEX_CRASH_AT']);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * Opens every adapter the flags name. The caller owns them: `close()` when done. With `OPTEX_CRASH_AT` set (crash
 * tests only) the store and the gateway are wrapped to kill the process at that point (crash-points.ts).
 */
export async function openAdapters(
  flags: AdapterFlags,
  logger: Logger,
  options: Partial<EngineOptions> & {
    clientId?: string;
    clock?: Clock;
    kafkaSessionTimeoutMs?: number;
    /** Kafka's TLS and SASL settings, read already (a service process's); else {@link openBus} reads them from `process.env`. */
    kafkaSecurity?: KafkaSecurity;
    /** Use and record the `--cloud`/`--policy` the store remembers ({@link settingsInForce}), as this command. */
    rememberAs?: string;
    /** What errors call the flags' values (a service process: its variables). @defaultValue {@link FLAG_NAMES} */
    settingNames?: SettingNames;
    /** Add Node's process metrics (memory, CPU, event-loop lag, GC: prom-client's default metrics prefixed `optex_`, e.g. `optex_process_resident_memory_bytes`, `optex_nodejs_eventloop_lag_seconds`) to the registry: a long-running service's. */
    processMetrics?: boolean;
  } = {},
): Promise<EngineAdapters & { settings: SettingsInForce; close(): Promise<void> }> {
  const clock = options.clock ?? systemClock;
  const crashAt = crashPointFromEnv();
  const names = options.settingNames ?? FLAG_NAMES;
  // A bad policy file, bus url or cloud given is refused before anything is opened (or created). The policy given is
  // read once, here, and used as read: a pipe (`--policy /dev/stdin`, `--policy <(…)`) cannot be read a second time.
  const givenPolicy = flags.policy !== undefined ? await loadPolicy(flags.policy, false, names.policy) : undefined;
  parseBusUrl(flags.bus, names.bus);
  if (flags.cloud !== undefined) parseCloudUrl(flags.cloud, names.cloud);
  const store = crashingStore(await openStore(flags.store, names.store), crashAt);
  let bus: Bus | undefined;
  try {
    const inForce = options.rememberAs
      ? await settingsInForce(store, flags.store, flags, { by: options.rememberAs, now: clock.now() })
      : {
          cloud: { value: flags.cloud ?? DEFAULT_FLAGS.cloud, from: flags.cloud !== undefined ? 'flag' : 'default' } as const,
          policy: { value: flags.policy, from: flags.policy !== undefined ? 'flag' : 'default' } as const,
          remember: async () => undefined,
        };
    const policy = givenPolicy !== undefined && inForce.policy.from === 'flag' ? givenPolicy : await loadPolicy(inForce.policy.value, inForce.policy.from === 'store', names.policy);
    // A remembered cloud is checked before the bus connects, too (a fleet file is read by openCloud, after).
    parseCloudUrl(inForce.cloud.value, names.cloud);
    bus = await openBus(
      flags.bus,
      options.clientId ?? 'optex',
      flags.partitions,
      logger,
      { ...(options.kafkaSessionTimeoutMs ? { sessionTimeoutMs: options.kafkaSessionTimeoutMs } : {}), ...(options.kafkaSecurity ? { security: options.kafkaSecurity } : {}) },
      names.bus,
    );
    // A breaker that opens is recorded in the log (CircuitBreakerOpened), which the webhook notifier follows.
    const recorder = new CircuitBreakerRecorder(store, { process: options.clientId ?? 'optex', clock, logger });
    const cloud = await openCloud(inForce.cloud.value, flags.store, clock, { ec2: recorder.listenerFor('ec2'), cloudwatch: recorder.listenerFor('cloudwatch') }, names.cloud);
    await inForce.remember();
    const settings: SettingsInForce = { cloud: inForce.cloud, policy: inForce.policy };
    const openedBus = bus;
    return {
      store,
      bus: openedBus,
      // Spans time the EC2 call itself; the wait for a budget token shows in the handler's span around it.
      ec2: crashingGateway(budgeted({ ...cloud, ec2: traced(cloud.ec2) }, policy, clock), crashAt),
      metricsSource: cloud.metricsSource,
      identity: cloud.identity,
      priceBook: defaultPriceBook,
      policy,
      settings,
      clock,
      logger,
      metrics: new OptexMetrics({ defaultMetrics: options.processMetrics === true }),
      options,
      async close() {
        await openedBus.close();
        await cloud.close();
        await recorder.flush();
        await store.close();
      },
    };
  } catch (error) {
    await bus?.close();
    await store.close();
    throw error;
  }
}
