export * from './cloudevents';
export * from './kafka';
export * from './relay/log-relay';
export * from './relay/lifecycle-codec';
export * from './nest/bus-server';
export { InMemoryBus, type InMemoryBusOptions } from './memory';
export { DLQ_HEADERS } from './dead-letter';
export * from './notify/webhook-notifier';
