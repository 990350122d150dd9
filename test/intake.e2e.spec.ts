import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { optimizationDecider, optimizationIdFor, optimizationStream, type Recommendation } from '@optex/domain';
import { SqliteEventStore } from '@optex/event-store';
import { handleCommand } from '@optex/engine';
import { gp3Recommendation } from '@optex/testing';
import { ensureBuilt, json, optex, tempDir, ROOT } from './support/cli';

// Issue 7, findings 1, 2, 3 and 6, through the built CLI: every record ends processed, rejected or duplicate,
// limits hold before anything is parsed, and text output cannot be forged.

jest.setTimeout(180_000);

interface Report {
  summary: { received: number; rejected: number; duplicates: number; byStatus: Record<string, number> };
  optimizations: { recommendationId: string; resourceId: string; status: string }[];
  rejected: { index: number; recommendationId: string | null; errors: string[] }[];
}

const FLEET = 'test/fixtures/fleet.json';
const PEAK_RSS = join(ROOT, 'scripts/support/report-peak-rss.cjs');
const good = (recommendationId: string, extra: Record<string, unknown> = {}) => gp3Recommendation({ recommendationId, source: 'e2e-intake', volumeId: 'vol-0e2e000000000002' }, extra);
const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const common = ['--store', 'memory:', '--cloud', `simulated:${FLEET}`, '--dry-run'];

beforeAll(() => ensureBuilt());

describe('intake limits and honest parsing (issue 7)', () => {
  const dir = tempDir('intake');

  it('finding 1: one NDJSON line nested 10,000 deep: received 1, rejected 1, exit 0', async () => {
    const file = join(dir, 'deep.ndjson');
    writeFileSync(file, `${deep(10_000)}\n`);
    const result = await optex(['run', file, ...common, '--json']);
    expect(result.code).toBe(0);
    const report = json<Report>(result);
    expect(report.summary).toMatchObject({ received: 1, rejected: 1, duplicates: 0 });
    expect(report.rejected[0]!.errors[0]).toMatch(/is nested deeper than the limit of 16 levels$/);
  });

  it('finding 2: a record nested 10,000 deep in a JSON array does not kill the run; the others are processed', async () => {
    const file = join(dir, 'deep.json');
    writeFileSync(file, `[${JSON.stringify(good('e2e-a'))},${deep(10_000)}]`);
    const result = await optex(['run', file, ...common, '--json']);
    expect(result.code).toBe(0);
    const report = json<Report>(result);
    expect(report.summary).toMatchObject({ received: 2, rejected: 1 });
    expect(report.rejected.map((r) => r.index)).toEqual([1]);
    expect(report.optimizations).toEqual([expect.objectContaining({ recommendationId: 'e2e-a', status: 'dry-run-completed' })]);
  });

  it('finding 3: a 50 MB resource.id is rejected with its size, and the run stays small (peak RSS measured)', async () => {
    const file = join(dir, 'huge.ndjson');
    const out = createWriteStream(file);
    const [before, after] = JSON.stringify(good('e2e-huge', { resource: { type: 'ec2:volume', id: 'ID' } })).split('"ID"');
    out.write(`${before}"vol-`);
    const block = '0'.repeat(1024 * 1024);
    for (let i = 0; i < 50; i++) out.write(block);
    out.write(`"${after}\n${JSON.stringify(good('e2e-next'))}\n`);
    out.end();
    await once(out, 'close');
    const rssFile = join(dir, 'rss');
    const result = await optex(['run', file, ...common, '--json'], { nodeArgs: ['--require', PEAK_RSS], env: { OPTEX_PEAK_RSS_FILE: rssFile } });
    expect(result.code).toBe(0);
    const report = json<Report>(result);
    expect(report.summary).toMatchObject({ received: 2, rejected: 1 });
    expect(report.rejected[0]!.errors).toEqual([expect.stringMatching(/^\(root\): \(root\) is 524\d{5} bytes, more than the limit of 65536$/), 'resource.id: resource.id is longer than the limit of 1024 characters']);
    expect(report.optimizations.map((o) => o.recommendationId)).toEqual(['e2e-next']);
    const peakRss = Number(readFileSync(rssFile, 'utf8'));
    process.stderr.write(`peak RSS of run on a 50 MB input: ${(peakRss / 2 ** 20).toFixed(0)} MiB\n`);
    expect(peakRss).toBeLessThan(400 * 2 ** 20); // main took 3.25 GB on this input
  });

  it('finding 3: invalid UTF-8 is rejected naming the record and the field; a BOM is stripped from a JSON array', async () => {
    const file = join(dir, 'utf8.json');
    const [before, after] = JSON.stringify(good('e2e-utf8')).split('vol-0e2e000000000002');
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`[${JSON.stringify(good('e2e-bom'))},${before}vol-`), Buffer.from([0xff, 0xfe]), Buffer.from(`${after}]`)]));
    const report = json<Report>(await optex(['run', file, ...common, '--json']));
    expect(report.summary).toMatchObject({ received: 2, rejected: 1 });
    expect(report.optimizations.map((o) => o.recommendationId)).toEqual(['e2e-bom']);
    expect(report.rejected).toEqual([{ index: 1, recommendationId: null, errors: [expect.stringMatching(/^resource\.id: resource\.id is not valid UTF-8 \(byte 0xff at offset \d+\)$/)] }]);
  });

  it('finding 3: whitespace-only source, duplicate keys, m5.huge and xx-yy-1 are rejected naming the field; NDJSON keeps its first record after a BOM', async () => {
    const lines = [
      JSON.stringify(good('e2e-first')),
      JSON.stringify(good('e2e-blank', { source: '   ' })),
      JSON.stringify(good('e2e-dup')).replace('"source":"e2e-intake"', '"source":"e2e-intake","source":"other"'),
      JSON.stringify(good('e2e-type', { resource: { type: 'ec2:instance', id: 'i-0e2e000000000001' }, action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.huge' } })),
      JSON.stringify(good('e2e-region', { region: 'xx-yy-1' })),
    ];
    const report = json<Report>(await optex(['run', '-', ...common, '--json'], { input: `\ufeff${lines.join('\n')}\n` }));
    expect(report.summary).toMatchObject({ received: 5, rejected: 4, duplicates: 0 });
    expect(report.optimizations.map((o) => o.recommendationId)).toEqual(['e2e-first']);
    expect(report.rejected.map((r) => [r.index, r.recommendationId, r.errors])).toEqual([
      [1, 'e2e-blank', ['source: source must not be blank (only whitespace)']],
      [2, 'e2e-dup', ['source: source is given more than once (duplicate key)']],
      [3, 'e2e-type', ['action.targetInstanceType: action.targetInstanceType must be a known EC2 instance type (family.size, e.g. m5.large), got "m5.huge"']],
      [4, 'e2e-region', ['region: region must be a known AWS region (e.g. us-east-1, eu-west-1; the list ships with the price book), got "xx-yy-1"']],
    ]);
  });

  it('an input over OPTEX_MAX_FILE_BYTES exits 2 with one line, before anything is processed', async () => {
    const file = join(dir, 'limit.ndjson');
    writeFileSync(file, `${JSON.stringify(good('e2e-limit'))}\n`);
    const result = await optex(['run', file, ...common], { env: { OPTEX_MAX_FILE_BYTES: '100' } });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^optex: .*limit\.ndjson is \d+ bytes, more than the input limit of 100 \(OPTEX_MAX_FILE_BYTES\)$/)]);
  });
});

