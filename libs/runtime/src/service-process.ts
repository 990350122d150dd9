import { Module, type DynamicModule } from '@nestjs/common';
import { createLogger, startTracing } from '@optex/observability';
import { OptexError, type Logger } from '@optex/ports';
import { KafkaBus } from '@optex/messaging';
import type { ServiceName } from '@optex/engine';
import { OptexMetrics, SERVICE_GROUPS } from '@optex/engine';
import { BATCH_MODES, type BatchMode, type IntakeLimits } from '@optex/domain';
import { openAdapters, DEFAULT_FLAGS } from './adapters';
import { startEngine } from './engine-app';
import { intakeLimitsFromEnv } from './input';
import { heapGrowthFromEnv, setHeapGrowth } from './heap-growth';
import { delayedGateway } from './delayed-gateway';
import { HealthController, PROCESS_INFO, type ProcessInfo } from './health.controller';

/**
 * Configuration of a service process, from environment variables (documented in the README):
 * OPTEX_STORE, OPTEX_BUS, OPTEX_CLOUD, OPTEX_POLICY, OPTEX_PARTITIONS, OPTEX_HTTP_HOST,
 * OPTEX_HTTP_PORT, OPTEX_RELAY, OPTEX_BATCH_MODE, OPTEX_MAX_PARALLEL, OPTEX_BATCH_WINDOW_MS, OPTEX_BATCH_QUIET_MS, OPTEX_LOG_LEVEL,
 * OPTEX_MAX_ATTEMPTS, OPTEX_WAIT_TIMEOUT_MS, OPTEX_EC2_CALL_DELAY_MS, OPTEX_KAFKA_SESSION_TIMEOUT_MS,
 * and the intake limits (OPTEX_MAX_RECORD_BYTES, OPTEX_MAX_STRING_LENGTH, OPTEX_MAX_DEPTH, OPTEX_MAX_TAGS),
 * OPTEX_SWEEP_EVERY_MS, OPTEX_SWEEP_AFTER_MS, OPTEX_HEAP_GROWTH_PERCENT.
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
  readonly batchMode: BatchMode;
  readonly maxParallel: number;
  /** The scheduler's batch window and its quiet close (engine defaults when unset). */
  readonly batchWindowMs?: number;
  readonly batchQuietMs?: number;
  readonly maxAttempts: number;
  readonly waitTimeoutMs?: number;
  /** Latency injected before every EC2 call (game days, crash tests). */
  readonly ec2CallDelayMs: number;
  /** Kafka consumer session timeout: how soon a dead consumer's partitions move to another. */
  readonly kafkaSessionTimeoutMs?: number;
  /** Limits on each input record (OPTEX_MAX_RECORD_BYTES, OPTEX_MAX_STRING_LENGTH, OPTEX_MAX_DEPTH, OPTEX_MAX_TAGS). */
  readonly intakeLimits: IntakeLimits;
  /** How often the executor and validator look for optimizations left mid-way (0 = never). */
  readonly sweepEveryMs?: number;
  /** How long such an optimization may go without an event before it is resumed. */
  readonly sweepAfterMs?: number;
  /** How far V8 may grow the heap past what a full collection kept, in percent (`undefined`: V8's own policy). */
  readonly heapGrowthPercent: number | undefined;
}

export function configFromEnv(service: ServiceName, env: NodeJS.ProcessEnv = process.env): ServiceProcessConfig {
  const int = (name: string, fallback: number, min = 0): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const batchMode = (env['OPTEX_BATCH_MODE'] ?? 'parallel') as BatchMode;
  if (!BATCH_MODES.includes(batchMode)) throw new Error(`OPTEX_BATCH_MODE must be one of ${BATCH_MODES.join(', ')}, got ${JSON.stringify(batchMode)}`);
  return {
    store: env['OPTEX_STORE'] ?? DEFAULT_FLAGS.store,
    bus: env['OPTEX_BUS'] ?? 'kafka://127.0.0.1:9092',
    cloud: env['OPTEX_CLOUD'] ?? 'aws',
    ...(env['OPTEX_POLICY'] ? { policy: env['OPTEX_POLICY'] } : {}),
    partitions: int('OPTEX_PARTITIONS', 3, 1),
    httpHost: env['OPTEX_HTTP_HOST'] ?? '127.0.0.1',
    httpPort: int('OPTEX_HTTP_PORT', 8080),
    relay: (env['OPTEX_RELAY'] ?? (service === 'risk-assessor' ? 'true' : 'false')) === 'true',
    batchMode,
    maxParallel: int('OPTEX_MAX_PARALLEL', 4, 1),
    ...(env['OPTEX_BATCH_WINDOW_MS'] ? { batchWindowMs: int('OPTEX_BATCH_WINDOW_MS', 100, 1) } : {}),
    ...(env['OPTEX_BATCH_QUIET_MS'] ? { batchQuietMs: int('OPTEX_BATCH_QUIET_MS', 20) } : {}),
    maxAttempts: int('OPTEX_MAX_ATTEMPTS', 5, 1),
    ...(env['OPTEX_WAIT_TIMEOUT_MS'] ? { waitTimeoutMs: int('OPTEX_WAIT_TIMEOUT_MS', 900_000, 1) } : {}),
    ec2CallDelayMs: int('OPTEX_EC2_CALL_DELAY_MS', 0),
    ...(env['OPTEX_KAFKA_SESSION_TIMEOUT_MS'] ? { kafkaSessionTimeoutMs: int('OPTEX_KAFKA_SESSION_TIMEOUT_MS', 30_000, 6000) } : {}),
    intakeLimits: intakeLimitsFromEnv(env),
    ...(env['OPTEX_SWEEP_EVERY_MS'] ? { sweepEveryMs: int('OPTEX_SWEEP_EVERY_MS', 30_000) } : {}),
    ...(env['OPTEX_SWEEP_AFTER_MS'] ? { sweepAfterMs: int('OPTEX_SWEEP_AFTER_MS', 0) } : {}),
    heapGrowthPercent: heapGrowthFromEnv(env),
  };
}

