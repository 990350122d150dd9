export { InMemoryBus, DLQ_HEADERS, type InMemoryBusOptions } from './in-memory-bus';
export { partitionForKey, murmur2 } from './partitioner';
