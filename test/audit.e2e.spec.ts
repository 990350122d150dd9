import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ensureBuilt, json, optex, tempDir } from './support/cli';

jest.setTimeout(120_000);

interface View {
  optimizationId: string;
  recommendationId: string;
  status: string;
}
interface HistoryEvent {
  type: string;
  recordedAt: string;
  revision: number;
}
interface StateAt {
  optimizationId: string;
  asOf: { revision: number; type: string; recordedAt: string } | null;
  eventsApplied: number;
  eventsAfter: number;
  state: { status: string };
  view: { status: string; rolledBack: boolean } | null;
}

beforeAll(() => ensureBuilt());

// The audit surface on the embedded default: a log written by `run` verifies; an edit of the SQLite file is named;
// `state --at` folds a lifecycle with a rollback up to chosen instants; `replay --format` exports with filters.
describe('audit: verify, anchor, state --at, replay --format', () => {
  const dir = tempDir('audit');
  const file = join(dir, 'events.db');
  const store = `sqlite:${file}`;
  const common = ['--store', store, '--cloud', 'simulated:test/fixtures/fleet.json', '--policy', 'test/fixtures/policy-auto.json'];
  let views: View[];
  const byRec = (id: string): View => views.find((v) => v.recommendationId === id) as View;

  beforeAll(async () => {
    const run = await optex(['run', 'test/fixtures/recommendations.ndjson', ...common, '--json']);
    expect(run.code).toBe(0);
    views = json<{ optimizations: View[] }>(run).optimizations;
    expect(byRec('e2e-rightsize-hot').status).toBe('rolled-back');
  });

  it('verify: the log run wrote (anchored when the run ended) verifies, whole and per stream; anchor fixes what came after', async () => {
    const whole = await optex(['verify', '--store', store]);
    expect(whole.code).toBe(0);
    expect(whole.stdout).toMatch(/^OK: \d+ events in \d+ streams, 1 of 1 anchors verified in [\d.]+ s; every hash chain is intact and every anchor matches\.$/m);
    // Nothing since the run's anchor: that one is printed again, to keep outside the log and give back to verify --expect.
    const kept = json<{ recorded: boolean; anchor: { throughCommit: string; digest: string }; expect: string }>(await optex(['anchor', '--store', store, '--json']));
    expect(kept).toMatchObject({ recorded: false, anchor: { digest: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(kept.expect).toBe(`${kept.anchor.throughCommit}:${kept.anchor.digest}`);
    expect((await optex(['pause', '--by', 'auditor', '--reason', 'audit drill', '--store', store])).code).toBe(0);
    expect((await optex(['resume-execution', '--by', 'auditor', '--reason', 'audit drill over', '--store', store])).code).toBe(0);
    const anchored = await optex(['anchor', '--store', store, '--json']);
    expect(json<{ recorded: boolean; anchor: { events: number; digest: string } }>(anchored)).toMatchObject({ recorded: true, anchor: { events: expect.any(Number), digest: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(json<{ ok: boolean; anchors: { checked: number } }>(await optex(['verify', '--store', store, '--json']))).toMatchObject({ ok: true, anchors: { checked: 2 } });
    const expected = await optex(['verify', '--expect', kept.expect, '--store', store]);
    expect(expected.code).toBe(0);
    expect(expected.stdout).toMatch(/^OK: .*, 1 of 1 expected digests verified in [\d.]+ s; every hash chain is intact, every anchor matches and every expected digest matches\.$/m);
    const one = await optex(['verify', '--stream', `optimization-${byRec('e2e-gp3').optimizationId}`, '--store', store]);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^OK: \d+ events of stream optimization-/);
  });

  it('state --at: the optimization as it was before, during and after its rollback', async () => {
    const id = byRec('e2e-rightsize-hot').optimizationId;
    const events = json<{ events: HistoryEvent[] }>(await optex(['history', id, '--store', store, '--json'])).events;
    const at = (type: string) => (events.find((e) => e.type === type) as HistoryEvent).recordedAt;
    const stateAt = async (instant: string) => json<StateAt>(await optex(['state', id, '--at', instant, '--store', store, '--json']));

    const before = await stateAt(new Date(Date.parse(events[0].recordedAt) - 1000).toISOString());
    expect(before).toMatchObject({ asOf: null, eventsApplied: 0, state: { status: 'initial' }, view: null });
    const approved = await stateAt(at('ApprovalGranted'));
    expect(approved.state.status).toBe('approved');
    expect(approved.asOf?.type).toBe(events.filter((e) => e.recordedAt <= at('ApprovalGranted')).slice(-1)[0].type);
    const rollingBack = await stateAt(at('RollbackStarted'));
    expect(['rolling-back']).toContain(rollingBack.state.status);
    expect(rollingBack.view).toMatchObject({ rolledBack: true });
    const now = await stateAt(new Date().toISOString());
    expect(now).toMatchObject({ state: { status: 'rolled-back' }, eventsAfter: 0, eventsApplied: events.length });

    // One instant, anywhere: a bare number or a time without its zone is refused, naming the flag.
    for (const bad of ['1', at('RollbackStarted').replace(/Z$/, '')]) {
      const refused = await optex(['state', id, '--at', bad, '--store', store]);
      expect({ bad, code: refused.code }).toEqual({ bad, code: 2 });
      expect(refused.stderr).toMatch(/^optex: --at: expected an ISO-8601 time such as 2026-12-02T10:00:00Z, got /);
    }

    const text = await optex(['state', id.slice(0, 8), '--at', at('RollbackStarted'), '--store', store]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/status\s+rolling-back/);
    const bad = await optex(['state', id, '--at', 'yesterday', '--store', store]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--at: expected an ISO-8601 time/);
  });

  it('replay --format ndjson|csv: filters by type, resource, optimization and time; a file as output', async () => {
    const all = await optex(['replay', '--format', 'ndjson', '--store', store]);
    expect(all.code).toBe(0);
    const rows = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; optimizationId: string | null; resourceId: string | null; recordedAt: string; accountId: string | null });
    expect(all.stderr).toMatch(new RegExp(`exported ${rows.length} events as ndjson`));
    expect(rows.length).toBeGreaterThan(50);

    const received = await optex(['replay', '--format', 'ndjson', '--type', 'RiskAssessed,RollbackStarted', '--store', store]);
    const receivedRows = received.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(new Set(receivedRows.map((r) => r.type))).toEqual(new Set(['RiskAssessed', 'RollbackStarted']));
    expect(receivedRows.length).toBe(rows.filter((r) => r.type === 'RiskAssessed' || r.type === 'RollbackStarted').length);

    const hot = rows.find((r) => r.optimizationId === byRec('e2e-rightsize-hot').optimizationId) as (typeof rows)[number];
    const byResource = (await optex(['replay', '--format', 'ndjson', '--resource', hot.resourceId as string, '--account', hot.accountId as string, '--store', store])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { resourceId: string });
    expect(byResource.length).toBe(rows.filter((r) => r.resourceId === hot.resourceId).length);
    expect(byResource.every((r) => r.resourceId === hot.resourceId)).toBe(true);

    const csvFile = join(dir, 'export.csv');
    const csv = await optex(['replay', '--format', 'csv', '--optimization', byRec('e2e-rightsize-hot').optimizationId, '--to', new Date().toISOString(), '--output', csvFile, '--store', store]);
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe('');
    const lines = readFileSync(csvFile, 'utf8').split('\r\n').filter((l) => l.length > 0);
    expect(lines[0]).toBe('position,recordedAt,stream,revision,id,type,optimizationId,accountId,region,resourceId,data,metadata');
    expect(lines.length - 1).toBe(rows.filter((r) => r.optimizationId === byRec('e2e-rightsize-hot').optimizationId).length);
    expect(lines[1]).toMatch(/,OptimizationReceived,.*,"\{""/); // JSON data quoted per RFC 4180

    const future = await optex(['replay', '--format', 'ndjson', '--from', new Date(Date.now() + 3_600_000).toISOString(), '--store', store]);
    expect(future.stdout).toBe('');
    expect(future.stderr).toMatch(/exported 0 events/);
    const badFormat = await optex(['replay', '--format', 'xml', '--store', store]);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toMatch(/--format: expected ndjson or csv, got "xml"/);
  });

  it('read-only audit commands refuse a store that does not exist (exit 1), creating nothing', async () => {
    const missing = join(dir, 'nope', 'events.db');
    for (const args of [['verify'], ['anchor'], ['replay', '--format', 'csv'], ['state', 'x']]) {
      const result = await optex([...args, '--store', `sqlite:${missing}`]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/--store: .*nope\/events\.db does not exist \(nothing was run against it\)/);
    }
  });

  it('verify names an event edited in the SQLite file, exit 1', async () => {
    const id = byRec('e2e-gp3').optimizationId;
    const db = new Database(file);
    const row = db.prepare(`SELECT data FROM events WHERE stream = ? AND type = 'ValidationPassed'`).get(`optimization-${id}`) as { data: string };
    db.prepare(`UPDATE events SET data = ? WHERE stream = ? AND type = 'ValidationPassed'`).run(JSON.stringify({ ...JSON.parse(row.data), actualMonthlySavings: 500 }), `optimization-${id}`);
    db.close();
    const result = await optex(['verify', '--store', store]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`FAILED \\(hash-mismatch\\): optimization-${id}@\\d+ \\(ValidationPassed, id [0-9a-f-]+, position \\d+\\) records hash`));
    expect(result.stdout).toMatch(new RegExp(`first event that does not match: optimization-${id}@\\d+  ValidationPassed`));
    const report = json<{ ok: boolean; failure: { problem: string; event: { stream: string; type: string } } }>(await optex(['verify', '--store', store, '--json']));
    expect(report).toMatchObject({ ok: false, failure: { problem: 'hash-mismatch', event: { stream: `optimization-${id}`, type: 'ValidationPassed' } } });
  });
});
