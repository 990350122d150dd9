export { KafkaBus, type KafkaBusOptions, type KafkaLogLevelName, type GroupLag } from './kafka-bus';
export type { RetryBackoff } from './kafka-consumer';
