export { EsdbEventStore } from './esdb-event-store';
export type { EsdbEventStoreOptions } from './esdb-event-store';
export type { ResubscribeBackoff } from './esdb-subscription';
