import { z } from 'zod';
import { DUPLICATES_STREAM, OPTIMIZATION_STATUSES, OPTIMIZATION_STREAM_PREFIX, REJECTED_STREAM, isPreviewRejection, parseStoredEvent, type OptimizationState, type RecommendationDuplicated, type RecommendationRejected } from '@optex/domain';
import type { EventFilter, EventStore, Logger, RecordedEvent } from '@optex/ports';
import { OptimizationProjection } from '@optex/engine';
import { CheckpointedProjection, CheckpointUnreadable, type ProjectionDefinition, type ProjectionStart, type ReadModelCheckpoints } from '@optex/projections';

/** The checkpoint name of the API's read model. */
export const API_READ_MODEL = 'api';
/**
 * Version of the API read model's fold and rows. Bump it when the decider's `evolve`, the projection or the row
 * shapes change: checkpoints of another version are ignored and the read model is rebuilt from the log.
 */
export const API_READ_MODEL_VERSION = 2;
/** The streams the API's read model reads. */
export const API_READ_MODEL_FILTER: EventFilter = { kind: 'streamName', prefixes: [OPTIMIZATION_STREAM_PREFIX, REJECTED_STREAM, DUPLICATES_STREAM] };

const COUNTS_KEY = 'counts';
const OPTIMIZATION_KEY = 'optimization:';

/** A checkpoint row of one optimization. */
interface OptimizationRow {
  readonly revision: string;
  readonly state: OptimizationState;
}

/**
 * What `restore` checks of a row before it believes it: the counts are whole numbers ≥ 0; an optimization row has a
 * revision and a state with its id, a known status, its recommendation, approval, dry-run flag and time of receipt.
 * The parts a status guarantees beyond those are not checked: the rows are the fold's own output at the same
 * version, so these checks are for a file edited or damaged since.
 */
const countsRow = z.object({ rejected: z.int().nonnegative(), duplicates: z.int().nonnegative(), previewRejected: z.int().nonnegative(), previewDuplicates: z.int().nonnegative() });
const optimizationRow = z.object({
  revision: z.string().regex(/^\d+$/, 'must be a whole number'),
  state: z.object({
    optimizationId: z.string(),
    status: z.enum(OPTIMIZATION_STATUSES),
    recommendation: z.object({}),
    approval: z.object({}),
    dryRun: z.boolean(),
    receivedAt: z.string(),
  }),
});

/** The row's value when `schema` accepts it (the value itself, not zod's copy of it), else CheckpointUnreadable. */
function checked<T>(schema: z.ZodType, key: string, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return value as T;
  const issue = result.error.issues[0]!;
  throw new CheckpointUnreadable(API_READ_MODEL, key, `${issue.path.length ? issue.path.join('.') : '(row)'}: ${issue.message}`);
}

export interface ApiReadModelOptions {
  /** Where its checkpoints are kept; without, it folds the whole log at every start. */
  readonly checkpoints?: ReadModelCheckpoints;
  /** @defaultValue 1000 */
  readonly checkpointEveryMs?: number;
  readonly logger?: Logger;
}

/**
 * The API's read model: every optimization's state (the engine's `OptimizationProjection`) and the rejected and
 * duplicate counts, kept by a checkpointed catch-up subscription to the log ({@link CheckpointedProjection}): a list
 * does not re-read every stream, and a restart folds only what the log gained since the last checkpoint. `sync()`
 * waits until it has applied everything the log held when it was called (read-your-writes for a caller that just
 * acted). `optex projections rebuild` drops the checkpoint and folds the whole log again.
 */
export class ApiReadModel {
  /**
   * Never packs settled optimizations (`unpackedSettled: Infinity`): a list filters every optimization on any field
   * per request, which would unpack each packed one every time (~20 µs each).
   */
  readonly projection = new OptimizationProjection({ unpackedSettled: Infinity });
  rejected = 0;
  duplicates = 0;
  /** Of `rejected` and `duplicates`, the previews' (a dry run's rejected record; a duplicate naming a preview). */
  previewRejected = 0;
  previewDuplicates = 0;
  private readonly runner: CheckpointedProjection;

