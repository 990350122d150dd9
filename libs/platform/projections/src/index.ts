export * from './checkpoints';
export * from './sqlite-checkpoints';
export * from './checkpointed-projection';