/** Runs one service as its own process: bus consumer group, optional relay, HTTP /health and /metrics. */
export async function runServiceProcess(service: ServiceName): Promise<void> {
  const logger = createLogger({ service, destination: process.stdout });
  let config: ServiceProcessConfig;
  try {
    config = configFromEnv(service);
  } catch (error) {
    logger.error({ err: (error as Error).message }, 'bad configuration');
    process.exitCode = 2;
    return;
  }
  setHeapGrowth(config.heapGrowthPercent);
  // OTLP/HTTP traces when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; else nothing is registered.
  const stopTracing = startTracing({ serviceName: `optex-${service}` });
  const groupKey = ({ 'risk-assessor': 'riskAssessor', approval: 'approval', scheduler: 'scheduler', executor: 'executor', validator: 'validator' } as const)[service];
  const opened = await untilReady(logger, () => openAdapters({ store: config.store, bus: config.bus, cloud: config.cloud, partitions: config.partitions, ...(config.policy ? { policy: config.policy } : {}) }, logger, {
    ...(config.kafkaSessionTimeoutMs ? { kafkaSessionTimeoutMs: config.kafkaSessionTimeoutMs } : {}),
    clientId: `optex-${service}`,
    batchMode: config.batchMode,
    maxParallel: config.maxParallel,
    ...(config.batchWindowMs !== undefined ? { batchWindowMs: config.batchWindowMs } : {}),
    ...(config.batchQuietMs !== undefined ? { batchQuietMs: config.batchQuietMs } : {}),
    recoverOnStart: false,
    intakeLimits: config.intakeLimits,
    ...(config.waitTimeoutMs ? { waitTimeoutMs: config.waitTimeoutMs } : {}),
    ...(config.sweepEveryMs !== undefined ? { sweepEveryMs: config.sweepEveryMs } : {}),
    ...(config.sweepAfterMs !== undefined ? { sweepAfterMs: config.sweepAfterMs } : {}),
  }));
  const adapters = { ...opened, ec2: delayedGateway(opened.ec2, config.ec2CallDelayMs) };
  const metrics: OptexMetrics = adapters.metrics;
  const info: ProcessInfo = {
    service,
    startedAt: new Date(),
    checks: () => ({ ...(engine.relay ? { relay: engine.relay.lastError ? `publish failing: ${String(engine.relay.lastError)}` : undefined } : {}) }),
  };
  @Module({ controllers: [HealthController], providers: [{ provide: PROCESS_INFO, useValue: info }] })
  class HttpModule {}
  const engine = await untilReady(logger, () =>
    startEngine({ ...adapters, metrics }, { services: [service], relay: config.relay, extraModules: [HttpModule as DynamicModule['module']], maxAttempts: config.maxAttempts }),
  );
  await engine.app.listen(config.httpPort, config.httpHost);
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
  logger.info({ service, port: address?.port, pid: process.pid, store: config.store, bus: config.bus, cloud: config.cloud, relay: config.relay }, 'service ready');
  // One JSON line on stdout that launchers wait for.
  process.stdout.write(`${JSON.stringify({ ready: service, pid: process.pid, port: address?.port })}\n`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight work');
    clearInterval(lagTimer);
    await engine.stop();
    await adapters.close();
    await stopTracing();
    logger.info({}, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
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