  constructor(store: EventStore, options: ApiReadModelOptions = {}) {
    const definition: ProjectionDefinition = {
      name: API_READ_MODEL,
      version: API_READ_MODEL_VERSION,
      filter: API_READ_MODEL_FILTER,
      apply: (event) => this.apply(event),
      row: (key) => this.row(key),
      restore: (rows) => this.restore(rows),
    };
    this.runner = new CheckpointedProjection(store, definition, {
      ...(options.checkpoints ? { checkpoints: options.checkpoints } : {}),
      ...(options.checkpointEveryMs ? { checkpointEveryMs: options.checkpointEveryMs } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  /** Restores the last checkpoint (if any) and follows the log from there. */
  start(): Promise<ProjectionStart> {
    return this.runner.start();
  }

  /** Position (commit) of the last event applied; -1 before any. */
  get appliedPosition(): bigint {
    return this.runner.position?.commit ?? -1n;
  }

  /** Events of the log (of the streams it reads) not applied yet: the lag. */
  lag(): Promise<number> {
    return this.runner.lag();
  }

  /** Resolves once every event the log held at the call is applied; rejects after `timeoutMs`. */
  sync(timeoutMs = 5000): Promise<void> {
    return this.runner.sync(timeoutMs);
  }

  /** Saves what changed since the last checkpoint now. */
  checkpoint(): Promise<void> {
    return this.runner.checkpoint();
  }

  /** Stops following the log, after a last checkpoint. */
  stop(): Promise<void> {
    return this.runner.stop();
  }

  private apply(event: RecordedEvent): string[] {
    if (event.stream === REJECTED_STREAM) {
      this.rejected++;
      if (isPreviewRejection((parseStoredEvent(event) as RecommendationRejected).data)) this.previewRejected++;
    } else if (event.stream === DUPLICATES_STREAM) {
      this.duplicates++;
      if (this.projection.get((parseStoredEvent(event) as RecommendationDuplicated).data.optimizationId)?.dryRun === true) this.previewDuplicates++;
    } else {
      const changed = this.projection.apply(event);
      return changed ? [OPTIMIZATION_KEY + changed.optimizationId] : [];
    }
    return [COUNTS_KEY];
  }

  private row(key: string): unknown {
    if (key === COUNTS_KEY) return { rejected: this.rejected, duplicates: this.duplicates, previewRejected: this.previewRejected, previewDuplicates: this.previewDuplicates };
    const id = key.slice(OPTIMIZATION_KEY.length);
    const known = this.projection.known(id);
    return known ? ({ revision: known.revision.toString(), state: known.state } satisfies OptimizationRow) : undefined;
  }

  /** Checks every row first (CheckpointUnreadable names the first bad one, with nothing restored), then restores them. */
  private restore(rows: ReadonlyMap<string, unknown>): void {
    let counts: z.infer<typeof countsRow> | undefined;
    const optimizations: [string, OptimizationRow][] = [];
    for (const [key, value] of rows) {
      if (key === COUNTS_KEY) counts = checked(countsRow, key, value);
      else if (key.startsWith(OPTIMIZATION_KEY)) {
        const id = key.slice(OPTIMIZATION_KEY.length);
        const row = checked<OptimizationRow>(optimizationRow, key, value);
        const stateId = (row.state as { optimizationId: string }).optimizationId; // checked above
        if (stateId !== id) throw new CheckpointUnreadable(API_READ_MODEL, key, `state.optimizationId: ${JSON.stringify(stateId)} is not the row's ${id}`);
        optimizations.push([id, row]);
      } else throw new CheckpointUnreadable(API_READ_MODEL, key, 'not a row this read model writes');
    }
    if (counts) {
      this.rejected = counts.rejected;
      this.duplicates = counts.duplicates;
      this.previewRejected = counts.previewRejected;
      this.previewDuplicates = counts.previewDuplicates;
    }
    for (const [id, row] of optimizations) this.projection.set(id, row.state, BigInt(row.revision));
  }
}
