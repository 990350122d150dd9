export * from './cloudevents';
export * from './kafka';
export * from './relay/log-relay';
export * from './relay/lifecycle-codec';
export * from './nest/bus-server';
export { InMemoryBus, type InMemoryBusOptions } from './memory';
export * from './notify/webhook-notifier';
