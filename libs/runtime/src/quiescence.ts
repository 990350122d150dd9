import { TERMINAL_STATUSES, WAITING_FOR_PEOPLE_STATUSES } from '@optex/domain';
import type { EventStore, RecordedEvent } from '@optex/ports';
import { OptimizationProjection } from '@optex/engine';

/** Where the optimizations of a store stand, from counters (no scan). */
export interface SettlementCounts {
  /** Optimizations known. */
  readonly total: number;
  /** Terminal or awaiting approval: nothing more happens to them without a human or a new input. */
  readonly settled: number;
  /** Approved and not dispatched (possibly waiting for a later `notBefore`). */
  readonly approved: number;
  /** Events observed since the tracker started (its version: any change moves it). */
  readonly events: number;
}

/** What the run loop knows at one instant, besides the counts. */
export interface QuiescenceSignals {
  /** Every recorded event of a published stream has been relayed (and so observed by the tracker). */
  readonly relayCaughtUp: boolean;
  /** The scheduler is collecting approvals into a batch (its window is open). */
  readonly schedulerBusy: boolean;
  /** Some batch waits for a later `notBefore`. */
  readonly waitingForLater: boolean;
  /** Milliseconds since the tracker last observed an event. */
  readonly quietMs: number;
}

/**
 * Whether processing is over, given the bus was idle (nothing in flight) just before and after
 * `counts` was read and the tracker saw no event in between:
 * - never while the relay lags or the scheduler's batch window is open;
 * - yes when every optimization is settled (terminal, or waiting for a person: approval, reconciliation);
 * - yes when the only unsettled ones are approved and wait for a later `notBefore` (`resume` later);
 * - otherwise only after `stallMs` without any event: some optimization cannot move (e.g. its
 *   message was dead-lettered), and the report shows where it stopped.
 */
export function isQuiescent(counts: SettlementCounts, signals: QuiescenceSignals, stallMs: number): boolean {
  if (!signals.relayCaughtUp || signals.schedulerBusy) return false;
  const unsettled = counts.total - counts.settled;
  if (unsettled === 0) return true;
  if (signals.waitingForLater && unsettled === counts.approved) return true;
  return signals.quietMs >= stallMs;
}

/**
 * Counters of settled optimizations over a read model of every optimization, and a signal of every
 * event the log relay publishes: `run`/`resume` know they are done from it, without polling the
 * store. `changed()` wakes the run loop on the next event. The read model is either its own (fed by
 * the observed events) or one kept up to date elsewhere ({@link countOver}: in the all-in-one
 * process, the scheduler's, which every lifecycle event reaches — one copy of the state less).
 */
export class QuiescenceTracker {
  private eventCount = 0;
  private lastEventAt = Date.now();
  private waiters: (() => void)[] = [];
  private owned: boolean;

  private constructor(private source: OptimizationProjection) {
    this.owned = true;
  }

  /** Starts from the optimizations already in the store (e.g. for `resume`). */
  static async load(store: EventStore): Promise<QuiescenceTracker> {
    return new QuiescenceTracker(await OptimizationProjection.load(store));
  }

  static empty(): QuiescenceTracker {
    return new QuiescenceTracker(new OptimizationProjection());
  }

  /** From now on, counts over `projection`, which its owner keeps up to date; observed events only signal. */
  countOver(projection: OptimizationProjection): void {
    this.source = projection;
    this.owned = false;
  }

  /** The read model the counters come from. */
  get projection(): OptimizationProjection {
    return this.source;
  }

  /** Feeds one published event (the relay's `onPublished`). */
  observe(event: Pick<RecordedEvent, 'stream' | 'revision' | 'type' | 'data'>): void {
    if (this.owned) this.source.applyRelayed(event);
    this.eventCount++;
    this.lastEventAt = Date.now();
    for (const wake of this.waiters.splice(0)) wake();
  }

  counts(): SettlementCounts {
    let settled = 0;
    for (const status of [...TERMINAL_STATUSES, ...WAITING_FOR_PEOPLE_STATUSES]) settled += this.projection.countByStatus(status);
    return { total: this.projection.size, settled, approved: this.projection.countByStatus('approved'), events: this.eventCount };
  }

  get quietMs(): number {
    return Date.now() - this.lastEventAt;
  }

  /** Resolves on the next observed event, or after `timeoutMs`. */
  changed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiters = this.waiters;
      waiters.push(done);
      function done() {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
    });
  }

  /** One progress line from the counters. */
  progressLine(elapsedMs: number): string {
    const c = this.counts();
    return `… ${c.settled}/${c.total} optimizations settled after ${(elapsedMs / 1000).toFixed(0)} s (${c.events} events)`;
  }
}
