import { ConcurrencyError, TRACEPARENT, type AppendOptions, activeTraceparent, traceparentOf, tracingEnabled, type EventStore, type NewEvent, type RecordedEvent } from '@optex/ports';
import { eventIdFor, parseStoredEvent, schemaVersionOf } from '@optex/domain';

/** A decider as the domain defines one (Emmett's shape). */
export interface Decider<Command, Event extends { type: string; data: unknown }, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
  /** Whether an append holding this event must survive a power loss before it is acknowledged ({@link AppendOptions.durable}). */
  durable?(event: Event): boolean;
}

/** The append's options for `events`: durable when the decider says one of them must be. */
function appendOptionsFor<Event>(decider: { durable?(event: Event): boolean }, events: readonly Event[]): AppendOptions | undefined {
  const durable = decider.durable;
  return durable && events.some((e) => durable(e)) ? { durable: true } : undefined;
}

export interface CommandContext {
  /** Identifies what caused the command (a message id, `Approve:<by>:<time>`…). Event ids derive from it, so a redelivered cause appends nothing new. */
  readonly causationKey: string;
  readonly correlationId?: string;
  /** Service or user that recorded the events. */
  readonly recordedBy: string;
  /** Extra metadata put on every event (e.g. `resourceKey` for the Kafka message key), or a function of the state before the command. */
  readonly metadata?: Readonly<Record<string, unknown>> | ((state: never) => Readonly<Record<string, unknown>>);
}

export interface CommandResult<Event, State> {
  readonly state: State;
  readonly events: readonly Event[];
  /** Revision of the stream's last event after the command, or -1n when the stream is still empty. */
  readonly revision: bigint;
}

export interface LoadedStream<State> {
  readonly state: State;
  readonly revision: bigint;
  readonly recorded: readonly RecordedEvent[];
}

/**
 * Folded states by the recorded event they end at, per decider. A store that hands out the same RecordedEvent objects
 * again (the SQLite store keeps recently used streams) lets {@link loadStream} parse and fold only the events after
 * the last one it folded; any other store simply misses. Sound because `evolve` is pure and states are never mutated.
 * Held weakly: an entry goes with its event.
 */
const folds = new WeakMap<object, WeakMap<RecordedEvent, unknown>>();

/** A stream's last event (one event read, however long the stream); `undefined` for a stream with none. */
export async function lastEventOf(store: EventStore, stream: string): Promise<RecordedEvent | undefined> {
  const [last] = await store.readStream(stream, { direction: 'backwards', maxCount: 1 });
  return last;
}

/**
 * Reads a stream and folds it. Every stored event is parsed and upcast first ({@link parseStoredEvent}): an unknown
 * type, a newer schema version or data that does not fit its schema throws a DomainError naming the event.
 */
export async function loadStream<Command, Event extends { type: string; data: unknown }, State>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, Event, State>,
): Promise<LoadedStream<State>> {
  const recorded = await store.readStream(stream);
  let known = folds.get(decider);
  if (!known) folds.set(decider, (known = new WeakMap()));
  let state = decider.initialState();
  let from = 0;
  for (let i = recorded.length - 1; i >= 0; i--) {
    if (known.has(recorded[i])) {
      state = known.get(recorded[i]) as State;
      from = i + 1;
      break;
    }
  }
  for (let i = from; i < recorded.length; i++) state = decider.evolve(state, parseStoredEvent(recorded[i]) as unknown as Event);
  if (recorded.length > 0) known.set(recorded[recorded.length - 1], state);
  const revision = recorded.length ? recorded[recorded.length - 1].revision : -1n;
  return { state, revision, recorded };
}

/**
 * The one command handler every service uses: read the stream → fold with `evolve` →
 * `decide` → append with the expected revision → on a version conflict, read again and retry.
 * `command` may be a function of the current state (to build the command from it), returning
 * `undefined` when there is nothing to do. Domain errors thrown by `decide` propagate unchanged.
 */
