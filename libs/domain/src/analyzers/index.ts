export * from './translation';
export * from './cost-optimization-hub';
export * from './compute-optimizer';
export * from './csv';
export * from './trusted-advisor';
export * from './custodian';
export * from './registry';
