export * from './executor.module';
export * from './executor.service';
export * from './step-runner';
export * from './outage-retry';
