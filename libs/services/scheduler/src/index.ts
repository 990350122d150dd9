export * from './scheduler.module';
export * from './scheduler.service';
export * from './scheduler-queue';
