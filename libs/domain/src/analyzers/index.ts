export * from './translation';
export * from './cost-optimization-hub';
export * from './registry';
