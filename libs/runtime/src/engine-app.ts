import 'reflect-metadata';
import { Module, type DynamicModule, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TOPICS, type Logger, type RecordedEvent } from '@optex/ports';
import { BusServer, LogRelay, PassThroughRpcFilter, executionKeyOfResource } from '@optex/messaging';
import { PeriodicAnchor } from '@optex/event-store';
import { EngineModule, SERVICE_GROUPS, type EngineAdapters, type ServiceName } from '@optex/engine';
import { RiskAssessorModule } from '@optex/risk-assessor';
import { ApprovalModule, ApprovalService } from '@optex/approval';
import { SchedulerModule, SchedulerService } from '@optex/scheduler';
import { ExecutorModule, ExecutorService } from '@optex/executor';
import { ValidatorModule, ValidatorService } from '@optex/validator';

/** Dead-letter topic of a service's consumer group (the risk-assessor's is the contract's DLQ). */
export const deadLetterTopicOf = (group: string): string => (group === SERVICE_GROUPS.riskAssessor ? TOPICS.recommendationsDlq : `${TOPICS.internalEvents}.${group}.dlq`);

export const ALL_SERVICES: readonly ServiceName[] = ['risk-assessor', 'approval', 'scheduler', 'executor', 'validator'];

const MODULES: Record<ServiceName, { module: DynamicModule['module']; group: string }> = {
  'risk-assessor': { module: RiskAssessorModule, group: SERVICE_GROUPS.riskAssessor },
  approval: { module: ApprovalModule, group: SERVICE_GROUPS.approval },
  scheduler: { module: SchedulerModule, group: SERVICE_GROUPS.scheduler },
  executor: { module: ExecutorModule, group: SERVICE_GROUPS.executor },
  validator: { module: ValidatorModule, group: SERVICE_GROUPS.validator },
};

export interface EngineHandle {
  readonly app: INestApplication;
  readonly relay?: LogRelay;
  readonly adapters: EngineAdapters;
  /** The scheduler, when this process runs it (to know whether work waits for a later time). */
  readonly scheduler?: SchedulerService;
  /** The validator, when this process runs it (to know whether a validation waits for its soak). */
  readonly validator?: ValidatorService;
  /** The executor, when this process runs it (to know whether a rollback waits for EC2's volume modification cool-down, or a scheduled start for the policy). */
  readonly executor?: ExecutorService;
  stop(): Promise<void>;
}

export interface EngineAppOptions {
  readonly services: readonly ServiceName[];
  /** Run the log → bus relay in this process. @defaultValue true */
  readonly relay?: boolean;
  /** Extra Nest modules (e.g. the HTTP health/metrics controller of a service process). */
  readonly extraModules?: DynamicModule['module'][];
  /** Poison-message limit per delivery. @defaultValue 5 */
  readonly maxAttempts?: number;
  /** Called with each event the relay published (e.g. to track quiescence). */
  readonly onPublished?: (event: RecordedEvent) => void;
  /** How often the process that runs the relay anchors the log (`optex verify` checks anchors); one last anchor on stop. @defaultValue 60,000 */
  readonly anchorEveryMs?: number;
}

/**
 * Assembles services into one Nest application: the engine module with the chosen adapters, the
 * service modules, one bus transport (consumer group) per service, and the log relay. The
 * all-in-one process runs all five; a service process runs one.
 */
export async function startEngine(adapters: EngineAdapters, options: EngineAppOptions): Promise<EngineHandle> {
  const imports = [EngineModule.forRoot(adapters), ...options.services.map((s) => MODULES[s].module), ...(options.extraModules ?? [])];
  @Module({ imports })
  class OptexAppModule {}

  const app = await NestFactory.create(OptexAppModule, { logger: nestLogger(adapters.logger), abortOnError: false });
  // No framework banner on /health and /metrics (Express sends X-Powered-By unless told not to).
  (app.getHttpAdapter().getInstance() as { disable?: (setting: string) => void }).disable?.('x-powered-by');
  // Before the microservices connect (filters are read when their handlers are registered): the bus transport
  // must see what a handler threw to tell an outage (wait) from a rejection (ack) from a bug (retry, dead letter).
  app.useGlobalFilters(new PassThroughRpcFilter(app.getHttpAdapter()));
  const servers = new Map<ServiceName, BusServer>();
  for (const s of options.services) {
    const { group } = MODULES[s];
    const server = new BusServer(adapters.bus, {
      group,
      maxAttempts: options.maxAttempts ?? 5,
      deadLetterTopic: deadLetterTopicOf(group),
      logger: adapters.logger,
      onOutcome: adapters.metrics.messagesOf(group),
    });
    servers.set(s, server);
    app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
  }
  await app.init();
  await app.startAllMicroservices();
  let relay: LogRelay | undefined;
  let anchors: PeriodicAnchor | undefined;
  if (options.relay ?? true) {
    relay = new LogRelay(adapters.store, adapters.bus, { logger: adapters.logger, ...(options.onPublished ? { onPublished: options.onPublished } : {}) });
    await relay.start();
    const log = adapters.logger.child({ component: 'audit-anchor' });
    anchors = new PeriodicAnchor(adapters.store, {
      ...(options.anchorEveryMs !== undefined ? { everyMs: options.anchorEveryMs } : {}),
      onError: (error) => log.warn({ err: String(error) }, 'could not anchor the log; trying again at the next tick'),
      onAnchor: (anchor) => log.debug({ ...anchor }, 'log anchored'),
    });
    anchors.start();
  }
  const scheduler = options.services.includes('scheduler') ? app.get(SchedulerService) : undefined;
  const validator = options.services.includes('validator') ? app.get(ValidatorService) : undefined;
  const executor = options.services.includes('executor') ? app.get(ExecutorService) : undefined;
  // With several instances of a service, what each one's sweeper (and the executor's kill-switch resume) drives, and the
  // pending approvals each counts, is what its consumer's partitions hold: the executor's topic is keyed per account
  // and region, the others' per resource.
  const executorServer = servers.get('executor');
  if (executor && executorServer) executor.ownResourcesBy((key) => executorServer.owns(TOPICS.executions, executionKeyOfResource(key, adapters.bus)));
  const validatorServer = servers.get('validator');
  if (validator && validatorServer) validator.ownResourcesBy((key) => validatorServer.owns(TOPICS.internalEvents, key));
  const approvalServer = servers.get('approval');
  if (approvalServer) app.get(ApprovalService).ownResourcesBy((key) => approvalServer.owns(TOPICS.internalEvents, key));
  return {
    app,
    relay,
    adapters,
    scheduler,
    validator,
    executor,
    async stop() {
      await relay?.stop();
      await app.close();
      await anchors?.stop();
    },
  };
}

function nestLogger(logger: Logger): LoggerService {
  const nest = logger.child({ component: 'nest' });
  return {
    log: (message: unknown) => nest.debug({}, String(message)),
    error: (message: unknown, trace?: unknown) => nest.error({ trace }, String(message)),
    warn: (message: unknown) => nest.warn({}, String(message)),
    debug: (message: unknown) => nest.debug({}, String(message)),
    verbose: (message: unknown) => nest.debug({}, String(message)),
  };
}