describe('terminal-safe output (issue 7 finding 6)', () => {
  const FORGED = 'i-1\n8f00  fake-row  i-forged  stop-idle  LOW  auto  completed\u001b[2J\u001b[H';
  // Any C0 control other than the table's own newlines, DEL, C1: what a terminal would interpret.
  const INTERPRETED = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

  it('run: a recommendation id with a newline and ANSI escapes is printed escaped in the rejected table', async () => {
    const input = `${JSON.stringify(good(FORGED))}\n`;
    const result = await optex(['run', '-', ...common, '--wide'], { input }); // every cell whole: the escapes are all there
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(INTERPRETED);
    expect(result.stdout).toContain('i-1\\n8f00  fake-row  i-forged  stop-idle  LOW  auto  completed\\x1b[2J\\x1b[H');
    expect(result.stdout.split('\n').filter((l) => l.includes('fake-row'))).toHaveLength(1);
  });

  it('list: a resource id with a newline and ANSI escapes already in a store is printed escaped, on one row', async () => {
    const dir = tempDir('forged');
    const path = join(dir, 'events.db');
    const store = SqliteEventStore.open(path);
    const recommendation = { ...good('e2e-forged'), resource: { type: 'ec2:volume', id: FORGED } } as Recommendation;
    const optimizationId = optimizationIdFor(recommendation.source, recommendation.recommendationId);
    await handleCommand(
      store,
      optimizationStream(optimizationId),
      optimizationDecider,
      { type: 'ReceiveRecommendation', data: { optimizationId, recommendation, dryRun: false, deliveryId: 'written-before-intake-checks' }, metadata: { now: new Date() } },
      { causationKey: 'written-before-intake-checks', recordedBy: 'e2e', metadata: { resourceKey: 'forged' } },
    );
    await store.close();
    const result = await optex(['list', '--store', `sqlite:${path}`, '--wide']); // every cell whole, no "fitted" line
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(INTERPRETED);
    expect(result.stdout.trimEnd().split('\n')).toHaveLength(3);
    expect(result.stdout).toContain('i-1\\n8f00  fake-row');
    const listed = json<{ optimizations: { resourceId: string }[] }>(await optex(['list', '--store', `sqlite:${path}`, '--json']));
    expect(listed.optimizations[0]!.resourceId).toBe(FORGED); // JSON keeps the value, escaped by JSON itself
  });
});
