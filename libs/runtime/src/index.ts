export * from './adapters';
export * from './engine-app';
export * from './service-process';
export * from './health.controller';
export * from './processing';
export * from './delayed-gateway';
export * from './crash-points';
export * from './quiescence';
