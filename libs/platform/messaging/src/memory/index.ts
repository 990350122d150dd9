export { InMemoryBus, type InMemoryBusOptions } from './in-memory-bus';
export { DLQ_HEADERS } from '../dead-letter';
export { partitionForKey, murmur2 } from './partitioner';
