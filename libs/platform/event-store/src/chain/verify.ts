import { createHash } from 'node:crypto';
import { readAllWithoutData, type EventStore, type GlobalPosition, type RecordedEvent } from '@optex/ports';
import { eventIdFor } from '@optex/domain';
import { comparePositions } from '../esdb/mapping';
import { SqliteEventStore, type StreamMismatch } from '../sqlite/sqlite-event-store';
import { CHAIN_KEYS, HashChainedEventStore, eventHash, recordedHash } from './hash-chain';

/** The stream of anchors: each one fixes the digest of every chained event in `$all` up to a position. */
export const ANCHOR_STREAM = 'optex-audit-anchors';
export const ANCHOR_EVENT_TYPE = 'AuditAnchorRecorded';

/** An anchor's data. */
export interface AuditAnchor {
  /** Position (decimal commit and prepare) of the last event the anchor covers. */
  readonly throughCommit: string;
  readonly throughPrepare: string;
  /** Events covered (every event of `$all` up to `throughCommit`, except system streams and the anchors). */
  readonly events: number;
  /** Running SHA-256 over the covered events' hashes, in `$all` order (see {@link RunningDigest}). */
  readonly digest: string;
}

/** Streams verify and anchors leave out: EventStoreDB's own (`$…`) and the anchors (chained in their own stream). */
export function coveredByAnchors(stream: string): boolean {
  return !stream.startsWith('$') && stream !== ANCHOR_STREAM;
}

/** `digest₀ = ""`, `digestₙ = sha256(digestₙ₋₁ ‖ hashₙ)` over the covered events in `$all` order. */
export class RunningDigest {
  constructor(
    public digest = '',
    public events = 0,
  ) {}

  add(hash: string): void {
    this.digest = createHash('sha256').update(this.digest).update(hash).digest('hex');
    this.events++;
  }
}

export type VerifyProblem =
  | 'no-hash' // the event carries no chain hash: written around optex (or before the chain existed)
  | 'hash-mismatch' // its content no longer gives the hash it records: edited
  | 'broken-link' // the previous hash it records is not its predecessor's: an event before it was removed, replaced or reordered
  | 'revision-gap' // its revision does not follow its predecessor's in the stream
  | 'anchor-mismatch' // the events up to an anchor do not give the anchor's digest: an event was removed, added or reordered
  | 'anchor-missed' // the log has no event at an anchor's position any more
  | 'stream-mismatch'; // (SQLite) the stream the event is filed under (its stream number) is not the stream it names: moved, or its stream renamed

export interface VerifyFailure {
  readonly problem: VerifyProblem;
  readonly message: string;
  readonly event?: { readonly id: string; readonly stream: string; readonly revision: string; readonly type: string; readonly position: string; readonly recordedAt: string };
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly events: number;
  readonly streams: number;
  readonly anchors: { readonly checked: number; readonly total: number };
  /** The first event (in `$all` order) that does not match, and why. */
  readonly failure?: VerifyFailure;
}

export interface VerifyOptions {
  /** Verify this stream only (its chain; anchors need the whole log and are not checked). */
  readonly stream?: string;
  /** Called every `progressEvery` events. */
  readonly onProgress?: (events: number) => void;
  readonly progressEvery?: number;
}

interface Link {
  readonly revision: bigint;
  readonly hash: string;
}

const positionOf = (a: AuditAnchor): GlobalPosition => ({ commit: BigInt(a.throughCommit), prepare: BigInt(a.throughPrepare) });

const describe = (e: RecordedEvent): NonNullable<VerifyFailure['event']> => ({
  id: e.id,
  stream: e.stream,
  revision: e.revision.toString(),
  type: e.type,
  position: e.position.commit.toString(),
  recordedAt: e.recordedAt.toISOString(),
});

/** The SQLite store under `store` (through the hash chain), which files events by stream number as well as by name. */
function sqliteUnder(store: EventStore): SqliteEventStore | undefined {
  if (store instanceof SqliteEventStore) return store;
  return store instanceof HashChainedEventStore ? sqliteUnder(store.inner) : undefined;
}

