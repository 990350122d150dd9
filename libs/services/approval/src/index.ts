export * from './approval.module';
export * from './approval.service';
export * from './human-decisions';
export * from './execution-control';
export * from './batch-continue';
