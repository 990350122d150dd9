export * from './engine.constants';
export * from './engine-options';
export * from './engine.module';
export * from './command-handler';
export * from './metrics';
export * from './projection';
export * from './resource';
export * from './keyed-mutex';
