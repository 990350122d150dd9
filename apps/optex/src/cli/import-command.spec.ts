import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { silentLogger } from '@optex/ports';
import { UsageError } from '@optex/runtime';
import { importCommand, type ImportFlags } from './import-command';

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'analyzers');
const flags = (more: Partial<ImportFlags>): ImportFlags => ({ store: 'sqlite::memory:', bus: 'memory', ...more });

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s), logger: silentLogger } };
};

describe('optex import', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'optex-import-spec-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses --action with any --from but custodian (exit 2, as --metadata and --addresses), and takes it with custodian', async () => {
    const coh = join(FIXTURES, 'coh-get-recommendation-ebs-delete.json');
    for (const from of ['coh', 'compute-optimizer', 'trusted-advisor']) {
      await expect(importCommand(io().io, coh, flags({ from, action: 'delete' }))).rejects.toThrow(new UsageError('--action: only for --from custodian'));
    }
    const { out, io: cli } = io();
    expect(await importCommand(cli, join(FIXTURES, 'c7n-ebs-unattached.resources.json'), flags({ from: 'custodian', action: 'delete', json: true }))).toBe(0);
    expect(JSON.parse(out[0]!).counts).toMatchObject({ items: 1, recommendations: 1 });
  });

  it('reads the document from stdin with -: the same recommendations as from the file; stdin named in messages and refused past the input limit', async () => {
    const file = join(FIXTURES, 'coh-list-recommendations.json');
    const fromFile = io();
    expect(await importCommand(fromFile.io, file, flags({ from: 'coh', json: true }))).toBe(0);
    const fromStdin = io();
    const text = readFileSync(file);
    // In two chunks, as a pipe delivers it.
    const stdin = Readable.from([text.subarray(0, 100), text.subarray(100)]);
    expect(await importCommand({ ...fromStdin.io, stdin }, '-', flags({ from: 'coh', json: true }))).toBe(0);
    expect(JSON.parse(fromStdin.out[0]!)).toEqual(JSON.parse(fromFile.out[0]!));
    expect(JSON.parse(fromStdin.out[0]!).counts.recommendations).toBeGreaterThan(0);

    await expect(importCommand({ ...io().io, stdin: Readable.from([Buffer.from('{"items": [')]) }, '-', flags({ from: 'coh' }))).rejects.toThrow(/^unreadable input stdin: not JSON/);
    const saved = process.env['OPTEX_MAX_FILE_BYTES'];
    process.env['OPTEX_MAX_FILE_BYTES'] = '50';
    try {
      await expect(importCommand({ ...io().io, stdin: Readable.from([text]) }, '-', flags({ from: 'coh' }))).rejects.toThrow(new UsageError('stdin is more than the input limit of 50 bytes (OPTEX_MAX_FILE_BYTES)'));
    } finally {
      if (saved === undefined) delete process.env['OPTEX_MAX_FILE_BYTES'];
      else process.env['OPTEX_MAX_FILE_BYTES'] = saved;
    }
  });

  describe('a document that is one page of several (nextToken)', () => {
    let page: string;
    beforeAll(() => {
      const list = JSON.parse(readFileSync(join(FIXTURES, 'coh-list-recommendations.json'), 'utf8')) as { items: unknown[] };
      page = join(dir, 'coh-page.json');
      writeFileSync(page, JSON.stringify({ items: list.items.slice(0, 2), nextToken: 'abc' }));
    });

    it('is imported, with a warning on stderr in text', async () => {
      const { out, err, io: cli } = io();
      expect(await importCommand(cli, page, flags({ from: 'coh' }))).toBe(0);
      expect(out[0]).toMatch(/^2 items: 1 recommendations, 1 skipped, 0 rejected by the intake/);
      expect(err).toEqual([
        `warning: ${page} is one page of several (nextToken "abc"): only its items are imported; fetch and import the other pages too (or let the AWS CLI paginate: no --max-items, no --no-paginate)`,
      ]);
    });

    it('is imported, with partial: {nextToken} in --json and nothing on stderr', async () => {
      const { out, err, io: cli } = io();
      expect(await importCommand(cli, page, flags({ from: 'coh', json: true }))).toBe(0);
      const report = JSON.parse(out[0]!) as { partial?: unknown; counts: object };
      expect(report).toMatchObject({ partial: { nextToken: 'abc' }, counts: { items: 2, recommendations: 1 } });
      expect(err).toEqual([]);
    });

    it('a complete response (nextToken null) says nothing of pages', async () => {
      const { out, err, io: cli } = io();
      expect(await importCommand(cli, join(FIXTURES, 'coh-list-recommendations.json'), flags({ from: 'coh', json: true }))).toBe(0);
      expect(JSON.parse(out[0]!)).not.toHaveProperty('partial');
      expect(err).toEqual([]);
    });
  });
});
