export { createEventStore, type CreateEventStoreOptions } from './create-event-store';
export { PartialDuplicateAppendError } from './errors';
export { SqliteEventStore, type SqliteEventStoreOptions } from './sqlite/sqlite-event-store';
export { EsdbEventStore, type EsdbEventStoreOptions, type ResubscribeBackoff } from './esdb';
export { WriterLock, StoreInUseError, type WriterLockHolder } from './sqlite/writer-lock';
