export { createEventStore, type CreateEventStoreOptions } from './create-event-store';
export { PartialDuplicateAppendError } from './errors';
export { SqliteEventStore, type SqliteEventStoreOptions } from './sqlite/sqlite-event-store';
export { SCHEMA_V1_SQL } from './sqlite/schema';
export { EsdbEventStore, type EsdbEventStoreOptions, type ResubscribeBackoff } from './esdb';
export { WriterLock, StoreInUseError, makeDirectories, type WriterLockHolder } from './sqlite/writer-lock';
export { canonicalJson } from './chain/canonical-json';
export { CHAIN_KEYS, HashChainedEventStore, eventHash, recordedHash, unchainedMetadata, type HashChainedEventStoreOptions } from './chain/hash-chain';
export {
  ANCHOR_EVENT_TYPE,
  ANCHOR_STREAM,
  PeriodicAnchor,
  RunningDigest,
  coveredByAnchors,
  recordAnchor,
  verifyLog,
  type AuditAnchor,
  type PeriodicAnchorOptions,
  type VerifyFailure,
  type VerifyOptions,
  type VerifyProblem,
  type VerifyReport,
} from './chain/verify';
