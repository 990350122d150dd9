/** Injection tokens: the ports a service needs, chosen by the app that assembles it. */
export const EVENT_STORE = Symbol('EVENT_STORE');
export const BUS = Symbol('BUS');
export const EC2_GATEWAY = Symbol('EC2_GATEWAY');
export const METRICS_SOURCE = Symbol('METRICS_SOURCE');
export const CLOUD_IDENTITY = Symbol('CLOUD_IDENTITY');
export const PRICE_BOOK = Symbol('PRICE_BOOK');
export const POLICY = Symbol('POLICY');
export const CLOCK = Symbol('CLOCK');
export const LOGGER = Symbol('LOGGER');
export const ENGINE_OPTIONS = Symbol('ENGINE_OPTIONS');
export const OPTEX_METRICS = Symbol('OPTEX_METRICS');
/** The {@link SharedReadModel} of the services in one process. */
export const READ_MODEL = Symbol('READ_MODEL');

/** Consumer group names, one per service; also the prefix of each service's bus patterns. */
export const SERVICE_GROUPS = {
  riskAssessor: 'optex-risk-assessor',
  approval: 'optex-approval',
  scheduler: 'optex-scheduler',
  executor: 'optex-executor',
  validator: 'optex-validator',
} as const;
export type ServiceName = 'risk-assessor' | 'approval' | 'scheduler' | 'executor' | 'validator';

/** The `@EventPattern` of a service's handler for a topic: `<group>/<topic>`. The bus transport routes by it. */
export const busPattern = (group: string, topic: string): string => `${group}/${topic}`;