function mismatchFailure(m: StreamMismatch): VerifyFailure {
  const at = `${m.stream}@${m.revision} (${m.type}, id ${m.id}, position ${m.position})`;
  const filedUnder = m.filedUnder === null ? `stream number ${m.streamId}, which the streams table does not have` : `stream number ${m.streamId}, named ${JSON.stringify(m.filedUnder)}`;
  return {
    problem: 'stream-mismatch',
    message: `${at} is filed under ${filedUnder}: reads of a stream go by that number, so ${m.filedUnder === null ? 'no stream shows it' : `it shows in ${m.filedUnder}`} (the event was moved to another stream, or a stream renamed)`,
    event: { id: m.id, stream: m.stream, revision: m.revision.toString(), type: m.type, position: m.position.toString(), recordedAt: m.recordedAt.toISOString() },
  };
}

/**
 * Recomputes every stream's hash chain (and, for the whole log, the anchors' digests) and names the first event that
 * does not match. Streams the log in one pass; memory grows with the number of streams (one hash each), not events.
 * On SQLite it also checks that every event is filed under the stream it names (`stream_id` → `streams.name`, which
 * reads of one stream go by, against the `stream` the chain hashes): one more scan of the events table.
 */
export async function verifyLog(store: EventStore, options: VerifyOptions = {}): Promise<VerifyReport> {
  const whole = options.stream === undefined;
  const anchors = whole ? (await store.readStream(ANCHOR_STREAM)).map((e) => ({ event: e, anchor: e.data as AuditAnchor })) : [];
  const pending = anchors.map((a) => ({ ...a, through: positionOf(a.anchor) })).sort((a, b) => comparePositions(a.through, b.through));
  let checked = 0;
  const digest = new RunningDigest();
  const links = new Map<string, Link>();
  let events = 0;
  const every = options.progressEvery ?? 100_000;
  const report = (failure?: VerifyFailure): VerifyReport => ({
    ok: failure === undefined,
    events,
    streams: links.size,
    anchors: { checked, total: anchors.length },
    ...(failure ? { failure } : {}),
  });
  // The first event (in $all order) filed under a stream it does not name, reported where the scan meets it.
  const mismatch = sqliteUnder(store)?.firstStreamMismatch(options.stream);
  const source = whole ? store.readAll() : readStreamPaged(store, options.stream as string);
  for await (const e of source) {
    if (e.stream.startsWith('$')) continue;
    if (mismatch && e.position.commit >= mismatch.position) return report(mismatchFailure(mismatch));
    // Anchors whose position the log has gone past without meeting it.
    while (pending.length > 0 && comparePositions(e.position, pending[0].through) > 0) {
      const missed = pending.shift() as (typeof pending)[number];
      return report({
        problem: 'anchor-missed',
        message: `anchor ${missed.event.revision} covers the log up to position ${missed.anchor.throughCommit}, and the log has no event there any more (removed?)`,
        event: describe(missed.event),
      });
    }
    const failure = checkLink(e, links.get(e.stream));
    if (failure) return report(failure); // the events checked before it: not counting it
    events++;
    if (options.onProgress && events % every === 0) options.onProgress(events);
    const hash = recordedHash(e) as string;
    links.set(e.stream, { revision: e.revision, hash });
    if (!whole || !coveredByAnchors(e.stream)) continue;
    digest.add(hash);
    if (pending.length > 0 && comparePositions(e.position, pending[0].through) === 0) {
      const due = pending.shift() as (typeof pending)[number];
      if (due.anchor.digest !== digest.digest || due.anchor.events !== digest.events) {
        return report({
          problem: 'anchor-mismatch',
          message: `anchor ${due.event.revision} fixed ${due.anchor.events} events up to position ${due.anchor.throughCommit} with digest ${due.anchor.digest.slice(0, 16)}…; the log now gives ${digest.events} events, digest ${digest.digest.slice(0, 16)}… (an event up to there was removed, added or reordered)`,
          event: describe(due.event),
        });
      }
      checked++;
    }
  }
  if (mismatch) return report(mismatchFailure(mismatch));
  if (pending.length > 0) {
    const missed = pending[0];
    return report({
      problem: 'anchor-missed',
      message: `anchor ${missed.event.revision} covers the log up to position ${missed.anchor.throughCommit}, past the log's last event (events at the end were removed?)`,
      event: describe(missed.event),
    });
  }
  return report();
}

