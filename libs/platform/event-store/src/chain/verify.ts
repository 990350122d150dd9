import { createHash } from 'node:crypto';
import { readAllWithoutData, type EventStore, type GlobalPosition, type RecordedEvent } from '@optex/ports';
import { DomainError, eventIdFor } from '@optex/domain';
import { comparePositions } from '../esdb/mapping';
import type { StreamMismatch } from '../sqlite/sqlite-event-store';
import { CHAIN_KEYS, eventHash, recordedHash } from './hash-chain';
import { positionsWritten, sqliteUnder } from './positions-written';

/** The stream of anchors: each one fixes the digest of every chained event in `$all` up to a position. */
export const ANCHOR_STREAM = 'optex-audit-anchors';
export const ANCHOR_EVENT_TYPE = 'AuditAnchorRecorded';

/**
 * An anchor's data; also what `verifyLog` reports as the log's digest now (`logDigest`: what an anchor would record).
 * Neither `recordedAt` nor an event's id is covered: the chain hashes neither (see `eventHash`).
 */
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
  | 'bad-anchor' // an event of the anchor stream, its hash intact, whose data is not an anchor (it fixes nothing)
  | 'expect-mismatch' // the events up to a position given in `expect` do not give the digest expected there
  | 'expect-missed' // the log has no digested event at a position given in `expect` (any more)
  | 'truncated' // (SQLite) positions past the log's last event were written: its last events were removed
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
  /** The digests given in {@link VerifyOptions.expect} that were found and matched, of how many (only when some were given). */
  readonly expected?: { readonly checked: number; readonly total: number };
  /**
   * The whole log's digest through its last digested event — what an anchor recorded now would fix (the same running
   * digest, anchors and `$…` streams left out) — to be kept outside the log and given back later as an
   * {@link VerifyOptions.expect}. `null` for a log with no digested event; only for a whole log that verified.
   */
  readonly logDigest?: AuditAnchor | null;
  /** The first event (in `$all` order) that does not match, and why. */
  readonly failure?: VerifyFailure;
}

/** A digest of the log through a position, kept outside the log (printed by `anchor` or `verify`). */
export interface ExpectedDigest {
  /** The (commit) position of the last event it covers. */
  readonly position: bigint;
  /** The running digest through that event (64 hex digits). */
  readonly digest: string;
}

export interface VerifyOptions {
  /** Verify this stream only (its chain; anchors need the whole log and are not checked). */
  readonly stream?: string;
  /**
   * Digests kept outside the log: the log through each position must still give it (whole log only). What in-log
   * anchors cannot do: whoever cuts the log back to an anchor, or rewrites the anchors too, is caught only here.
   */
  readonly expect?: readonly ExpectedDigest[];
  /** Called every `progressEvery` events. */
  readonly onProgress?: (events: number) => void;
  readonly progressEvery?: number;
}

interface Link {
  readonly revision: bigint;
  readonly hash: string;
}

/** The position an anchor covers the log up to; only for data {@link anchorDataProblem} accepts. */
const positionOf = (a: AuditAnchor): GlobalPosition => ({ commit: BigInt(a.throughCommit), prepare: BigInt(a.throughPrepare) });

/** A value as an error message shows it: JSON, cut short. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/**
 * Why an event of the anchor stream is not an anchor (the field at fault, as the message says it), or `undefined`
 * when its data is one: {@link AuditAnchor}'s fields, positions as decimal strings, a positive count, a SHA-256 digest.
 */
export function anchorDataProblem(e: Pick<RecordedEvent, 'type' | 'data'>): string | undefined {
  if (e.type !== ANCHOR_EVENT_TYPE) return `it is a ${shown(e.type)} event, not ${ANCHOR_EVENT_TYPE}`;
  const data = e.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return `its data is ${shown(data)}, not an object`;
  const a = data as Record<string, unknown>;
  for (const key of ['throughCommit', 'throughPrepare'] as const) {
    if (a[key] === undefined) return `${key} is missing`;
    if (typeof a[key] !== 'string' || !/^\d{1,20}$/.test(a[key])) return `${key} ${shown(a[key])} is not a position (a decimal integer)`;
  }
  if (a['events'] === undefined) return 'events is missing';
  if (!Number.isSafeInteger(a['events']) || (a['events'] as number) < 1) return `events ${shown(a['events'])} is not a positive whole number`;
  if (a['digest'] === undefined) return 'digest is missing';
  if (typeof a['digest'] !== 'string' || !/^[0-9a-f]{64}$/.test(a['digest'])) return `digest ${shown(a['digest'])} is not a SHA-256 digest (64 hex digits)`;
  return undefined;
}

