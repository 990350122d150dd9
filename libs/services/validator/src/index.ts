export * from './validator.module';
export * from './validator.service';
