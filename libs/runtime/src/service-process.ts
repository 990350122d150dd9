import { createServer, type Server } from 'node:net';
import { Module, type DynamicModule } from '@nestjs/common';
import { createLogger, startTracing } from '@optex/observability';
import { OptexError, withoutCredentials, type Logger } from '@optex/ports';
import { KafkaBus } from '@optex/messaging';
import type { ServiceName } from '@optex/engine';
import { OptexMetrics, SERVICE_GROUPS } from '@optex/engine';
import { BATCH_MODES, type BatchMode, type IntakeLimits } from '@optex/domain';
import { openAdapters, parseBusUrl, parseCloudUrl, DEFAULT_FLAGS, UsageError, type SettingNames } from './adapters';
import { startEngine } from './engine-app';
import { envWholeNumber, intakeLimitsFromEnv } from './input';
import { kafkaSecurityFromEnv, type KafkaSecurity } from './kafka-security';
import { heapGrowthFromEnv, setHeapGrowth } from './heap-growth';
import { delayedGateway } from './delayed-gateway';
import { HealthController, PROCESS_INFO, type ProcessInfo } from './health.controller';

/**
 * Configuration of a service process, from environment variables (documented in the README):
 * OPTEX_STORE, OPTEX_BUS, OPTEX_CLOUD, OPTEX_POLICY, OPTEX_PARTITIONS, OPTEX_HTTP_HOST,
 * OPTEX_HTTP_PORT, OPTEX_RELAY, OPTEX_BATCH_MODE, OPTEX_MAX_PARALLEL, OPTEX_BATCH_WINDOW_MS, OPTEX_BATCH_QUIET_MS, OPTEX_LOG_LEVEL,
 * OPTEX_MAX_ATTEMPTS, OPTEX_WAIT_TIMEOUT_MS, OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS, OPTEX_EC2_CALL_DELAY_MS, OPTEX_KAFKA_SESSION_TIMEOUT_MS,
 * and the intake limits (OPTEX_MAX_RECORD_BYTES, OPTEX_MAX_STRING_LENGTH, OPTEX_MAX_DEPTH, OPTEX_MAX_TAGS),
 * OPTEX_SWEEP_EVERY_MS, OPTEX_SWEEP_AFTER_MS, OPTEX_HEAP_GROWTH_PERCENT, and with a Kafka bus its TLS and SASL settings
 * (OPTEX_KAFKA_TLS, OPTEX_KAFKA_TLS_CA_FILE, OPTEX_KAFKA_SASL_*: {@link kafkaSecurityFromEnv}). Every integer is decimal digits only
 * ({@link envWholeNumber}); OPTEX_RELAY is `true` or `false`; an empty numeric variable, OPTEX_RELAY, OPTEX_LOG_LEVEL
 * or OPTEX_POLICY is an unset one.
 */
export interface ServiceProcessConfig {
  readonly store: string;
  readonly bus: string;
  readonly cloud: string;
  readonly policy?: string;
  readonly partitions: number;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly relay: boolean;
  /** pino's level of the process's log lines (OPTEX_LOG_LEVEL). */
  readonly logLevel: LogLevel;
  readonly batchMode: BatchMode;
  readonly maxParallel: number;
  /** The scheduler's batch window and its quiet close (engine defaults when unset). */
  readonly batchWindowMs?: number;
  readonly batchQuietMs?: number;
  readonly maxAttempts: number;
  readonly waitTimeoutMs?: number;
  /** How long the executor's look-up of a step whose outcome is unknown may keep failing before it gives up (engine default when unset). */
  readonly reconcileLookupTimeoutMs?: number;
  /** Latency injected before every EC2 call (game days, crash tests). */
  readonly ec2CallDelayMs: number;
  /** Kafka consumer session timeout: how soon a dead consumer's partitions move to another. */
  readonly kafkaSessionTimeoutMs?: number;
  /** With a Kafka bus, its TLS and SASL settings (CA and password files read): what the bus connects with. */
  readonly kafkaSecurity?: KafkaSecurity;
  /** Limits on each input record (OPTEX_MAX_RECORD_BYTES, OPTEX_MAX_STRING_LENGTH, OPTEX_MAX_DEPTH, OPTEX_MAX_TAGS). */
  readonly intakeLimits: IntakeLimits;
  /** How often the executor and validator look for optimizations left mid-way (0 = never). */
  readonly sweepEveryMs?: number;
  /** How long such an optimization may go without an event before it is resumed. */
  readonly sweepAfterMs?: number;
  /** How often the executor reads the kill switch for a resume another instance was delivered (0 = never). */
  readonly resumeWatchMs?: number;
  /** How far V8 may grow the heap past what a full collection kept, in percent (`undefined`: V8's own policy). */
  readonly heapGrowthPercent: number | undefined;
}

