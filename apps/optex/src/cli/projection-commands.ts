import type { Command, Option } from 'commander';
import { API_READ_MODEL, API_READ_MODEL_FILTER, API_READ_MODEL_VERSION, ApiReadModel } from '@optex/api';
import { checkpointNotOfLog, eventsAfter, type CheckpointHeader } from '@optex/projections';
import { openReadModelCheckpoints } from '@optex/runtime';
import { safe, table, toJson } from './format';
import { openExistingStore, type Io } from './commands';

interface ProjectionFlags {
  readonly store: string;
  readonly readModel?: string;
  readonly json?: boolean;
}

/** What `projections status` reports of one read model. */
interface ReadModelStatus {
  readonly name: string;
  readonly location: string;
  readonly version: number;
  readonly checkpoint: {
    readonly version: number;
    readonly position: string;
    readonly rows: number;
    readonly savedAt: string;
    readonly current: boolean;
    /** Why it is not a checkpoint of this log (the log restored from an older backup, or another log), or null. */
    readonly notOfThisLog: string | null;
  } | null;
  /** Events the log holds (of the streams it reads) after the checkpoint: what the next start folds. */
  readonly lagEvents: number;
}

/** Registers `optex projections status|rebuild`. */
export function registerProjectionCommands(program: Command, io: Io, storeOption: () => Option, jsonOption: () => Option, wrap: <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>): void {
  const projections = program.command('projections').description("the API's read models: checkpoints and rebuilds");
  const readModelOption = '--read-model <location>';
  const readModelHelp = 'checkpoint file (default: next to a sqlite: store, .optex/read-model.db for EventStoreDB) or memory:';
  projections.command('status').description('each read model: its checkpoint (version, position, rows, time) and the events the log holds after it')
    .addOption(storeOption()).option(readModelOption, readModelHelp).addOption(jsonOption())
    .action(wrap((flags: ProjectionFlags) => statusCommand(io, flags)));
  projections.command('rebuild').description('drop the checkpoint and fold the whole log again (stop the API that uses the checkpoint first)')
    .addOption(storeOption()).option(readModelOption, readModelHelp).addOption(jsonOption())
    .action(wrap((flags: ProjectionFlags) => rebuildCommand(io, flags)));
}

async function statusCommand(io: Io, flags: ProjectionFlags): Promise<number> {
  const store = await openExistingStore(flags.store);
  try {
    const checkpoints = openReadModelCheckpoints(flags.store, flags.readModel);
    try {
      const header = await checkpoints.describe(API_READ_MODEL);
      const notOfThisLog = header ? ((await checkpointNotOfLog(store, header)) ?? null) : null;
      // What the next start restores: a checkpoint of this version and of this log; else it folds the whole log.
      const restored = header?.version === API_READ_MODEL_VERSION && notOfThisLog === null ? header : undefined;
      const status: ReadModelStatus = {
        name: API_READ_MODEL,
        location: checkpoints.location,
        version: API_READ_MODEL_VERSION,
        checkpoint: header ? { ...describeCheckpoint(header), notOfThisLog } : null,
        lagEvents: await eventsAfter(store, API_READ_MODEL_FILTER, restored?.position),
      };
      if (flags.json) io.out(toJson([status]));
      else {
        io.out(table(
          ['read model', 'version', 'checkpoint', 'position', 'rows', 'saved at', 'events after it'],
          [[status.name, String(status.version), checkpointState(status), status.checkpoint?.position ?? '-', String(status.checkpoint?.rows ?? 0), status.checkpoint?.savedAt ?? '-', String(status.lagEvents)]],
          new Set([1, 3, 4, 6]),
        ));
        if (status.checkpoint?.notOfThisLog) io.out(`${status.name}: the checkpoint is not of this log: ${safe(status.checkpoint.notOfThisLog)}; the next start drops it and folds the whole log`);
        io.out(`checkpoints: ${safe(status.location)}`);
      }
      return 0;
    } finally {
      await checkpoints.close();
    }
  } finally {
    await store.close();
  }
}

async function rebuildCommand(io: Io, flags: ProjectionFlags): Promise<number> {
  const store = await openExistingStore(flags.store);
  try {
    const checkpoints = openReadModelCheckpoints(flags.store, flags.readModel);
    try {
      const started = Date.now();
      const dropped = await checkpoints.drop(API_READ_MODEL);
      const events = await eventsAfter(store, API_READ_MODEL_FILTER, undefined);
      const model = new ApiReadModel(store, { checkpoints, logger: io.logger });
      const progress = process.stderr.isTTY ? setInterval(() => io.err(`… ${model.projection.size} optimizations folded after ${((Date.now() - started) / 1000).toFixed(0)} s`), 1000) : undefined;
      try {
        await model.start();
        await model.sync(2_147_483_647);
        await model.stop();
      } finally {
        if (progress) clearInterval(progress);
      }
      const header = await checkpoints.describe(API_READ_MODEL);
      const result = {
        name: API_READ_MODEL,
        location: checkpoints.location,
        droppedCheckpoint: dropped,
        events,
        optimizations: model.projection.size,
        rejected: model.rejected,
        duplicates: model.duplicates,
        position: header ? header.position.commit.toString() : null,
        elapsedMs: Date.now() - started,
      };
      if (flags.json) io.out(toJson(result));
      else {
        io.out(
          `rebuilt read model ${result.name} from ${result.events} events: ${result.optimizations} optimizations, ${result.rejected} rejected, ${result.duplicates} duplicate records` +
            ` in ${(result.elapsedMs / 1000).toFixed(1)} s; checkpoint at position ${result.position ?? '-'} in ${safe(result.location)}${dropped ? ' (the previous one was dropped)' : ''}`,
        );
      }
      return 0;
    } finally {
      await checkpoints.close();
    }
  } finally {
    await store.close();
  }
}

function describeCheckpoint(header: CheckpointHeader) {
  return { version: header.version, position: header.position.commit.toString(), rows: header.rows, savedAt: header.savedAt.toISOString(), current: header.version === API_READ_MODEL_VERSION };
}

function checkpointState(status: ReadModelStatus): string {
  if (!status.checkpoint) return 'none (the next start folds the whole log)';
  if (!status.checkpoint.current) return `version ${status.checkpoint.version}: ignored (the next start folds the whole log)`;
  return status.checkpoint.notOfThisLog === null ? 'current' : 'not of this log (see below)';
}
