export * from './risk-assessor.module';
export * from './risk-assessor.service';