/** The environment variables a service process takes its adapters' settings from: errors about them name these. */
export const SERVICE_SETTING_VARIABLES: SettingNames = { store: 'OPTEX_STORE', bus: 'OPTEX_BUS', cloud: 'OPTEX_CLOUD', policy: 'OPTEX_POLICY' };

/** pino's levels: what OPTEX_LOG_LEVEL may be. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The boolean the environment variable `name` holds: exactly `true` or `false` (lower case, as `deploy-checks` and the
 * compose files write it); `fallback` when unset or empty; anything else (`1`, `TRUE`, `yes`) a {@link UsageError}
 * naming the variable, never a silent `false`.
 */
export function envBoolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new UsageError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

/**
 * The configuration `env` gives a service process, every variable checked before anything is opened: a bad value
 * is a {@link UsageError} (RangeError for OPTEX_HEAP_GROWTH_PERCENT) naming its variable. OPTEX_STORE's scheme and
 * OPTEX_POLICY's file are checked when they are opened, which is first, before the bus connects.
 */
export function configFromEnv(service: ServiceName, env: NodeJS.ProcessEnv = process.env): ServiceProcessConfig {
  const int = (name: string, fallback: number, min = 0, max?: number): number => envWholeNumber(env, name, min, max) ?? fallback;
  const batchMode = (env['OPTEX_BATCH_MODE'] ?? 'parallel') as BatchMode;
  if (!BATCH_MODES.includes(batchMode)) throw new UsageError(`OPTEX_BATCH_MODE must be one of ${BATCH_MODES.join(', ')}, got ${JSON.stringify(batchMode)}`);
  const logLevel = (env['OPTEX_LOG_LEVEL'] || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`OPTEX_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const bus = env['OPTEX_BUS'] ?? 'kafka://127.0.0.1:9092';
  // Read here, before anything is opened; the bus connects with what was read.
  const kafkaSecurity = parseBusUrl(bus, SERVICE_SETTING_VARIABLES.bus).kind === 'kafka' ? kafkaSecurityFromEnv(env) : undefined;
  const cloud = env['OPTEX_CLOUD'] ?? 'aws';
  parseCloudUrl(cloud, SERVICE_SETTING_VARIABLES.cloud);
  return {
    store: env['OPTEX_STORE'] ?? DEFAULT_FLAGS.store,
    bus,
    cloud,
    ...(env['OPTEX_POLICY'] ? { policy: env['OPTEX_POLICY'] } : {}),
    partitions: int('OPTEX_PARTITIONS', 3, 1),
    httpHost: env['OPTEX_HTTP_HOST'] ?? '127.0.0.1',
    // 0: a port the system picks (the ready line says which), as `stack up` starts its services.
    httpPort: int('OPTEX_HTTP_PORT', 8080, 0, 65535),
    relay: envBoolean(env, 'OPTEX_RELAY', service === 'risk-assessor'),
    logLevel,
    batchMode,
    maxParallel: int('OPTEX_MAX_PARALLEL', 4, 1),
    ...(env['OPTEX_BATCH_WINDOW_MS'] ? { batchWindowMs: int('OPTEX_BATCH_WINDOW_MS', 100, 1) } : {}),
    ...(env['OPTEX_BATCH_QUIET_MS'] ? { batchQuietMs: int('OPTEX_BATCH_QUIET_MS', 20) } : {}),
    maxAttempts: int('OPTEX_MAX_ATTEMPTS', 5, 1),
    ...(env['OPTEX_WAIT_TIMEOUT_MS'] ? { waitTimeoutMs: int('OPTEX_WAIT_TIMEOUT_MS', 900_000, 1) } : {}),
    ...(env['OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS'] ? { reconcileLookupTimeoutMs: int('OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS', 900_000, 1) } : {}),
    ec2CallDelayMs: int('OPTEX_EC2_CALL_DELAY_MS', 0),
    ...(env['OPTEX_KAFKA_SESSION_TIMEOUT_MS'] ? { kafkaSessionTimeoutMs: int('OPTEX_KAFKA_SESSION_TIMEOUT_MS', 30_000, 6000) } : {}),
    ...(kafkaSecurity ? { kafkaSecurity } : {}),
    intakeLimits: intakeLimitsFromEnv(env),
    ...(env['OPTEX_SWEEP_EVERY_MS'] ? { sweepEveryMs: int('OPTEX_SWEEP_EVERY_MS', 30_000) } : {}),
    ...(env['OPTEX_SWEEP_AFTER_MS'] ? { sweepAfterMs: int('OPTEX_SWEEP_AFTER_MS', 0) } : {}),
    ...(env['OPTEX_RESUME_WATCH_MS'] ? { resumeWatchMs: int('OPTEX_RESUME_WATCH_MS', 5_000) } : {}),
    heapGrowthPercent: heapGrowthFromEnv(env),
  };
}

/** Where a service process reads its configuration and writes its log lines (tests give their own). */
export interface ServiceProcessIo {
  /** @defaultValue `process.env` */
  readonly env?: NodeJS.ProcessEnv;
  /** Where the JSON log lines and the ready line go. @defaultValue `process.stdout` */
  readonly stdout?: NodeJS.WritableStream;
}

/** A service process that started: the port of its HTTP server, and how to stop it without exiting the process. */
export interface RunningServiceProcess {
  readonly port: number;
  /** Finishes in-flight work and closes everything (what SIGTERM and SIGINT do before they exit 0). */
  stop(): Promise<void>;
}

/**
 * Runs one service as its own process: bus consumer group, optional relay, HTTP /health and /metrics. A bad
 * configuration — a variable's value ({@link configFromEnv}; the store url, the policy file or the fleet file when
 * opened), an HTTP port in use or a host it cannot listen on — is one `bad configuration` log line whose `err` names
 * the variable, and exit code 2 (resolves `undefined`). The HTTP port is held from start-up until the HTTP server
 * takes it, so a port in use is refused before the store, Kafka or the cloud is opened.
 */
export async function runServiceProcess(service: ServiceName, io: ServiceProcessIo = {}): Promise<RunningServiceProcess | undefined> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  let config: ServiceProcessConfig;
  try {
    config = configFromEnv(service, env);
  } catch (error) {
    // OPTEX_LOG_LEVEL may be what is wrong: this line is logged whatever it says.
    badConfiguration(createLogger({ service, level: 'error', destination: stdout }), error);
    return undefined;
  }
  const logger = createLogger({ service, level: config.logLevel, destination: stdout });
  let held: HeldPort;
  try {
    held = await holdPort(config.httpHost, config.httpPort);
  } catch (error) {
    badConfiguration(logger, error);
    return undefined;
  }
  setHeapGrowth(config.heapGrowthPercent);
  // OTLP/HTTP traces when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; else nothing is registered.
  const stopTracing = startTracing({ serviceName: `optex-${service}`, env });
  const groupKey = ({ 'risk-assessor': 'riskAssessor', approval: 'approval', scheduler: 'scheduler', executor: 'executor', validator: 'validator' } as const)[service];
  let opened: Awaited<ReturnType<typeof openAdapters>>;
  try {
    opened = await untilReady(logger, () =>
      openAdapters({ store: config.store, bus: config.bus, cloud: config.cloud, partitions: config.partitions, ...(config.policy ? { policy: config.policy } : {}) }, logger, {
        ...(config.kafkaSessionTimeoutMs ? { kafkaSessionTimeoutMs: config.kafkaSessionTimeoutMs } : {}),
        ...(config.kafkaSecurity ? { kafkaSecurity: config.kafkaSecurity } : {}),
        clientId: `optex-${service}`,
        settingNames: SERVICE_SETTING_VARIABLES,
        processMetrics: true,
        batchMode: config.batchMode,
        maxParallel: config.maxParallel,
        ...(config.batchWindowMs !== undefined ? { batchWindowMs: config.batchWindowMs } : {}),
        ...(config.batchQuietMs !== undefined ? { batchQuietMs: config.batchQuietMs } : {}),
        recoverOnStart: false,
        intakeLimits: config.intakeLimits,
        ...(config.waitTimeoutMs ? { waitTimeoutMs: config.waitTimeoutMs } : {}),
        ...(config.reconcileLookupTimeoutMs !== undefined ? { reconcileLookupTimeoutMs: config.reconcileLookupTimeoutMs } : {}),
        ...(config.sweepEveryMs !== undefined ? { sweepEveryMs: config.sweepEveryMs } : {}),
        ...(config.sweepAfterMs !== undefined ? { sweepAfterMs: config.sweepAfterMs } : {}),
        ...(config.resumeWatchMs !== undefined ? { resumeWatchMs: config.resumeWatchMs } : {}),
      }),
    );
  } catch (error) {
    await held.release();
    await stopTracing();
    if (!(error instanceof UsageError)) throw error;
    badConfiguration(logger, error);
    return undefined;
  }
  const adapters = { ...opened, ec2: delayedGateway(opened.ec2, config.ec2CallDelayMs) };
  const metrics: OptexMetrics = adapters.metrics;
  const info: ProcessInfo = {
    service,
    startedAt: new Date(),
    checks: () => ({ ...(engine.relay ? { relay: engine.relay.lastError ? `publish failing: ${String(engine.relay.lastError)}` : undefined } : {}) }),
  };
  @Module({ controllers: [HealthController], providers: [{ provide: PROCESS_INFO, useValue: info }] })
  class HttpModule {}
  let engine: Awaited<ReturnType<typeof startEngine>>;
  try {
    engine = await untilReady(logger, () =>
      startEngine({ ...adapters, metrics }, { services: [service], relay: config.relay, extraModules: [HttpModule as DynamicModule['module']], maxAttempts: config.maxAttempts }),
    );
  } finally {
    await held.release();
  }
  try {
    await engine.app.listen(config.httpPort, config.httpHost);
  } catch (error) {
    // Taken by another process after start-up had checked it.
    const problem = listenProblem(config.httpHost, config.httpPort, error);
    if (problem === undefined) throw error;
    badConfiguration(logger, problem);
    await engine.stop();
    await adapters.close();
    await stopTracing();
    return undefined;
  }
  const group = SERVICE_GROUPS[groupKey];
  const lagTimer = setInterval(() => {
    if (!(adapters.bus instanceof KafkaBus)) return;
    adapters.bus.lag(group).then(
      (lag) => {
        const byTopic = new Map<string, number>();
        for (const p of lag.partitions) byTopic.set(p.topic, (byTopic.get(p.topic) ?? 0) + p.lag);
        for (const [topic, n] of byTopic) metrics.consumerLag.set({ group, topic }, n);
      },
      (err: unknown) => logger.debug({ err: String(err) }, 'consumer lag unavailable'),
    );
  }, 5000);
  lagTimer.unref();
  const address = engine.app.getHttpServer().address() as { port: number } | null;
  const port = address?.port ?? config.httpPort;
  // `service` is on every line already (the logger's base).
  logger.info({ port, pid: process.pid, store: withoutCredentials(config.store), bus: withoutCredentials(config.bus), cloud: withoutCredentials(config.cloud), relay: config.relay }, 'service ready');
  // One JSON line on stdout that launchers wait for.
  stdout.write(`${JSON.stringify({ ready: service, pid: process.pid, port })}\n`);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      process.off('SIGTERM', onSigterm);
      process.off('SIGINT', onSigint);
      clearInterval(lagTimer);
      await engine.stop();
      await adapters.close();
      await stopTracing();
    })());
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight work');
    await stop();
    logger.info({}, 'stopped');
    process.exit(0);
  };
  const onSigterm = () => void shutdown('SIGTERM');
  const onSigint = () => void shutdown('SIGINT');
  process.on('SIGTERM', onSigterm);
  process.on('SIGINT', onSigint);
  return { port, stop };
}

/** The one line a service process logs when its configuration is bad (`err`: what, naming the variable); exit code 2. */
function badConfiguration(logger: Logger, error: unknown): void {
  logger.error({ err: error instanceof Error ? error.message : String(error) }, 'bad configuration');
  process.exitCode = 2;
}

/**
 * What keeps a service process from listening on HOST:PORT, naming the variable to change; `undefined` when `error`
 * is not about them.
 */
export function listenProblem(host: string, port: number, error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return `OPTEX_HTTP_PORT: port ${port} on ${host} is already in use (EADDRINUSE)`;
  if (code === 'EACCES') return `OPTEX_HTTP_PORT: not allowed to listen on port ${port} on ${host} (EACCES)`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NONAME') return `OPTEX_HTTP_HOST: cannot listen on ${JSON.stringify(host)} (${code})`;
  return undefined;
}

/** The HTTP port, held until the HTTP server takes it. */
interface HeldPort {
  release(): Promise<void>;
}

/**
 * Listens on HOST:PORT (a connection is closed at once) so that a port in use, or a host this machine cannot listen on,
 * is a {@link UsageError} naming the variable before anything else starts. Port 0 (the system's pick) only checks the
 * host: the HTTP server will be given a port of its own.
 */
async function holdPort(host: string, port: number): Promise<HeldPort> {
  const server: Server = createServer((socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw new UsageError(listenProblem(host, port, error) ?? `OPTEX_HTTP_HOST/OPTEX_HTTP_PORT: cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  let released: Promise<void> | undefined;
  const release = (): Promise<void> => (released ??= new Promise<void>((resolve) => server.close(() => resolve())));
  if (port === 0) await release();
  return { release };
}

/**
 * Retries start-up steps while the infrastructure is not ready yet (a broker still electing
 * partition leaders, a store still starting): transient errors only, with backoff, for about a minute.
 */
async function untilReady<T>(logger: Logger, step: () => Promise<T>, attempts = 12): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      const transient = error instanceof OptexError && error.transient;
      if (!transient || attempt >= attempts) throw error;
      const delay = Math.min(8000, 250 * 2 ** (attempt - 1));
      logger.warn({ err: (error as Error).message, attempt, retryInMs: delay }, 'infrastructure not ready; retrying start-up');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
