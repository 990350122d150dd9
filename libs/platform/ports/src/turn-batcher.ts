/**
 * Collects work items added in one turn of the event loop and hands them to `run` together on the next turn
 * (`setImmediate`), in the order they were added, at most `maxGroup` at a time (the rest on the turns after). The
 * group commit of the SQLite event store and of the simulated fleet's state store: a commit costs far more than what
 * it commits, so the callers of one turn share one.
 */
export class TurnBatcher<T> {
  private pending: T[] = [];
  private scheduled = false;

  constructor(
    private readonly maxGroup: number,
    private readonly run: (group: T[]) => void,
  ) {
    if (!Number.isSafeInteger(maxGroup) || maxGroup < 1) throw new RangeError(`TurnBatcher: maxGroup must be a positive integer, got ${String(maxGroup)}`);
  }

  /** Items waiting for their turn. */
  get size(): number {
    return this.pending.length;
  }

  /** Queues `item` for the next group. */
  add(item: T): void {
    this.pending.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.next());
    }
  }

  /** Runs every waiting item now, group by group (e.g. before closing what `run` writes to). */
  drain(): void {
    while (this.pending.length > 0) this.next();
  }

  private next(): void {
    const group = this.pending.splice(0, this.maxGroup);
    this.scheduled = this.pending.length > 0;
    if (this.scheduled) setImmediate(() => this.next());
    if (group.length > 0) this.run(group);
  }
}
