export { KafkaBus, KAFKA_SASL_MECHANISMS, type KafkaBusOptions, type KafkaLogLevelName, type KafkaSasl, type KafkaSaslMechanism, type GroupLag } from './kafka-bus';
export type { RetryBackoff } from './kafka-consumer';
