import { optimizationStream } from '@optex/domain';
import { describeError, type EventStore, type Logger } from '@optex/ports';
import { lastEventOf } from './command-handler';

/** Options of {@link StallSweeper}. */
export interface StallSweeperOptions {
  /** How often to look. 0 = never (only {@link StallSweeper.sweep} calls). */
  readonly everyMs: number;
  /** How long an optimization may go without progress seen here before it is resumed. */
  readonly afterMs: number;
  readonly now: () => number;
  readonly logger: Logger;
  /** Ids of the optimizations this service must move now (the domain's `moverOf`). */
  readonly candidates: () => Iterable<string>;
  /** Carries one optimization as far as it can go now (the service's own handling, serialised per optimization). */
  readonly resume: (optimizationId: string) => Promise<void>;
  /**
   * When the log last moved for an optimization (ms; its stream's last event), asked before one that saw no progress
   * here is resumed: another instance of the service may be moving it (it owns the partition its messages go to, so
   * its events never reach this one). Absent: only the progress seen here counts.
   */
  readonly lastLoggedAt?: (optimizationId: string) => Promise<number | undefined>;
  /**
   * Whether this instance of the service owns the optimization's messages now ({@link ResourceOwnership}). One another
   * instance owns is not resumed here, however long it stalled: it is that instance's to move, and when its partition
   * comes here (that instance gone) the stall already counted makes it due at the next sweep. Absent: every one.
   */
  readonly owns?: (optimizationId: string) => boolean;
}

/**
 * Resumes optimizations left mid-way: an execution, validation or rollback whose triggering message is gone (acked
 * before the work was done, dead-lettered, lost with a process) or that made no progress for `afterMs` after an
 * outage. Every `everyMs` it asks the service for the optimizations it must move now and resumes those in which it has
 * seen no progress ({@link progressed}) for `afterMs` — and, with `lastLoggedAt`, whose stream gained no event for as
 * long: what another instance of the service moves, this one never sees delivered; with `owns`, only those whose
 * messages this instance owns — one at a time; an optimization
 * noticed for the first time counts from then. A resume that fails (e.g. the store still unavailable) is logged and
 * tried again `afterMs` later.
 *
 * `afterMs` must exceed the longest silence of a live handling (a wait for an instance state, a call's retries): the
 * sweeper cannot see handlings in other processes, only that the log did not move.
 */
export class StallSweeper {
  private readonly lastProgress = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<readonly string[]> | undefined;
  private stopped = false;

  constructor(private readonly options: StallSweeperOptions) {}

  /** Something happened to this optimization (an event was seen): its stall clock restarts. */
  progressed(optimizationId: string): void {
    this.lastProgress.set(optimizationId, this.options.now());
  }

  start(): void {
    if (this.options.everyMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.options.everyMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep under way (its resume sees the service stopping). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping?.catch(() => undefined);
  }

  /** One look: resumes the stalled candidates; resolves to their ids. A sweep already under way is joined, not repeated. */
  sweep(): Promise<readonly string[]> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<readonly string[]> {
    const { afterMs, now, logger } = this.options;
    const seen = new Set<string>();
    const stalled: [id: string, stalledMs: number][] = [];
    const at = now();
    for (const id of this.options.candidates()) {
      seen.add(id);
      const last = this.lastProgress.get(id);
      if (last === undefined) this.lastProgress.set(id, at);
      if (at - (last ?? at) >= afterMs) stalled.push([id, at - (last ?? at)]);
    }
    for (const id of [...this.lastProgress.keys()]) if (!seen.has(id)) this.lastProgress.delete(id);
    const resumed: string[] = [];
    for (const [id, stalledMs] of stalled) {
      if (this.stopped) break;
      if (this.options.owns?.(id) === false) continue;
      const logged = await this.loggedAt(id);
      if (logged !== undefined && now() - logged < afterMs) {
        this.lastProgress.set(id, logged); // moved by another instance: its stall clock counts from the log's last event
        continue;
      }
      this.lastProgress.set(id, now());
      logger.warn({ optimizationId: id, stalledMs }, 'no progress seen; resuming the optimization');
      try {
        await this.options.resume(id);
        resumed.push(id);
      } catch (error) {
        logger.warn({ optimizationId: id, err: describeError(error) }, 'resume failed; the next sweep tries again');
      }
      this.lastProgress.set(id, now());
    }
    return resumed;
  }

  /** {@link StallSweeperOptions.lastLoggedAt}; a read that fails counts as no news (the resume then meets the same store). */
  private async loggedAt(id: string): Promise<number | undefined> {
    try {
      return await this.options.lastLoggedAt?.(id);
    } catch (error) {
      this.options.logger.warn({ optimizationId: id, err: describeError(error) }, "could not read when the log last moved; resuming as if it had not");
      return undefined;
    }
  }
}

/** When an optimization's stream last gained an event (ms), read from the log: a sweeper's {@link StallSweeperOptions.lastLoggedAt}. */
export async function lastLoggedAt(store: EventStore, optimizationId: string): Promise<number | undefined> {
  return (await lastEventOf(store, optimizationStream(optimizationId)))?.recordedAt.getTime();
}
