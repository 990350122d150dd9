import type { Bus, BusMessage } from '@optex/ports';

/** How many of a run's records may be in flight at once (published and not yet settled). @see IntakeWindow */
export const DEFAULT_INTAKE_WINDOW = 1000;

/**
 * Feeds a run's input to the bus a window at a time, so the services work on a bounded set of optimizations instead of
 * taking in the whole file before the first one executes: at most `window` records are in flight (published and their
 * optimization not yet settled); when fewer than half the window are, the window is filled up again. What "in flight"
 * is comes from the caller (`inFlight`, from the run's settlement counters, which see optimizations only): a record
 * that settles without one (rejected, a duplicate) or an optimization that waits for something other than a person
 * (a later `notBefore`, a halted batch) keeps counting, so when the engine goes idle with records left, the run loop
 * calls {@link forceNext} and the next window goes out anyway. Every record is published once, in input order (the
 * per-resource order the bus keeps is the input's); a failed publish fails the run (thrown by {@link forceNext}).
 */
export class IntakeWindow {
  private next = 0;
  private publishing: Promise<void> | undefined;
  private failure: unknown;
  /** Where the intake ends: the input's end, or where {@link stop} left it. */
  private end: number;

  /**
   * @param total how many records the input has
   * @param messageAt the message of the record at an index, built when its window goes out (a large input is not held
   *   as messages all at once)
   */
  constructor(
    private readonly bus: Pick<Bus, 'publish'>,
    total: number,
    private readonly messageAt: (index: number) => BusMessage,
    private readonly inFlight: () => number,
    private readonly window: number = DEFAULT_INTAKE_WINDOW,
  ) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be an integer ≥ 1, got ${String(window)}`);
    this.end = total;
  }

  /** Records not published yet (none once stopped). */
  get remaining(): number {
    return this.end - this.next;
  }

  /** Records published so far: the first `takenIn` of the input. */
  get takenIn(): number {
    return this.next;
  }

  /** Publishes nothing more (the run was asked to stop): the records not published yet stay unread. */
  stop(): void {
    this.end = this.next;
  }

  /** Publishes the first window. */
  async start(): Promise<void> {
    await this.publishNext(this.window);
  }

  /**
   * Fills the window up again when fewer than half of it are in flight (cheap: call it on every observed event). A
   * publish already under way is not doubled. A failed publish is kept and thrown by the next {@link forceNext}.
   */
  pump(): void {
    if (this.publishing || this.remaining === 0) return;
    const room = this.window - Math.max(0, this.inFlight());
    if (room < this.window / 2) return;
    void this.publishNext(room).catch((error: unknown) => {
      this.failure ??= error;
    });
  }

  /** Publishes the next window whatever is in flight (the engine is idle with records left); throws a failed publish. */
  async forceNext(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    await this.publishing;
    if (this.failure !== undefined) throw this.failure;
    await this.publishNext(this.window);
  }

  private async publishNext(count: number): Promise<void> {
    if (this.remaining === 0) return;
    const end = Math.min(this.end, this.next + count);
    const batch: BusMessage[] = [];
    for (let i = this.next; i < end; i++) batch.push(this.messageAt(i));
    this.next = end;
    const publishing = this.bus.publish(batch);
    this.publishing = publishing;
    try {
      await publishing;
    } finally {
      this.publishing = undefined;
    }
  }
}
