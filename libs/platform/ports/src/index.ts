export * from './errors';
export * from './event-store';
export * from './bus';
export * from './cloud';
export * from './clock';
export * from './integration';
export * from './logger';
export * from './tracing';