function checkLink(e: RecordedEvent, previous: Link | undefined): VerifyFailure | undefined {
  const at = `${e.stream}@${e.revision} (${e.type}, id ${e.id}, position ${e.position.commit})`;
  const recorded = recordedHash(e);
  if (recorded === undefined) return { problem: 'no-hash', message: `${at} carries no chain hash: it was not written by optex's store (or predates the chain)`, event: describe(e) };
  const expectedRevision = previous ? previous.revision + 1n : 0n;
  if (e.revision !== expectedRevision) {
    return { problem: 'revision-gap', message: `${at} follows revision ${previous ? previous.revision : 'none'} of its stream: revision ${expectedRevision} is missing`, event: describe(e) };
  }
  const prev = previous?.hash ?? null;
  const recordedPrev = e.metadata[CHAIN_KEYS.prev] ?? null;
  if (recordedPrev !== prev) {
    return { problem: 'broken-link', message: `${at} records previous hash ${String(recordedPrev)}, but its predecessor's hash is ${String(prev)}`, event: describe(e) };
  }
  const actual = eventHash(prev, e);
  if (actual !== recorded) return { problem: 'hash-mismatch', message: `${at} records hash ${recorded}, but its content hashes to ${actual}: it was changed after it was written`, event: describe(e) };
  return undefined;
}

async function* readStreamPaged(store: EventStore, stream: string, page = 1000): AsyncGenerator<RecordedEvent> {
  for (let from = 0n; ; ) {
    const events = await store.readStream(stream, { fromRevision: from, maxCount: page });
    yield* events;
    if (events.length < page) return;
    from = events[events.length - 1].revision + 1n;
  }
}

/**
 * Appends an anchor fixing the digest of every covered event up to the log's last one (nothing when no event was
 * added since the last anchor). Continues from the last anchor's digest, so each anchor reads only what is new.
 */
export async function recordAnchor(store: EventStore, now: Date = new Date()): Promise<AuditAnchor | undefined> {
  const [last] = await store.readStream(ANCHOR_STREAM, { direction: 'backwards', maxCount: 1 });
  const previous = last?.data as AuditAnchor | undefined;
  const digest = new RunningDigest(previous?.digest ?? '', previous?.events ?? 0);
  const from = previous ? positionOf(previous) : undefined;
  let through: GlobalPosition | undefined;
  // Only the streams, positions and hashes count: the events' data are not read where the store can leave them.
  for await (const e of readAllWithoutData(store, from ? { fromPosition: from } : {})) {
    if (!coveredByAnchors(e.stream)) continue;
    if (from && comparePositions(e.position, from) <= 0) continue; // fromPosition is inclusive
    const hash = recordedHash(e);
    if (hash === undefined) throw new Error(`cannot anchor: ${e.stream}@${e.revision} (id ${e.id}) carries no chain hash`);
    digest.add(hash);
    through = e.position;
  }
  if (through === undefined) return undefined;
  const anchor: AuditAnchor = { throughCommit: through.commit.toString(), throughPrepare: through.prepare.toString(), events: digest.events, digest: digest.digest };
  await store.appendToStream(ANCHOR_STREAM, [{ id: eventIdFor(ANCHOR_STREAM, `${anchor.throughCommit}:${anchor.digest}`, 0), type: ANCHOR_EVENT_TYPE, data: anchor, metadata: { recordedBy: 'audit', at: now.toISOString(), schemaVersion: 1 } }], last ? last.revision : 'no_stream');
  return anchor;
}

export interface PeriodicAnchorOptions {
  /** @defaultValue 60,000 */
  readonly everyMs?: number;
  /** Told of an anchor that could not be recorded (the next tick tries again). */
  readonly onError?: (error: unknown) => void;
  /** Told of each anchor recorded. */
  readonly onAnchor?: (anchor: AuditAnchor) => void;
}

/**
 * Records an anchor every `everyMs` while started, and a last one on stop, so a log is anchored up to the end of every
 * run. Run it in one process per log (the one that runs the relay); another writer's anchor at the same time makes
 * one of the two appends fail on its expected revision, which is reported and retried at the next tick.
 */
export class PeriodicAnchor {
  private timer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: EventStore,
    private readonly options: PeriodicAnchorOptions = {},
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.everyMs ?? 60_000);
    this.timer.unref();
  }

  /** Records an anchor now (after any tick in progress). */
  tick(): Promise<void> {
    this.running = this.running.then(async () => {
      try {
        const anchor = await recordAnchor(this.store);
        if (anchor) this.options.onAnchor?.(anchor);
      } catch (error) {
        this.options.onError?.(error);
      }
    });
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.tick();
  }
}