/** Whether the event's content still gives the hash it records, chained to the previous hash it records. */
function ownHashHolds(e: RecordedEvent): boolean {
  const recorded = recordedHash(e);
  const prev = e.metadata[CHAIN_KEYS.prev];
  return recorded !== undefined && eventHash(typeof prev === 'string' ? prev : null, e) === recorded;
}

const describe = (e: RecordedEvent): NonNullable<VerifyFailure['event']> => ({
  id: e.id,
  stream: e.stream,
  revision: e.revision.toString(),
  type: e.type,
  position: e.position.commit.toString(),
  recordedAt: e.recordedAt.toISOString(),
});

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
 * Recomputes every stream's hash chain (and, for the whole log, the anchors' digests and the digests given in
 * `expect`) and names the first event that does not match. Streams the log in one pass; memory grows with the number
 * of streams (one hash each), not events.
 *
 * An anchor is first checked against its own hash: one edited in place fixes nothing and is reported as the
 * `hash-mismatch` it is where the scan meets it (not as the log's `anchor-mismatch`), and one whose data is no anchor
 * is a `bad-anchor` there. On SQLite it also checks that every event is filed under the stream it names (`stream_id` →
 * `streams.name`, which reads of one stream go by, against the `stream` the chain hashes: one more scan of the events
 * table) and, for the whole log, that no position past the log's last event was written (`truncated`: AUTOINCREMENT's
 * high-water mark, see {@link positionsWritten}).
 *
 * What it cannot tell from the log alone (the chain's recipe is public and unkeyed): events removed from the end down
 * to an anchor when `sqlite_sequence` was lowered too (or on another store), and events appended, or rewritten with
 * every later hash and anchor, by anyone with write access. A digest kept outside the log (`logDigest`, or an
 * anchor's, given back in `expect`) catches the first and a rewrite of what it covers; nothing in an unkeyed chain
 * catches an event appended after the last digest kept outside.
 */
export async function verifyLog(store: EventStore, options: VerifyOptions = {}): Promise<VerifyReport> {
  const whole = options.stream === undefined;
  if (!whole && (options.expect?.length ?? 0) > 0) throw new TypeError('expect: a digest covers the whole log; it cannot be checked on one stream');
  // Before the log is read: what is committed from here on lies past it.
  const written = whole ? positionsWritten(store) : undefined;
  const anchors = whole ? await store.readStream(ANCHOR_STREAM) : [];
  // Only anchors intact and well formed fix anything; the others are reported where the scan meets them.
  const pending = anchors
    .flatMap((event) => (anchorDataProblem(event) === undefined && ownHashHolds(event) ? [{ event, anchor: event.data as AuditAnchor }] : []))
    .map((a) => ({ ...a, through: positionOf(a.anchor) }))
    .sort((a, b) => comparePositions(a.through, b.through));
  const expects = [...(options.expect ?? [])].sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  let checked = 0;
  let expectChecked = 0;
  const digest = new RunningDigest();
  const links = new Map<string, Link>();
  let events = 0;
  /** The last event read (any stream), the last one digested, and the commit position of the last one not digested (an anchor). */
  let last: GlobalPosition | undefined;
  let lastDigested: GlobalPosition | undefined;
  let lastUndigested: bigint | undefined;
  const every = options.progressEvery ?? 100_000;
  const report = (failure?: VerifyFailure): VerifyReport => ({
    ok: failure === undefined,
    events,
    streams: links.size,
    anchors: { checked, total: anchors.length },
    ...(whole && expects.length > 0 ? { expected: { checked: expectChecked, total: expects.length } } : {}),
    ...(whole && !failure ? { logDigest: lastDigested ? { throughCommit: lastDigested.commit.toString(), throughPrepare: lastDigested.prepare.toString(), events: digest.events, digest: digest.digest } : null } : {}),
    ...(failure ? { failure } : {}),
  });
  /** Checks the expected digests at positions before `before` (all that are left when undefined): the log has gone past them. */
  const passExpects = (before?: bigint): VerifyFailure | undefined => {
    while (expects.length > expectChecked && (before === undefined || expects[expectChecked].position < before)) {
      const { position, digest: expected } = expects[expectChecked];
      if (lastDigested?.commit !== position) return expectMissed(position, before === undefined ? (last ?? null) : undefined, lastUndigested);
      if (digest.digest !== expected) {
        return {
          problem: 'expect-mismatch',
          message: `the log through position ${position} gives ${digest.events} events, digest ${digest.digest.slice(0, 16)}…, not the digest ${expected.slice(0, 16)}… expected there (an event up to there was changed, removed, added or reordered since it was taken)`,
        };
      }
      expectChecked++;
    }
    return undefined;
  };
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
    const passed = passExpects(e.position.commit);
    if (passed) return report(passed);
    const failure = checkLink(e, links.get(e.stream)) ?? (e.stream === ANCHOR_STREAM ? badAnchor(e) : undefined);
    if (failure) return report(failure); // the events checked before it: not counting it
    events++;
    if (options.onProgress && events % every === 0) options.onProgress(events);
    const hash = recordedHash(e) as string;
    links.set(e.stream, { revision: e.revision, hash });
    last = e.position;
    if (!whole) continue;
    if (!coveredByAnchors(e.stream)) {
      lastUndigested = e.position.commit;
      continue;
    }
    digest.add(hash);
    lastDigested = e.position;
    if (pending.length > 0 && comparePositions(e.position, pending[0].through) === 0) {
      const due = pending.shift() as (typeof pending)[number];
      if (due.anchor.digest !== digest.digest || due.anchor.events !== digest.events) {
        return report({
          problem: 'anchor-mismatch',
          message: `anchor ${due.event.revision} fixed ${due.anchor.events} events up to position ${due.anchor.throughCommit} with digest ${due.anchor.digest.slice(0, 16)}…; the log now gives ${digest.events} events, digest ${digest.digest.slice(0, 16)}… (an event up to there was removed, added or reordered, or the anchor itself rewritten with a recomputed hash)`,
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
  const passed = passExpects();
  if (passed) return report(passed);
  const end = last?.commit ?? 0n;
  if (written !== undefined && written > end) {
    return report({
      problem: 'truncated',
      message: `positions after ${end} were written and are gone: SQLite's AUTOINCREMENT high-water mark for the events table (sqlite_sequence) is ${written}, ${last ? `the log's last event is at ${end}` : 'the log holds no event'} (its last events were removed)`,
    });
  }
  return report();
}

/**
 * An expected digest at a position the log has no digested event at: `end` is the log's last event once the whole
 * log was read past it (`null` when the log holds none), `undefined` while the scan is on an event after it.
 */
function expectMissed(position: bigint, end: GlobalPosition | null | undefined, lastUndigested: bigint | undefined): VerifyFailure {
  if (lastUndigested === position) return { problem: 'expect-missed', message: `position ${position} holds an anchor, which is not part of the digest: expect a position that anchor or verify printed` };
  if (end === null) return { problem: 'expect-missed', message: `the log holds no event, and a digest was expected at position ${position} (its events were removed)` };
  if (end !== undefined && position > end.commit) return { problem: 'expect-missed', message: `the log ends at position ${end.commit}, before position ${position} that a digest was expected at (its last events were removed)` };
  return { problem: 'expect-missed', message: `the log has no event at position ${position} any more (removed?)` };
}

/** An event of the anchor stream, its chain intact, whose data is no anchor. */
function badAnchor(e: RecordedEvent): VerifyFailure | undefined {
  const why = anchorDataProblem(e);
  return why === undefined ? undefined : { problem: 'bad-anchor', message: `${e.stream}@${e.revision} (${e.type}, id ${e.id}, position ${e.position.commit}) is not a valid anchor: ${why}`, event: describe(e) };
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
  if (actual !== recorded) {
    // An edited anchor: say what its data no longer is, when so.
    const notAnchor = e.stream === ANCHOR_STREAM ? anchorDataProblem(e) : undefined;
    return {
      problem: 'hash-mismatch',
      message: `${at} records hash ${recorded}, but its content hashes to ${actual}: it was changed after it was written${notAnchor === undefined ? '' : `; and its data is not a valid anchor: ${notAnchor}`}`,
      event: describe(e),
    };
  }
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
 *
 * @throws DomainError (`INVALID_EVENT`) naming the last anchor when it cannot be continued: its content no longer
 * gives its hash (edited), or its data is not an anchor.
 */
export async function recordAnchor(store: EventStore, now: Date = new Date()): Promise<AuditAnchor | undefined> {
  const [last] = await store.readStream(ANCHOR_STREAM, { direction: 'backwards', maxCount: 1 });
  const previous = last ? continuable(last) : undefined;
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

/** The data of the last anchor, to continue its digest from; refused when the anchor was edited or is none. */
function continuable(last: RecordedEvent): AuditAnchor {
  const at = `${last.stream}@${last.revision} (id ${last.id}, position ${last.position.commit})`;
  if (recordedHash(last) === undefined) throw new DomainError('INVALID_EVENT', `cannot anchor: the last anchor, ${at}, carries no chain hash (it was written around optex's store); run optex verify`);
  if (!ownHashHolds(last)) throw new DomainError('INVALID_EVENT', `cannot anchor: the last anchor, ${at}, was changed after it was written (its content no longer gives the hash it records); run optex verify`);
  const why = anchorDataProblem(last);
  if (why !== undefined) throw new DomainError('INVALID_EVENT', `cannot anchor: the last anchor, ${at}, is not a valid anchor: ${why}; run optex verify`);
  return last.data as AuditAnchor;
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
