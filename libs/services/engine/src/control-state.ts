import { CONTROL_STREAM, controlDecider, type ControlState } from '@optex/domain';
import { describeError, type EventStore, type Logger } from '@optex/ports';
import { lastEventOf } from './command-handler';

/** The kill switch's last event (paused or resumed), if it was ever used. */
const lastControlEvent = (store: EventStore) => lastEventOf(store, CONTROL_STREAM);

/**
 * Whether execution is paused now (and by whom, since when, why): the kill switch as the log says it. Its state is its
 * last event (paused or resumed; nothing before it matters), so one event is read, however long the stream.
 */
export async function executionControlState(store: EventStore): Promise<ControlState> {
  const last = await lastControlEvent(store);
  return last ? controlDecider.evolve(controlDecider.initialState(), controlDecider.parse(last)) : controlDecider.initialState();
}

/** Options of {@link ResumeWatch}. */
export interface ResumeWatchOptions {
  /** How often the log is read. 0 = never (only deliveries, {@link ResumeWatch.delivered}). */
  readonly everyMs: number;
  readonly logger: Logger;
  /** Drives what waited for the resume with this event id (a rejection is logged; the sweepers remain). */
  readonly onResumed: (eventId: string) => Promise<void>;
}

/**
 * Tells an instance of the executor that execution resumed, whether or not the resume is delivered to it. The kill
 * switch's events go to one partition of the executor's topic, so of several instances only the one owning it is
 * delivered `ExecutionResumed`; the others learn it by reading the kill switch's last event every `everyMs`. Each resume
 * is driven once per instance: by its delivery or by the read that finds it, whichever comes first. A resume that was
 * already the last event when the watch started is driven only if it is delivered (its delivery was not acknowledged
 * before a restart); the reads leave it alone.
 */
export class ResumeWatch {
  /** The id of the last resume driven here. */
  private handled: string | undefined;
  /** The resume that was the kill switch's last event when the watch started: the reads do not drive it. */
  private foundAtStart: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private looking: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: EventStore,
    private readonly options: ResumeWatchOptions,
  ) {}

  /** Notes the kill switch's last event as seen (a failed read: none) and starts reading it every `everyMs`. */
  async start(): Promise<void> {
    try {
      const last = await lastControlEvent(this.store);
      if (last?.type === 'ExecutionResumed') this.foundAtStart = last.id;
    } catch (error) {
      this.options.logger.warn({ err: describeError(error) }, 'could not read the kill switch at start; the next look reads it again');
    }
    if (this.options.everyMs <= 0 || this.stopped) return;
    this.timer = setInterval(() => void this.look(), this.options.everyMs);
    this.timer.unref();
  }

  /** A delivered `ExecutionResumed` (or one a look found): drives it unless this instance already did. */
  async delivered(eventId: string): Promise<void> {
    if (eventId === this.handled) return;
    await this.options.onResumed(eventId);
    this.handled = eventId; // after it went through: a delivery redelivered after a failure drives it again
  }

  /** Reads the kill switch's last event now and drives it when it is a resume not driven here yet (a look under way is joined). */
  look(): Promise<void> {
    this.looking ??= (async () => {
      try {
        const last = await lastControlEvent(this.store);
        if (last?.type === 'ExecutionResumed' && last.id !== this.foundAtStart) await this.delivered(last.id);
      } catch (error) {
        this.options.logger.warn({ err: describeError(error) }, 'could not read or drive a resume of execution; the next look tries again');
      }
    })().finally(() => (this.looking = undefined));
    return this.looking;
  }

  /** Stops the timer and waits for a look under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.looking;
  }
}
