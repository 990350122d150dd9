import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@optex/runtime';
import { silentLogger } from '@optex/ports';
import { HashChainedEventStore, SqliteEventStore } from '@optex/event-store';
import { NotFound, historyCommand, openExistingStore, resolveId, type Io } from './commands';

// history and the id look-up on SQLite logs written here through the hash chain, then changed in the file behind
// optex's back (better-sqlite3): what one bad event does to the commands that read it, and to those that do not.

const dir = mkdtempSync(join(tmpdir(), 'optex-commands-corrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const A = '8a0c6c2e-6c1f-5f39-9d0e-3a1f4a2b9c11';
/** Shares its first 4 characters with A. */
const B = '8a0c7777-1d2e-5f39-8d0e-3a1f4a2b9c22';
/** The one tampered with. */
const C = 'c3d4e5f6-0a1b-5c2d-9e3f-4a5b6c7d8e33';
/** A dry-run preview of A's recommendation. */
const A_PREVIEW = 'f1e2d3c4-b5a6-5978-8a9b-0c1d2e3f4a44';
const AT = '2026-12-02T10:00:00.000Z';

const recommendation = (recommendationId: string) => ({
  recommendationId,
  source: 'spec',
  accountId: '123456789012',
  region: 'eu-west-1',
  resource: { type: 'ec2:volume', id: `vol-${recommendationId}` },
  action: { type: 'modify-volume', targetVolumeType: 'gp3' },
  estimatedMonthlySavings: 2,
  currency: 'USD',
});
const awaiting = (recommendationId: string, dryRun = false): ReadonlyArray<readonly [string, Record<string, unknown>]> => [
  ['OptimizationReceived', { recommendation: recommendation(recommendationId), dryRun, deliveryId: 'd' }],
  ['RiskAssessed', { baseLevel: 'MEDIUM', level: 'MEDIUM', factors: [], policyVersion: 'default-v1' }],
  ['ApprovalRequested', { authority: 'finops-manager', requiredApprovals: 1, expiresAt: '2026-12-09T10:00:00.000Z' }],
];

let n = 0;
/** A store with A, B, C (awaiting approval) and A's preview, then `sql` run on its file by another connection. */
async function store(sql: string): Promise<string> {
  const file = join(dir, `log-${++n}.db`);
  const chained = new HashChainedEventStore(SqliteEventStore.open(file));
  try {
    for (const [id, rec, dryRun] of [
      [A, 'rec-a', false],
      [B, 'rec-b', false],
      [C, 'rec-c', false],
      [A_PREVIEW, 'rec-a', true],
    ] as const) {
      for (const [type, data] of awaiting(rec, dryRun)) {
        const event = { id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, type, data: { optimizationId: id, at: AT, ...data }, metadata: { schemaVersion: 1, recordedBy: 'spec' } };
        await chained.appendToStream(`optimization-${id}`, [event], 'any');
      }
    }
  } finally {
    await chained.close();
  }
  if (sql) {
    const raw = new Database(file);
    raw.exec(sql);
    raw.close();
  }
  return `sqlite:${file}`;
}

const at = (id: string, revision: number) => `stream = 'optimization-${id}' AND revision = ${revision}`;
/** An ApprovalRequested of C now says ExecutionFailed: its data no longer fits its type. */
const C_TYPE_CHANGED = `UPDATE events SET type = 'ExecutionFailed' WHERE ${at(C, 2)};`;
/** C's RiskAssessed no longer parses as JSON. */
const C_DATA_CUT = `UPDATE events SET data = substr(data, 1, length(data) - 1) WHERE ${at(C, 1)};`;
/** C's OptimizationReceived (what names its recommendation) no longer parses as JSON. */
const C_RECEIVED_CUT = `UPDATE events SET data = substr(data, 1, length(data) - 1) WHERE ${at(C, 0)};`;

async function resolved(url: string, id: string): Promise<string> {
  const opened = await openExistingStore(url);
  try {
    return await resolveId(opened, id);
  } finally {
    await opened.close();
  }
}

async function failure(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected it to fail');
}

describe('resolveId: a prefix is resolved from the stream names, whatever another stream holds', () => {
  it.each([
    ['a type that no longer fits its data', C_TYPE_CHANGED],
    ['data that no longer parses as JSON', C_DATA_CUT],
    ["an OptimizationReceived whose data no longer parses as JSON", C_RECEIVED_CUT],
  ])('another optimization with %s does not block an untouched one', async (_, sql) => {
    const url = await store(sql);
    expect(await resolved(url, '8a0c6')).toBe(A);
    expect(await resolved(url, '8A0C7')).toBe(B);
    expect(await resolved(url, 'f1e2')).toBe(A_PREVIEW);
    // The corrupt one itself resolves too: what reads it says what is wrong.
    expect(await resolved(url, 'c3d4')).toBe(C);
  });

  it('a recommendation id resolves with a bad stream elsewhere, the real optimization before its preview', async () => {
    const url = await store(C_TYPE_CHANGED);
    expect(await resolved(url, 'rec-b')).toBe(B);
    expect(await resolved(url, 'rec-a')).toBe(A);
  });

  it('keeps its answers for full ids, ambiguous and unknown prefixes', async () => {
    const url = await store('');
    expect(await resolved(url, A.toUpperCase())).toBe(A);
    expect(await resolved(url, 'rec-c')).toBe(C);
    const ambiguous = await failure(() => resolved(url, '8a0c'));
    expect(ambiguous).toBeInstanceOf(UsageError);
    expect(ambiguous.message).toBe('8a0c is ambiguous: it matches 2 optimizations (8a0c6c2e-6c1f, 8a0c7777-1d2e)');
    const every = await failure(() => resolved(url, ''));
    expect(every.message).toBe(' is ambiguous: it matches 4 optimizations (8a0c6c2e-6c1f, 8a0c7777-1d2e, c3d4e5f6-0a1b, f1e2d3c4-b5a6)');
    const unknown = await failure(() => resolved(url, 'no-such-thing'));
    expect(unknown).toBeInstanceOf(NotFound);
    expect(unknown.message).toBe('no optimization no-such-thing in this store');
    expect(await failure(() => resolved(url, '8a0d'))).toBeInstanceOf(NotFound);
  });
});

describe('history: an event whose data does not fit its type', () => {
  async function history(url: string, id: string, flags: { json?: boolean } = {}): Promise<{ code: number; stdout: string }> {
    const out: string[] = [];
    const io: Io = { out: (s) => out.push(s), err: () => undefined, logger: silentLogger };
    const code = await historyCommand(io, id, { store: url, wide: true, ...flags });
    return { code, stdout: out.join('\n') };
  }

  it('is listed, its detail shown as unreadable (why), not a crash', async () => {
    const url = await store(C_TYPE_CHANGED);
    const shown = await history(url, C);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/RiskAssessed\s+spec\s+MEDIUM \(no factors\)$/m);
    expect(shown.stdout).toMatch(/^\s*2\s+\S+\s+ExecutionFailed\s+spec\s+\(unreadable: error: .+\)$/m);
    const json = JSON.parse((await history(url, C, { json: true })).stdout) as { events: { type: string; data: Record<string, unknown> }[] };
    expect(json.events[2]).toEqual(expect.objectContaining({ type: 'ExecutionFailed', data: expect.objectContaining({ authority: 'finops-manager' }) }));
  });

  it('an event of a type optex does not know is shown as such', async () => {
    const url = await store(`UPDATE events SET type = 'NoSuchEvent' WHERE ${at(A, 1)};`);
    const shown = await history(url, '8a0c6');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/NoSuchEvent\s+spec\s+\(unreadable: unknown event type "NoSuchEvent".*\)$/m);
  });
});