export async function handleCommand<Command, Event extends { type: string; data: unknown }, State>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, Event, State>,
  command: Command | ((state: State) => Command | undefined),
  context: CommandContext,
  options: { maxAttempts?: number } = {},
): Promise<CommandResult<Event, State>> {
  const maxAttempts = options.maxAttempts ?? 10;
  for (let attempt = 1; ; attempt++) {
    const { state, revision, recorded } = await loadStream(store, stream, decider);
    const cmd = typeof command === 'function' ? (command as (s: State) => Command | undefined)(state) : command;
    if (cmd === undefined) return { state, events: [], revision };
    try {
      return await decideAndAppend(store, stream, decider, cmd, state, revision, context, recorded);
    } catch (error) {
      if (error instanceof ConcurrencyError && attempt < maxAttempts) continue;
      throw error;
    }
  }
}

/**
 * {@link handleCommand} for a caller that already holds the stream's state at `known.revision` (e.g. the executor,
 * which appends each step of a plan in turn, or a service whose read model has folded the event it is handling):
 * decides and appends without reading the stream first; when the stream moved on meanwhile (a version conflict),
 * falls back to {@link handleCommand}, which reads it again. `known` undefined: just {@link handleCommand}.
 */
export async function handleCommandAt<Command, Event extends { type: string; data: unknown }, State>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, Event, State>,
  known: { readonly state: State; readonly revision: bigint } | undefined,
  command: Command,
  context: CommandContext,
): Promise<CommandResult<Event, State>> {
  if (known === undefined) return handleCommand(store, stream, decider, command, context);
  try {
    return await decideAndAppend(store, stream, decider, command, known.state, known.revision, context);
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    return handleCommand(store, stream, decider, command, context);
  }
}

async function decideAndAppend<Command, Event extends { type: string; data: unknown }, State>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, Event, State>,
  cmd: Command,
  state: State,
  revision: bigint,
  context: CommandContext,
  recorded?: readonly RecordedEvent[],
): Promise<CommandResult<Event, State>> {
  const events = decider.decide(cmd, state);
  if (events.length === 0) return { state, events, revision };
  const result = await store.appendToStream(stream, toNewEvents(stream, cmd, events, state, context, traceOfAppend(recorded)), revision < 0n ? 'no_stream' : revision, appendOptionsFor(decider, events));
  const next = events.reduce((s, e) => decider.evolve(s, e), state);
  return { state: next, events, revision: result.nextExpectedRevision };
}

/** The events a decision yields as the store takes them: ids derived from the cause, the command and the index; the usual metadata. */
function toNewEvents<Command, Event extends { type: string; data: unknown }, State>(
  stream: string,
  cmd: Command,
  events: readonly Event[],
  state: State,
  context: CommandContext,
  traceparent: string | undefined,
): NewEvent[] {
  const common = {
    causationId: context.causationKey,
    correlationId: context.correlationId ?? context.causationKey,
    recordedBy: context.recordedBy,
    ...(typeof context.metadata === 'function' ? (context.metadata as (s: State) => Record<string, unknown>)(state) : context.metadata),
    ...(traceparent !== undefined ? { [TRACEPARENT]: traceparent } : {}),
  };
  return events.map((e, i) => ({
    id: eventIdFor(stream, `${context.causationKey}/${commandName(cmd)}`, i),
    type: e.type,
    data: e.data,
    metadata: { schemaVersion: schemaVersionOf(e.type), ...common },
  }));
}

/**
 * Several commands on one stream decided in turn, each on the state the previous one left, and appended together by
 * {@link flush} with the revision the first was decided at: for a caller that makes several decisions in one handling
 * and has no reason to make each durable before the next (the executor between EC2 calls that change nothing).
 * Each command's events get the ids, metadata and revision they would have had appended one by one, so a handling
 * repeated after a crash appends nothing twice whichever way the first one appended them. Nothing is written before
 * {@link flush}: what is pending is lost with the process, and re-decided when the message is handled again.
 */
export class PendingDecisions<Command, Event extends { type: string; data: unknown }, State> {
  /** The revision of the stream's last appended event (-1n: none), which the next flush expects. */
  private base: bigint;
  private latest: State;
  /** The pending events as the store takes them, and as decided (one for one). */
  private readonly queued: NewEvent[] = [];
  private readonly decided: Event[] = [];
  private failed = false;

