/**
 * One timer per optimization that moves it again at a time the process manager named (the validator's soak, the
 * executor's wait for EC2's volume modification cool-down), and the earliest of those times for `run`'s "waiting
 * until". A second request for an optimization already waiting changes nothing; `clear` cancels every timer (on
 * shutdown: the sweeper, following `moverOf`, stays the fallback after a restart).
 */
export class WakeUps {
  private readonly pending = new Map<string, { readonly timer: NodeJS.Timeout; readonly at: number }>();

  /** Calls `wake` at `at` (ms on the service's clock, whose time now is `now`); false when `id` already waits. */
  set(id: string, at: number, now: number, wake: () => void): boolean {
    if (this.pending.has(id)) return false;
    const timer = setTimeout(() => {
      this.pending.delete(id);
      wake();
    }, Math.max(0, at - now));
    timer.unref();
    this.pending.set(id, { timer, at });
    return true;
  }

  /** The earliest time set for an optimization that `stillWaiting` says still waits for it, if any. */
  earliest(stillWaiting: (id: string) => boolean): Date | undefined {
    let earliest: number | undefined;
    for (const [id, { at }] of this.pending) {
      if (!stillWaiting(id)) continue;
      if (earliest === undefined || at < earliest) earliest = at;
    }
    return earliest === undefined ? undefined : new Date(earliest);
  }

  clear(): void {
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }
}
