import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ConcurrencyError, type EventStore, type NewEvent } from '@optex/ports';
import { eventStoreContract } from '@optex/testing';
import { SqliteEventStore } from '../sqlite/sqlite-event-store';
import { canonicalJson } from './canonical-json';
import { CHAIN_KEYS, HashChainedEventStore, eventHash, unchainedMetadata } from './hash-chain';
import { ANCHOR_EVENT_TYPE, ANCHOR_STREAM, PeriodicAnchor, recordAnchor, verifyLog } from './verify';

eventStoreContract('hash-chained sqlite :memory:', async () => new HashChainedEventStore(SqliteEventStore.open(':memory:')), { appendedMetadata: unchainedMetadata });

const event = (type: string, data: unknown = {}, metadata?: Record<string, unknown>): NewEvent => ({ id: randomUUID(), type, data, ...(metadata ? { metadata } : {}) });

describe('canonicalJson', () => {
  it('gives the same text whatever the key order, and leaves undefined members out as a JSON round trip does', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x', null], c: true } })).toBe('{"a":{"c":true,"d":[1,"x",null]},"b":1}');
    expect(canonicalJson({ a: { c: true, d: [1, 'x', null] }, b: 1 })).toBe(canonicalJson({ b: 1, a: { d: [1, 'x', null], c: true } }));
    const value = { when: new Date('2026-12-02T10:00:00Z'), gone: undefined, n: 1.5e-7 };
    expect(canonicalJson(value)).toBe(canonicalJson(JSON.parse(JSON.stringify(value))));
  });

  it('keeps the text and the event hash the chain has always written (logs written before must still verify)', () => {
    // Both strings were computed by the first implementation (before the text was built in one string); a rewrite that
    // changes one byte breaks every stored chain.
    const data = { z: [1, 2.5, -0, 1e21, 'é"\\\n', null, undefined, { b: true, a: false }], a: { '10': 1, '9': 2, '': 3, é: 4, e: 5 }, n: null, skip: undefined, when: new Date('2026-12-05T04:00:00Z') };
    expect(canonicalJson(data)).toBe('{"a":{"":3,"10":1,"9":2,"e":5,"é":4},"n":null,"when":"2026-12-05T04:00:00.000Z","z":[1,2.5,0,1e+21,"é\\"\\\\\\n",null,null,{"a":false,"b":true}]}');
    expect(eventHash('ab', { stream: 'optimization-1', revision: 7n, type: 'RiskAssessed', data, metadata: { schemaVersion: 1, correlationId: 'c' } })).toBe(
      '3465b5e05514bc369d832402027710f82028d12269cfa3f9c85794a3217acdb7',
    );
  });

  it('quotes keys that need escaping the same the first time and every time after, and any number of distinct keys', () => {
    const odd = { 'a"b': 1, '\n': 2, 'é\\': 3 };
    expect(canonicalJson(odd)).toBe('{"\\n":2,"a\\"b":1,"é\\\\":3}');
    expect(canonicalJson(odd)).toBe('{"\\n":2,"a\\"b":1,"é\\\\":3}');
    const many = Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [`k"${String(i).padStart(5, '0')}`, i]));
    expect(canonicalJson(many)).toBe(JSON.stringify(many));
    expect(canonicalJson(many)).toBe(JSON.stringify(many));
  });

  it("orders keys as JavaScript's default sort does, for few keys and for many, surrogate pairs and digits included", () => {
    const alphabet = ['a', 'B', 'é', 'É', '0', '10', '9', '', ' ', '\u{1F600}', '\uFFFF', '\u{10000}', 'aa', 'a\u0000', '_', '~'];
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const size of [2, 3, 5, 9, 16, 17, 40]) {
      for (let round = 0; round < 20; round++) {
        const keys = new Set<string>();
        while (keys.size < size) keys.add(Array.from({ length: 1 + Math.floor(random() * 3) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''));
        const shuffled = [...keys].sort(() => random() - 0.5);
        const value = Object.fromEntries(shuffled.map((k, i) => [k, i]));
        const expected = `{${Object.keys(value)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${value[k]}`)
          .join(',')}}`;
        expect(canonicalJson(value)).toBe(expected);
      }
    }
  });

  it('names the path of a value JSON cannot carry', () => {
    expect(() => canonicalJson({ a: [1, { b: Number.NaN }] })).toThrow('$.a[1].b: NaN has no JSON form');
    expect(() => canonicalJson({ f: () => 1 })).toThrow('$.f: a function has no JSON form');
  });
});

describe('HashChainedEventStore and verifyLog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'optex-chain-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const stores: EventStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  const open = (file = join(dir, `${randomUUID()}.db`)): { file: string; raw: SqliteEventStore; store: HashChainedEventStore } => {
    const raw = SqliteEventStore.open(file);
    const store = new HashChainedEventStore(raw);
    stores.push(store);
    return { file, raw, store };
  };

  /** `raw` with every `readStream` it answers noted as `<stream> <direction>` in `reads`. */
  const countingReads = (raw: SqliteEventStore): { counting: EventStore; reads: string[] } => {
    const reads: string[] = [];
    const counting: EventStore = Object.assign(Object.create(raw) as SqliteEventStore, {
      readStream: (stream: string, options?: Parameters<EventStore['readStream']>[1]) => {
        reads.push(`${stream} ${options?.direction ?? 'forwards'}`);
        return raw.readStream(stream, options);
      },
    });
    return { counting, reads };
  };

  /** A log of three streams written the ways optex writes: at exact revisions, with `any`, in one and in several appends. */
  async function lifecycle(store: EventStore): Promise<void> {
    await store.appendToStream('optimization-a', [event('RecommendationReceived', { id: 'a' }, { schemaVersion: 1 }), event('RiskAssessed', { risk: 'LOW' })], 'no_stream');
    await store.appendToStream('optimization-b', [event('RecommendationReceived', { id: 'b' })], 'no_stream');
    await store.appendToStream('optimization-a', [event('OptimizationApproved', { by: 'alice' })], 1n);
    await store.appendToStream('relay-checkpoint-x', [event('CheckpointRecorded', { at: 3 })], 'any');
    await store.appendToStream('relay-checkpoint-x', [event('CheckpointRecorded', { at: 4 })], 'any');
    await store.appendToStream('optimization-b', [event('RiskAssessed', { risk: 'HIGH' })], 'stream_exists');
  }

  it('chains every event to the previous one of its stream, and an untouched log verifies', async () => {
    const { store } = open();
    await lifecycle(store);
    const a = await store.readStream('optimization-a');
    expect(a[0].metadata[CHAIN_KEYS.prev]).toBeUndefined();
    expect(a[0].metadata['schemaVersion']).toBe(1);
    expect(a[1].metadata[CHAIN_KEYS.prev]).toBe(a[0].metadata[CHAIN_KEYS.hash]);
    expect(a[2].metadata[CHAIN_KEYS.prev]).toBe(a[1].metadata[CHAIN_KEYS.hash]);
    expect(a[2].metadata[CHAIN_KEYS.hash]).toBe(eventHash(a[1].metadata[CHAIN_KEYS.hash] as string, a[2]));
    expect(await verifyLog(store)).toEqual({ ok: true, events: 7, streams: 3, anchors: { checked: 0, total: 0 }, logDigest: { throughCommit: '7', throughPrepare: '7', events: 7, digest: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(await verifyLog(store, { stream: 'optimization-a' })).toMatchObject({ ok: true, events: 3, streams: 1 });
  });

  it('keeps the chain when writers that do not share a cache append to one stream with `any` at the same time', async () => {
    const { file, store } = open();
    const other = new HashChainedEventStore(SqliteEventStore.open(file));
    stores.push(other);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).appendToStream('shared', [event('Tick', { i })], 'any')));
    expect(await store.readStream('shared')).toHaveLength(20);
    expect(await verifyLog(store)).toMatchObject({ ok: true, events: 20 });
  });

  it('an append with `any` to a stream whose tip it remembers reads nothing; a tip gone stale is read again and the append lands after', async () => {
    const { file, store: other } = open();
    const raw = SqliteEventStore.open(file);
    const { counting, reads } = countingReads(raw);
    const writer = new HashChainedEventStore(counting);
    stores.push(writer);
    // A new stream: its tip is read (none); its first append, at `no_stream`, may have been an idempotent repeat of
    // another's, so what it hashed is not remembered and the second append reads the tip too. From then on, none.
    await writer.appendToStream('batch', [event('Planned')], 'any');
    await writer.appendToStream('batch', [event('Dispatched', { n: 1 })], 'any');
    reads.length = 0;
    await writer.appendToStream('batch', [event('Dispatched', { n: 2 })], 'any');
    await writer.appendToStream('batch', [event('Dispatched', { n: 3 })], 'stream_exists');
    expect(reads).toEqual([]);

    await other.appendToStream('batch', [event('Continued')], 'any'); // another process moves the stream on
    reads.length = 0;
    await writer.appendToStream('batch', [event('Dispatched', { n: 4 })], 'any');
    expect(reads).toEqual(['batch backwards']); // refused at the remembered revision, then read once
    expect((await raw.readStream('batch')).map((e) => e.data)).toEqual([{}, { n: 1 }, { n: 2 }, { n: 3 }, {}, { n: 4 }]);
    expect(await verifyLog(raw)).toMatchObject({ ok: true, events: 6 });
  });

  it('hands a durable append on to the store it wraps, at an exact revision, with `any` (remembered tip or read) and `stream_exists`', async () => {
    const { raw, store } = open();
    const asked: unknown[] = [];
    const append = raw.appendToStream.bind(raw);
    jest.spyOn(raw, 'appendToStream').mockImplementation((stream, events, expected, options) => {
      asked.push(options);
      return append(stream, events, expected, options);
    });
    const durable = { durable: true };
    await store.appendToStream('intents', [event('StepStarted')], 'no_stream', durable);
    await store.appendToStream('intents', [event('StepStarted')], 0n, durable);
    await store.appendToStream('other', [event('A')], 'any', durable); // its tip read (none)
    await store.appendToStream('other', [event('B')], 'any', durable); // read again: the first was at no_stream
    await store.appendToStream('other', [event('C')], 'stream_exists', durable); // remembered tip
    await store.appendToStream('other', [event('D')], 'any');
    expect(asked).toEqual([durable, durable, durable, durable, durable, undefined]);
  });

  it('an idempotent repeat of an append does not put a wrong hash at the tip of the stream', async () => {
    const { store } = open();
    const first = [event('A', { n: 1 })];
    await store.appendToStream('s', first, 'no_stream');
    await store.appendToStream('s', [{ ...first[0], data: { n: 1, differs: true } }], 'no_stream'); // same id: the store keeps the first
    await store.appendToStream('s', [event('B')], 0n);
    expect(await store.readStream('s')).toHaveLength(2);
    expect((await verifyLog(store)).ok).toBe(true);
  });

  it('a repeat with other content by a writer that knew the tip (another instance handling the same message) leaves the chain whole', async () => {
    const { raw, store: a } = open();
    const b = new HashChainedEventStore(raw); // a second writer of the same log, with its own remembered tips
    await a.appendToStream('s', [event('Received')], 'no_stream');
    await b.readStream('s'); // b knows the tip at revision 0
    const id = randomUUID();
    await a.appendToStream('s', [{ id, type: 'Assessed', data: { at: '2026-12-07T06:00:00.000Z' }, metadata: { recordedBy: 'a' } }], 0n);
    const repeat = await b.appendToStream('s', [{ id, type: 'Assessed', data: { at: '2026-12-07T06:00:00.123Z' }, metadata: { recordedBy: 'b' } }], 0n);
    expect(repeat).toMatchObject({ nextExpectedRevision: 1n, written: false });
    await b.appendToStream('s', [event('Approved')], 1n);
    expect((await b.readStream('s')).map((e) => e.type)).toEqual(['Received', 'Assessed', 'Approved']);
    expect(await verifyLog(a)).toMatchObject({ ok: true, events: 3 });
  });

  it('an append at the revision a read showed last does not read the tip again, and a stale one is refused', async () => {
    const { file, store: writer } = open();
    const raw = SqliteEventStore.open(file);
    const { counting, reads } = countingReads(raw);
    const reader = new HashChainedEventStore(counting); // shares nothing with the writer: it knows the stream by reading
    stores.push(reader);
    await writer.appendToStream('s', [event('A'), event('B')], 'no_stream');

    const whole = await reader.readStream('s');
    await reader.appendToStream('s', [event('C')], whole[whole.length - 1].revision);
    const [newest] = await reader.readStream('s', { direction: 'backwards', maxCount: 1 });
    await reader.appendToStream('s', [event('D')], newest.revision);
    expect(reads).toEqual(['s forwards', 's backwards']); // the reads asked for, and no read of the tip before either append

    // Another writer moves the stream on after a read: the append at the revision read is refused, the chain stays whole.
    const seen = await reader.readStream('s');
    await writer.appendToStream('s', [event('E')], 'stream_exists');
    await expect(reader.appendToStream('s', [event('F')], seen[seen.length - 1].revision)).rejects.toThrow(ConcurrencyError);
    await reader.appendToStream('s', [event('F')], seen[seen.length - 1].revision + 1n);
    // A partial read (a page, or backwards from a revision) says nothing about the tip: the append reads it.
    reads.length = 0;
    await reader.readStream('s', { maxCount: 2 });
    await reader.readStream('s', { direction: 'backwards', fromRevision: 1n });
    await writer.appendToStream('s', [event('G')], 'stream_exists');
    await reader.appendToStream('s', [event('H')], 6n);
    expect(reads).toEqual(['s forwards', 's backwards', 's backwards']);
    expect((await reader.readStream('s')).map((e) => e.type)).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H']);
    expect(await verifyLog(writer)).toMatchObject({ ok: true, events: 8 });
  });

  it('an append at the revision the relay delivered does not read the tip; an older delivery, or one without a hash, changes nothing', async () => {
    const { file, store: writer } = open();
    const raw = SqliteEventStore.open(file);
    const { counting, reads } = countingReads(raw);
    const service = new HashChainedEventStore(counting); // another process: it knows the stream only from deliveries
    stores.push(service);
    await writer.appendToStream('s', [event('A'), event('B')], 'no_stream');
    const [a, b] = await writer.readStream('s');

    service.rememberDelivered(b);
    service.rememberDelivered(a); // a late redelivery of an older event: the tip stays at B
    await service.appendToStream('s', [event('C')], b.revision);
    expect(reads).toEqual([]);

    // Delivered, then moved on by another writer: the append at the delivered revision is refused, the chain stays whole.
    const [c] = await writer.readStream('s', { direction: 'backwards', maxCount: 1 });
    await writer.appendToStream('s', [event('D')], c.revision);
    const delivered = (await writer.readStream('s')).at(-1)!;
    await writer.appendToStream('s', [event('E')], delivered.revision);
    service.rememberDelivered(delivered);
    await expect(service.appendToStream('s', [event('F')], delivered.revision)).rejects.toThrow(ConcurrencyError);
    // An event without a chain hash (written around the chain) is not taken for a tip: the append reads it.
    await raw.appendToStream('u', [event('Unchained')], 'no_stream');
    const [unchained] = await raw.readStream('u');
    service.rememberDelivered(unchained);
    reads.length = 0;
    await service.appendToStream('u', [event('Next')], unchained.revision);
    expect(reads).toEqual(['u backwards']);
    expect(await verifyLog(writer, { stream: 's' })).toMatchObject({ ok: true, events: 5 });
  });

  it('names an event whose data was edited in the SQLite file', async () => {
    const { file, store } = open();
    await lifecycle(store);
    const db = new Database(file);
    db.prepare(`UPDATE events SET data = ? WHERE stream = 'optimization-a' AND revision = 1`).run(JSON.stringify({ risk: 'CRITICAL' }));
    db.close();
    const report = await verifyLog(store);
    expect(report.ok).toBe(false);
    expect(report.failure).toMatchObject({ problem: 'hash-mismatch', event: { stream: 'optimization-a', revision: '1', type: 'RiskAssessed' } });
    expect(report.failure?.message).toMatch(/optimization-a@1 \(RiskAssessed, id .*\) records hash .*, but its content hashes to .*: it was changed after it was written/);
  });

  it('counts as checked before the bad event only the events before it, not the bad event itself', async () => {
    const { file, store } = open();
    await lifecycle(store); // positions: a@0, a@1, b@0, a@2, x@0, x@1, b@1
    const db = new Database(file);
    db.prepare(`UPDATE events SET data = ? WHERE stream = 'optimization-a' AND revision = 2`).run(JSON.stringify({ by: 'mallory' }));
    db.close();
    expect(await verifyLog(store)).toMatchObject({ ok: false, events: 3, streams: 2, failure: { problem: 'hash-mismatch', event: { stream: 'optimization-a', revision: '2' } } });
    expect(await verifyLog(store, { stream: 'optimization-a' })).toMatchObject({ ok: false, events: 2, streams: 1 });
  });

  it('names an event moved to another stream, or a renamed stream, in the SQLite file (reads of a stream go by its number)', async () => {
    const { file, store } = open();
    await lifecycle(store);
    expect((await verifyLog(store)).ok).toBe(true);
    const db = new Database(file);
    const ids = Object.fromEntries((db.prepare('SELECT id, name FROM streams').all() as { id: number; name: string }[]).map((r) => [r.name, r.id]));
    // optimization-b's last event filed under optimization-a's number: a's reads now show it, b's do not.
    db.prepare(`UPDATE events SET stream_id = ?, revision = 3 WHERE stream = 'optimization-b' AND revision = 1`).run(ids['optimization-a']);
    const moved = await verifyLog(store);
    expect(moved).toMatchObject({ ok: false, events: 6, failure: { problem: 'stream-mismatch', event: { stream: 'optimization-b', revision: '3', type: 'RiskAssessed' } } });
    expect(moved.failure?.message).toMatch(/^optimization-b@3 \(RiskAssessed, id .*, position 7\) is filed under stream number \d+, named "optimization-a": reads of a stream go by that number, so it shows in optimization-a \(the event was moved to another stream, or a stream renamed\)$/);
    expect((await verifyLog(store, { stream: 'optimization-a' })).failure).toMatchObject({ problem: 'stream-mismatch', event: { stream: 'optimization-b' } });
    db.prepare(`UPDATE events SET stream_id = ?, revision = 1 WHERE stream = 'optimization-b' AND revision = 3`).run(ids['optimization-b']);
    expect((await verifyLog(store)).ok).toBe(true);

    db.prepare(`UPDATE streams SET name = 'optimization-z' WHERE name = 'optimization-b'`).run(); // renamed: every event of b
    db.close();
    expect((await verifyLog(store)).failure).toMatchObject({ problem: 'stream-mismatch', event: { stream: 'optimization-b', revision: '0' } });
    expect((await verifyLog(store, { stream: 'optimization-z' })).failure).toMatchObject({ problem: 'stream-mismatch', event: { stream: 'optimization-b', revision: '0' } });
  });

  it('names an event whose metadata was edited, and the successor of a removed event', async () => {
    const { file, store } = open();
    await lifecycle(store);
    const db = new Database(file);
    const row = db.prepare(`SELECT metadata FROM events WHERE stream = 'optimization-a' AND revision = 0`).get() as { metadata: string };
    db.prepare(`UPDATE events SET metadata = ? WHERE stream = 'optimization-a' AND revision = 0`).run(JSON.stringify({ ...JSON.parse(row.metadata), schemaVersion: 2 }));
    expect((await verifyLog(store)).failure).toMatchObject({ problem: 'hash-mismatch', event: { stream: 'optimization-a', revision: '0' } });
    db.prepare(`UPDATE events SET metadata = ? WHERE stream = 'optimization-a' AND revision = 0`).run(row.metadata);
    db.prepare(`DELETE FROM events WHERE stream = 'optimization-a' AND revision = 1`).run();
    db.close();
    expect((await verifyLog(store)).failure).toMatchObject({ problem: 'revision-gap', event: { stream: 'optimization-a', revision: '2', type: 'OptimizationApproved' } });
  });

  it('names an event re-hashed after an edit by its successor, whose link no longer matches', async () => {
    const { file, store } = open();
    await lifecycle(store);
    const [first] = await store.readStream('optimization-a');
    const forgedData = { id: 'a', forged: true };
    const hash = eventHash(null, { ...first, data: forgedData });
    const db = new Database(file);
    db.prepare(`UPDATE events SET data = ?, metadata = ? WHERE stream = 'optimization-a' AND revision = 0`).run(JSON.stringify(forgedData), JSON.stringify({ ...first.metadata, [CHAIN_KEYS.hash]: hash }));
    db.close();
    expect((await verifyLog(store)).failure).toMatchObject({ problem: 'broken-link', event: { stream: 'optimization-a', revision: '1' } });
  });

  it('names an event appended around the chain', async () => {
    const { raw, store } = open();
    await lifecycle(store);
    await raw.appendToStream('optimization-b', [event('OptimizationApproved', { by: 'mallory' })], 1n);
    expect((await verifyLog(store)).failure).toMatchObject({ problem: 'no-hash', event: { stream: 'optimization-b', revision: '2', type: 'OptimizationApproved' } });
  });

  it('anchors fix the whole log: removing the last event of a stream or a whole stream is found', async () => {
    const { file, store } = open();
    await lifecycle(store);
    expect(await recordAnchor(store)).toMatchObject({ events: 7 });
    expect(await recordAnchor(store)).toBeUndefined(); // nothing new
    await store.appendToStream('optimization-c', [event('RecommendationReceived', { id: 'c' })], 'no_stream');
    expect(await recordAnchor(store)).toMatchObject({ events: 8 });
    expect(await store.readStream(ANCHOR_STREAM)).toHaveLength(2);
    expect(await verifyLog(store)).toMatchObject({ ok: true, events: 10, anchors: { checked: 2, total: 2 } });

    const db = new Database(file);
    db.prepare(`DELETE FROM events WHERE stream = 'relay-checkpoint-x' AND revision = 1`).run(); // the stream's last event: its chain alone cannot tell
    const report = await verifyLog(store);
    expect(report.failure).toMatchObject({ problem: 'anchor-mismatch', event: { stream: ANCHOR_STREAM, revision: '0' } });
    expect(report.failure?.message).toMatch(/anchor 0 fixed 7 events up to position \d+ .*; the log now gives 6 events/);
    db.prepare(`DELETE FROM events WHERE stream = 'optimization-c'`).run();
    db.close();
    // The first anchor fails first; a log cut after it is named by the second.
    expect((await verifyLog(store)).failure?.problem).toBe('anchor-mismatch');
  });

  it('an anchor reads no event data where the store can leave it; through readAll alone (EventStoreDB) it anchors the same', async () => {
    const { store } = open();
    await lifecycle(store);
    const readAll = jest.spyOn(store, 'readAll');
    expect(await recordAnchor(store)).toMatchObject({ events: 7 });
    expect(readAll).not.toHaveBeenCalled();
    readAll.mockRestore();
    // verifyLog reads every event with its data and recomputes the digest each anchor fixed.
    expect(await verifyLog(store)).toMatchObject({ ok: true, anchors: { checked: 1, total: 1 } });
    const readAllOnly: EventStore = {
      appendToStream: (stream, events, expected) => store.appendToStream(stream, events, expected),
      readStream: (stream, options) => store.readStream(stream, options),
      readAll: (options) => store.readAll(options),
      subscribeToAll: (handler, options) => store.subscribeToAll(handler, options),
      close: async () => undefined,
    };
    await store.appendToStream('optimization-c', [event('RecommendationReceived', { id: 'c' })], 'no_stream');
    expect(await recordAnchor(readAllOnly)).toMatchObject({ events: 8 });
    expect(await verifyLog(store)).toMatchObject({ ok: true, anchors: { checked: 2, total: 2 } });
  });

  it('an anchor past the end of a truncated log is named', async () => {
    const { file, store } = open();
    await lifecycle(store);
    await recordAnchor(store);
    const db = new Database(file);
    const last = db.prepare(`SELECT MAX(position) AS p FROM events WHERE stream <> ?`).get(ANCHOR_STREAM) as { p: number };
    db.prepare(`DELETE FROM events WHERE position = ?`).run(last.p);
    db.close();
    expect((await verifyLog(store)).failure).toMatchObject({ problem: 'anchor-missed', event: { stream: ANCHOR_STREAM } });
  });

  it('PeriodicAnchor anchors while started and once more on stop; a failing anchor is reported, not thrown', async () => {
    const { store } = open();
    const errors: unknown[] = [];
    const anchors = new PeriodicAnchor(store, { everyMs: 10, onError: (e) => errors.push(e) });
    anchors.start();
    await store.appendToStream('s', [event('A')], 'no_stream');
    for (let i = 0; i < 200 && (await store.readStream(ANCHOR_STREAM)).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await store.readStream(ANCHOR_STREAM)).map((e) => (e.data as { events: number }).events)).toEqual([1]);
    await store.appendToStream('s', [event('B')], 0n);
    await anchors.stop();
    expect((await store.readStream(ANCHOR_STREAM)).map((e) => (e.data as { events: number }).events)).toEqual([1, 2]);
    expect(errors).toEqual([]);

    const { raw, store: other } = open();
    await raw.appendToStream('legacy', [event('Unchained')], 'no_stream');
    const failing = new PeriodicAnchor(other, { onError: (e) => errors.push(e) });
    await failing.stop();
    expect(String(errors[0])).toMatch(/cannot anchor: legacy@0 .* carries no chain hash/);
  });

  /**
   * Runs `sql` on the SQLite file, as anyone with write access to it can; resolves on the next turn of the event loop,
   * where the store looks again whether another connection wrote (within one turn it serves the events it keeps).
   */
  const tamper = async (file: string, sql: string, ...params: unknown[]): Promise<void> => {
    const db = new Database(file);
    try {
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
    await new Promise((resolve) => setImmediate(resolve));
  };

  /** Recomputes the hash of `stream`@`revision` from its content as it is now, as anyone can (the recipe is public and unkeyed). */
  const rehash = async (file: string, stream: string, revision: number): Promise<void> => {
    const db = new Database(file);
    try {
      const row = db.prepare('SELECT type, data, metadata FROM events WHERE stream = ? AND revision = ?').get(stream, revision) as { type: string; data: string; metadata: string };
      const metadata = JSON.parse(row.metadata) as Record<string, unknown>;
      const hash = eventHash((metadata[CHAIN_KEYS.prev] as string | undefined) ?? null, { stream, revision: BigInt(revision), type: row.type, data: JSON.parse(row.data), metadata });
      db.prepare('UPDATE events SET metadata = ? WHERE stream = ? AND revision = ?').run(JSON.stringify({ ...metadata, [CHAIN_KEYS.hash]: hash }), stream, revision);
    } finally {
      db.close();
    }
    await new Promise((resolve) => setImmediate(resolve));
  };

  it('a log cut back to an earlier anchor is named on SQLite (positions were written past its last event), unless sqlite_sequence was lowered too', async () => {
    const { file, store } = open();
    await lifecycle(store); // positions 1–7
    await recordAnchor(store); // 8
    await store.appendToStream('optimization-c', [event('RecommendationReceived', { id: 'c' })], 'no_stream'); // 9
    await recordAnchor(store); // 10
    expect(await verifyLog(store)).toMatchObject({ ok: true, anchors: { checked: 2, total: 2 } });

    await tamper(file, 'DELETE FROM events WHERE position > 8'); // back to the first anchor: every chain and that anchor still hold
    const cut = await verifyLog(store);
    expect(cut).toMatchObject({ ok: false, events: 8, anchors: { checked: 1, total: 1 }, failure: { problem: 'truncated' } });
    expect(cut.failure?.message).toBe(
      "positions after 8 were written and are gone: SQLite's AUTOINCREMENT high-water mark for the events table (sqlite_sequence) is 10, the log's last event is at 8 (its last events were removed)",
    );
    expect(cut).not.toHaveProperty('logDigest');
    // Whoever lowers the high-water mark too leaves nothing in the file to tell: only a digest kept outside the log does.
    await tamper(file, "UPDATE sqlite_sequence SET seq = 8 WHERE name = 'events'");
    expect(await verifyLog(store)).toMatchObject({ ok: true, events: 8, anchors: { checked: 1, total: 1 } });
  });

  it('an event another writer appends while verify reads the log is not taken for a cut', async () => {
    const { file, raw, store } = open();
    await lifecycle(store);
    const other = new HashChainedEventStore(SqliteEventStore.open(file));
    stores.push(other);
    // The other writer appends once verify has read the log's last event: its position is past what verify saw.
    const racing: EventStore = Object.assign(Object.create(raw) as SqliteEventStore, {
      readAll: (options?: Parameters<EventStore['readAll']>[0]) =>
        (async function* () {
          yield* raw.readAll(options);
          await other.appendToStream('optimization-d', [event('RecommendationReceived', { id: 'd' })], 'no_stream');
        })(),
    });
    expect(await verifyLog(racing)).toMatchObject({ ok: true, events: 7 });
    expect(await verifyLog(store)).toMatchObject({ ok: true, events: 8 });
  });

  it('gives the digest an anchor would record now, and checks the log against digests kept outside it (expect)', async () => {
    const { file, store } = open();
    await lifecycle(store); // positions 1–7
    const before = await verifyLog(store);
    const anchor = await recordAnchor(store); // 8
    expect(anchor).toEqual(before.logDigest);
    expect((await verifyLog(store)).logDigest).toEqual(anchor); // an anchor is not part of the digest
    await store.appendToStream('optimization-c', [event('RecommendationReceived', { id: 'c' })], 'no_stream'); // 9
    const now = await verifyLog(store);
    expect(now.logDigest).toMatchObject({ throughCommit: '9', events: 8 });
    const kept = [
      { position: 7n, digest: (anchor as { digest: string }).digest },
      { position: 9n, digest: now.logDigest?.digest as string },
    ];
    expect(await verifyLog(store, { expect: kept })).toMatchObject({ ok: true, expected: { checked: 2, total: 2 } });

    const wrong = await verifyLog(store, { expect: [{ position: 7n, digest: 'f'.repeat(64) }] });
    expect(wrong).toMatchObject({ ok: false, expected: { checked: 0, total: 1 }, failure: { problem: 'expect-mismatch' } });
    expect(wrong.failure?.message).toMatch(/^the log through position 7 gives 7 events, digest [0-9a-f]{16}…, not the digest ffffffffffffffff… expected there \(an event up to there was changed, removed, added or reordered since it was taken\)$/);
    const anchorPosition = await verifyLog(store, { expect: [{ position: 8n, digest: 'f'.repeat(64) }] });
    expect(anchorPosition).toMatchObject({ ok: false, failure: { problem: 'expect-missed' } });
    expect(anchorPosition.failure?.message).toMatch(/^position 8 holds an anchor, which is not part of the digest: expect a position that anchor or verify printed$/);

    // Cut back to the first anchor and the high-water mark lowered: the log alone verifies; the digest kept outside it does not.
    await tamper(file, 'DELETE FROM events WHERE position > 8');
    await tamper(file, "UPDATE sqlite_sequence SET seq = 8 WHERE name = 'events'");
    expect(await verifyLog(store, { expect: [kept[0]] })).toMatchObject({ ok: true, expected: { checked: 1, total: 1 } });
    const cut = await verifyLog(store, { expect: kept });
    expect(cut).toMatchObject({ ok: false, expected: { checked: 1, total: 2 }, failure: { problem: 'expect-missed' } });
    expect(cut.failure?.message).toBe('the log ends at position 8, before position 9 that a digest was expected at (its last events were removed)');
  });

  it('expect names a digested event gone from the middle of the log, which no chain can tell without an anchor', async () => {
    const { file, store } = open();
    await lifecycle(store); // relay-checkpoint-x@1, its stream's last event, at position 6
    const { logDigest } = await verifyLog(store);
    const at6 = await verifyLog(store, { expect: [{ position: 6n, digest: 'f'.repeat(64) }] });
    expect(at6.failure?.problem).toBe('expect-mismatch'); // there, but not that digest
    await tamper(file, `DELETE FROM events WHERE stream = 'relay-checkpoint-x' AND revision = 1`);
    expect(await verifyLog(store)).toMatchObject({ ok: true, events: 6 });
    const gone = await verifyLog(store, { expect: [{ position: 6n, digest: 'f'.repeat(64) }] });
    expect(gone).toMatchObject({ ok: false, failure: { problem: 'expect-missed', message: 'the log has no event at position 6 any more (removed?)' } });
    expect((await verifyLog(store, { expect: [{ position: 7n, digest: logDigest?.digest as string }] })).failure?.problem).toBe('expect-mismatch');
  });

  it.each([
    ['a throughCommit that is no position', `UPDATE events SET data = json_set(data, '$.throughCommit', 'abc') WHERE stream = ?`, 'throughCommit "abc" is not a position (a decimal integer)'],
    ['data null', `UPDATE events SET data = 'null' WHERE stream = ?`, 'its data is null, not an object'],
    ['no throughPrepare', `UPDATE events SET data = json_remove(data, '$.throughPrepare') WHERE stream = ?`, 'throughPrepare is missing'],
  ])('an anchor with %s: verify names it, edited (hash-mismatch) or re-hashed (bad-anchor); anchor refuses, naming it', async (_, sql, why) => {
    const { file, store } = open();
    await lifecycle(store);
    await recordAnchor(store); // optex-audit-anchors@0, position 8
    await tamper(file, sql, ANCHOR_STREAM);
    const edited = await verifyLog(store);
    expect(edited).toMatchObject({ ok: false, events: 7, failure: { problem: 'hash-mismatch', event: { stream: ANCHOR_STREAM, revision: '0', type: ANCHOR_EVENT_TYPE, position: '8' } } });
    expect(edited.failure?.message).toMatch(new RegExp(`: it was changed after it was written; and its data is not a valid anchor: ${why.replace(/[()]/g, '\\$&')}$`));
    await expect(recordAnchor(store)).rejects.toThrow(new RegExp(`^cannot anchor: the last anchor, ${ANCHOR_STREAM}@0 \\(id [0-9a-f-]+, position 8\\), was changed after it was written \\(its content no longer gives the hash it records\\); run optex verify$`));

    await rehash(file, ANCHOR_STREAM, 0);
    const rehashed = await verifyLog(store);
    expect(rehashed).toMatchObject({ ok: false, events: 7, failure: { problem: 'bad-anchor', event: { stream: ANCHOR_STREAM, revision: '0' } } });
    expect(rehashed.failure?.message).toBe(`${ANCHOR_STREAM}@0 (${ANCHOR_EVENT_TYPE}, id ${rehashed.failure?.event?.id}, position 8) is not a valid anchor: ${why}`);
    expect((await verifyLog(store, { stream: ANCHOR_STREAM })).failure?.problem).toBe('bad-anchor');
    await expect(recordAnchor(store)).rejects.toThrow(`cannot anchor: the last anchor, ${ANCHOR_STREAM}@0 (id ${rehashed.failure?.event?.id}, position 8), is not a valid anchor: ${why}; run optex verify`);
  });

  it('an edited anchor is named as edited (hash-mismatch of the anchor), not blamed on the log', async () => {
    const { file, store } = open();
    await lifecycle(store);
    await recordAnchor(store);
    await store.appendToStream('optimization-c', [event('RecommendationReceived', { id: 'c' })], 'no_stream');
    await recordAnchor(store); // optex-audit-anchors@1
    await tamper(file, `UPDATE events SET data = json_set(data, '$.digest', '00') WHERE stream = ? AND revision = 0`, ANCHOR_STREAM);
    const report = await verifyLog(store);
    expect(report).toMatchObject({ ok: false, failure: { problem: 'hash-mismatch', event: { stream: ANCHOR_STREAM, revision: '0' } } });
    expect(report.failure?.message).toMatch(/it was changed after it was written; and its data is not a valid anchor: digest "00" is not a SHA-256 digest \(64 hex digits\)$/);

    await tamper(file, `UPDATE events SET data = json_set(data, '$.digest', ?) WHERE stream = ? AND revision = 1`, 'e'.repeat(64), ANCHOR_STREAM);
    await tamper(file, `UPDATE events SET data = json_set(data, '$.digest', ?) WHERE stream = ? AND revision = 0`, 'e'.repeat(64), ANCHOR_STREAM);
    expect((await verifyLog(store)).failure).toMatchObject({ problem: 'hash-mismatch', event: { stream: ANCHOR_STREAM, revision: '0' } });
    await expect(recordAnchor(store)).rejects.toThrow(/^cannot anchor: the last anchor, optex-audit-anchors@1 \(id [0-9a-f-]+, position \d+\), was changed after it was written/);
  });

});