  constructor(
    private readonly store: EventStore,
    private readonly stream: string,
    private readonly decider: Decider<Command, Event, State>,
    known: { readonly state: State; readonly revision: bigint },
  ) {
    this.base = known.revision;
    this.latest = known.state;
  }

  /** The state after every decision so far, flushed or not. */
  get state(): State {
    return this.latest;
  }

  /** The revision the last decided event will have once appended. */
  get revision(): bigint {
    return this.base + BigInt(this.queued.length);
  }

  /** Events decided and not yet appended. */
  get pending(): number {
    return this.queued.length;
  }

  /**
   * Decides `command` on {@link state}; its events (none: nothing to do) are kept for {@link flush}. `context` is read
   * now (its metadata function gets the state before the command). Domain errors thrown by `decide` propagate.
   */
  decide(command: Command, context: CommandContext): readonly Event[] {
    this.assertUsable();
    const state = this.latest;
    const events = this.decider.decide(command, state);
    if (events.length === 0) return events;
    this.queued.push(...toNewEvents(this.stream, command, events, state, context, traceOfAppend(undefined)));
    this.decided.push(...events);
    this.latest = events.reduce((s, e) => this.decider.evolve(s, e), state);
    return events;
  }

  /**
   * Appends every pending event in one call, expecting the stream at the revision the first was decided at, and
   * returns them (none: nothing was pending). When the append fails (a stream that moved on meanwhile: the store's
   * `ConcurrencyError`; an outage) the error propagates, the pending events are dropped and this object refuses any
   * further use: the caller reads the stream again and decides anew.
   */
  async flush(): Promise<readonly Event[]> {
    this.assertUsable();
    if (this.queued.length === 0) return [];
    const events = this.queued.splice(0);
    const decided = this.decided.splice(0);
    try {
      const result = await this.store.appendToStream(this.stream, events, this.base < 0n ? 'no_stream' : this.base, appendOptionsFor(this.decider, decided));
      this.base = result.nextExpectedRevision;
      return decided;
    } catch (error) {
      this.failed = true;
      throw error;
    }
  }

  private assertUsable(): void {
    if (this.failed) throw new Error(`pending decisions on ${this.stream}: an earlier flush failed; read the stream again`);
  }
}

/**
 * The trace an append belongs to: the active span's (a service handling a delivery runs inside one), else, for a stream
 * that already has events (a decision made from the CLI or the API, outside any span), the trace of its last event, so
 * an optimization stays one trace. `undefined` when tracing is off.
 */
function traceOfAppend(recorded: readonly RecordedEvent[] | undefined): string | undefined {
  if (!tracingEnabled()) return undefined;
  return activeTraceparent() ?? (recorded && recorded.length > 0 ? traceparentOf(recorded[recorded.length - 1].metadata) : undefined);
}

const commandName = (command: unknown): string =>
  typeof command === 'object' && command !== null && typeof (command as { type?: unknown }).type === 'string' ? (command as { type: string }).type : 'command';

/**
 * Appends one event that needs no decider (intake records, batch events) exactly once: its id derives
 * from `stream` and `key`, so appending it again for the same key records nothing new.
 */
export async function appendOnce(
  store: EventStore,
  stream: string,
  event: { type: string; data: unknown },
  context: { key: string; causationId: string; recordedBy: string },
  /** `no_stream` for the event that opens its stream: the hash chain then reads no tip first. @defaultValue `any` */
  expected: 'any' | 'no_stream' = 'any',
): Promise<void> {
  const traceparent = traceOfAppend(undefined);
  await store.appendToStream(
    stream,
    [
      {
        id: eventIdFor(stream, context.key, 0),
        type: event.type,
        data: event.data,
        metadata: { schemaVersion: schemaVersionOf(event.type), recordedBy: context.recordedBy, causationId: context.causationId, ...(traceparent !== undefined ? { [TRACEPARENT]: traceparent } : {}) },
      },
    ],
    expected,
  );
}
