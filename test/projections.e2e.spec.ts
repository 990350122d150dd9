import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, json, optex, tempDir } from './support/cli';

jest.setTimeout(300_000);

interface Status {
  name: string;
  location: string;
  version: number;
  checkpoint: { version: number; position: string; rows: number; savedAt: string; current: boolean; notOfThisLog: string | null } | null;
  lagEvents: number;
}
interface Rebuild {
  name: string;
  droppedCheckpoint: boolean;
  events: number;
  optimizations: number;
  rejected: number;
  duplicates: number;
  position: string | null;
}

beforeAll(() => ensureBuilt());

// The API's read model on the embedded default: `projections status` says how far its checkpoint is behind the log,
// `projections rebuild` folds the whole log into a new checkpoint next to the store.
describe('optex projections status|rebuild', () => {
  const dir = tempDir('projections');
  const file = join(dir, 'events.db');
  const store = `sqlite:${file}`;
  const common = ['--store', store, '--cloud', 'simulated:test/fixtures/fleet.json', '--policy', 'test/fixtures/policy-auto.json'];
  let optimizations: number;

  beforeAll(async () => {
    const run = await optex(['run', 'test/fixtures/recommendations.ndjson', ...common, '--json']);
    expect(run.code).toBe(0);
    optimizations = json<{ optimizations: unknown[] }>(run).optimizations.length;
    expect(optimizations).toBeGreaterThan(3);
  });

  it('without a checkpoint, status counts every event the next start would fold', async () => {
    const [status] = json<Status[]>(await optex(['projections', 'status', '--store', store, '--json']));
    expect(status).toMatchObject({ name: 'api', location: `${file}.read-model.db`, checkpoint: null });
    expect(status!.lagEvents).toBeGreaterThan(optimizations);
  });

  it('rebuild folds the whole log into a checkpoint next to the store; status then finds nothing after it', async () => {
    const before = json<Status[]>(await optex(['projections', 'status', '--store', store, '--json']))[0]!;
    const rebuilt = json<Rebuild>(await optex(['projections', 'rebuild', '--store', store, '--json']));
    expect(rebuilt).toMatchObject({ name: 'api', droppedCheckpoint: false, events: before.lagEvents, optimizations, position: expect.stringMatching(/^\d+$/) });
    expect(existsSync(`${file}.read-model.db`)).toBe(true);
    const [after] = json<Status[]>(await optex(['projections', 'status', '--store', store, '--json']));
    expect(after).toMatchObject({ checkpoint: { version: after!.version, position: rebuilt.position, rows: optimizations + (rebuilt.rejected + rebuilt.duplicates > 0 ? 1 : 0), current: true }, lagEvents: 0 });

    const text = await optex(['projections', 'status', '--store', store]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^api\s+\d+\s+current\s+\d+\s+\d+\s+\S+\s+0$/m);
  });

  it('after more work, status counts only the new events; a second rebuild drops the old checkpoint', async () => {
    const checkpointed = json<Status[]>(await optex(['projections', 'status', '--store', store, '--json']))[0]!;
    // The same records with one more blank line: another input (its own delivery ids), each good record a duplicate of one
    // recorded, each bad one rejected again.
    const again = join(dir, 'again.ndjson');
    writeFileSync(again, `${readFileSync('test/fixtures/recommendations.ndjson', 'utf8')}\n`);
    const rerun = json<{ summary: { duplicates: number; rejected: number } }>(await optex(['run', again, ...common, '--json']));
    expect(rerun.summary.duplicates).toBeGreaterThan(0);
    const [later] = json<Status[]>(await optex(['projections', 'status', '--store', store, '--json']));
    expect(later!.checkpoint!.position).toBe(checkpointed.checkpoint!.position);
    expect(later!.lagEvents).toBe(rerun.summary.duplicates + rerun.summary.rejected); // one event each, nothing else of its streams
    const rebuilt = await optex(['projections', 'rebuild', '--store', store]);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout.trim()).toMatch(
      new RegExp(`^rebuilt read model api from \\d+ events: ${optimizations} optimizations, \\d+ rejected, ${rerun.summary.duplicates} duplicate records in [\\d.]+ s; checkpoint at position \\d+ in .*events\\.db\\.read-model\\.db \\(the previous one was dropped\\)$`),
    );
    expect(json<Status[]>(await optex(['projections', 'status', '--store', store, '--json']))[0]!.lagEvents).toBe(0);
  });

  it('after the store is restored from an older backup, status says the checkpoint is not of this log and counts the whole log; rebuild replaces it', async () => {
    const backup = join(dir, 'backup.db');
    copyFileSync(file, backup);
    const [whole] = json<Status[]>(await optex(['projections', 'status', '--store', `sqlite:${backup}`, '--read-model', join(dir, 'unused.db'), '--json']));
    // More work, and a checkpoint of it; then the backup is put back in the store's place.
    const more = join(dir, 'more.ndjson');
    writeFileSync(more, `${readFileSync('test/fixtures/recommendations.ndjson', 'utf8')}\n\n`);
    expect((await optex(['run', more, ...common, '--json'])).code).toBe(0);
    expect((await optex(['projections', 'rebuild', '--store', store])).code).toBe(0);
    copyFileSync(backup, file);
    const [restored] = json<Status[]>(await optex(['projections', 'status', '--store', store, '--json']));
    expect(restored!.checkpoint).toMatchObject({ current: true, notOfThisLog: expect.stringMatching(/^the log ends before position \d+, where its event \S+ was \(a log restored from an older backup, or another log\)$/) });
    expect(restored!.lagEvents).toBe(whole!.lagEvents);
    const text = await optex(['projections', 'status', '--store', store]);
    expect(text.stdout).toMatch(/^api\s+\d+\s+not of this log \(see below\)\s+\d+\s+\d+\s+\S+\s+\d+$/m);
    expect(text.stdout).toMatch(/^api: the checkpoint is not of this log: the log ends before position \d+, where its event \S+ was \(a log restored from an older backup, or another log\); the next start drops it and folds the whole log$/m);
    expect((await optex(['projections', 'rebuild', '--store', store])).code).toBe(0);
    const [rebuilt] = json<Status[]>(await optex(['projections', 'status', '--store', store, '--json']));
    expect(rebuilt!.checkpoint).toMatchObject({ current: true, notOfThisLog: null });
    expect(rebuilt!.lagEvents).toBe(0);
  });

  it('refuses a store that does not exist, creating nothing', async () => {
    const missing = join(dir, 'nope', 'events.db');
    const result = await optex(['projections', 'rebuild', '--store', `sqlite:${missing}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('does not exist');
    expect(existsSync(`${missing}.read-model.db`)).toBe(false);
  });
});
