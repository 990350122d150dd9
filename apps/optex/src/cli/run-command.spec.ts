import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@optex/ports';
import { engineOptions } from './commands';
import { main } from './program';

// `run` and `resume`: what is refused is refused before anything runs or is created (exit 2 naming the flag), and what
// fails at the end still leaves the report on stdout.

const ROOT = join(__dirname, '..', '..', '..', '..');
const RECS = join(ROOT, 'examples/recommendations.json');
const CLOUD = ['--cloud', `simulated:${join(ROOT, 'examples/fleet.json')}`];
const dir = mkdtempSync(join(tmpdir(), 'optex-run-command-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function optex(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s), logger: silentLogger });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

let n = 0;
/** A directory of its own for each case (nothing in it yet). */
const fresh = (): string => {
  const d = join(dir, `case-${++n}`);
  mkdirSync(d);
  return d;
};
const NO_STACK = /\n\s+at /;

describe('run --output FILE', () => {
  it.each([
    ['under a file', (d: string) => join(d, 'afile', 'report.json'), /^optex: --output: cannot write .*afile\/report\.json: .*afile is not a directory$/],
    ['a directory', (d: string) => d, /^optex: --output: cannot write .*: it is a directory$/],
    ['in /proc', () => '/proc/optex-report.json', /^optex: --output: cannot write \/proc\/optex-report\.json: ENOENT \(no such file or directory\)$/],
    // Node 20's mkdirSync(…, { recursive: true }) never returns there: the directory was made that way after the run.
    ['in a directory to be made under /proc', () => '/proc/optex-spec/report.json', /^optex: --output: cannot write \/proc\/optex-spec\/report\.json: cannot create the directory \/proc\/optex-spec: ENOENT/],
  ])('that cannot be written (%s) exits 2 before anything runs: no store, no report', async (_what, output, message) => {
    const d = fresh();
    writeFileSync(join(d, 'afile'), 'a file, not a directory');
    const store = join(d, 'events.db');
    const result = await optex(['run', RECS, '--store', `sqlite:${store}`, ...CLOUD, '--output', output(d)]);
    expect(existsSync(store)).toBe(false); // nothing ran
    expect(readdirSync(d)).toEqual(['afile']); // no probe left behind either
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('that can be written is written, its missing directories created, and no probe file is left beside it', async () => {
    const d = fresh();
    const output = join(d, 'out', 'deep', 'report.json');
    const result = await optex(['run', RECS, '--store', `sqlite:${join(d, 'events.db')}`, ...CLOUD, '--output', output]);
    expect(result.code).toBe(0);
    expect(JSON.parse(readFileSync(output, 'utf8'))).toHaveProperty('summary');
    expect(readdirSync(join(d, 'out', 'deep'))).toEqual(['report.json']);
  });

  it('that fails to be written at the end (/dev/full): the report is on stdout all the same, stderr says so, exit 4', async () => {
    const d = fresh();
    const result = await optex(['run', RECS, '--store', `sqlite:${join(d, 'events.db')}`, ...CLOUD, '--output', '/dev/full']);
    expect(result.code).toBe(4);
    expect(result.stdout).toMatch(/^Received 25 recommendations/m);
    expect(result.stdout).not.toContain('/dev/full');
    expect(result.stderr).toBe('optex: --output: cannot write /dev/full: ENOSPC (no space left on device); the work is done and the report was printed on stdout only (exit 4)');
    const json = await optex(['resume', '--store', `sqlite:${join(d, 'events.db')}`, '--output', '/dev/full', '--json']);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout)).toHaveProperty('summary');
  });
});

describe('run --store PATH that cannot be created', () => {
  it.each([
    ['under a file', (d: string) => join(d, 'afile', 'x.db'), /^optex: --store: sqlite:.*afile\/x\.db cannot be used: .*afile is not a directory$/],
    ['in /proc', () => '/proc/optex-x.db', /^optex: --store: sqlite:\/proc\/optex-x\.db cannot be used: cannot create \/proc\/optex-x\.db\.lock \(its writer lock\): ENOENT \(no such file or directory\)$/],
    ['a directory', (d: string) => d, /^optex: --store: sqlite:.* cannot be used: .* is a directory$/],
    ['in a directory to be made under /proc', () => '/proc/optex-spec/x.db', /^optex: --store: sqlite:\/proc\/optex-spec\/x\.db cannot be used: cannot create the directory \/proc\/optex-spec: ENOENT/],
  ])('%s: one line naming --store and why, exit 2, no stack trace', async (_what, path, message) => {
    const d = fresh();
    writeFileSync(join(d, 'afile'), '');
    const result = await optex(['run', RECS, '--store', `sqlite:${path(d)}`, ...CLOUD]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(NO_STACK);
  });
});

describe('--not-before: the strict ISO-8601 parser of replay --from and state --at', () => {
  it.each(['2027-02-31T00:00:00Z', '2027-02-31', 'Dec 25 2027', '1', '2027-02-28', 'tomorrow'])('%s is refused (exit 2) naming the flag, as --from and --at refuse it', async (value) => {
    const message = (flag: string) => `optex: ${flag}: expected an ISO-8601 time such as 2026-12-02T10:00:00Z, got ${JSON.stringify(value)}`;
    const d = fresh();
    const store = `sqlite:${join(d, 'events.db')}`;
    const run = await optex(['run', RECS, '--store', store, ...CLOUD, '--not-before', value]);
    expect([run.code, run.stderr]).toEqual([2, message('--not-before')]);
    expect(existsSync(join(d, 'events.db'))).toBe(false);
    expect((await optex(['run', RECS, '--store', store, ...CLOUD])).code).toBe(0);
    expect((await optex(['resume', '--store', store, '--not-before', value])).stderr).toBe(message('--not-before'));
    expect((await optex(['replay', '--format', 'csv', '--from', value, '--store', store])).stderr).toBe(message('--from'));
    expect((await optex(['state', 'x', '--at', value, '--store', store])).stderr).toBe(message('--at'));
  });

  it('an instant with its zone is taken as that instant', () => {
    expect(engineOptions({ store: 'memory:', bus: 'memory', notBefore: '2028-02-29T10:00:00+01:00' }, {}).notBefore).toEqual(new Date('2028-02-29T09:00:00.000Z'));
  });
});

describe('resume and run on a store that does not exist', () => {
  it('resume refuses it (exit 1, as list and approve do) and creates nothing', async () => {
    const d = fresh();
    const result = await optex(['resume', '--store', `sqlite:${join(d, 'typo', 'events.db')}`, ...CLOUD]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`optex: --store: ${join(d, 'typo', 'events.db')} does not exist (nothing was run against it)`);
    expect(readdirSync(d)).toEqual([]);
  });

  it('an empty (0-byte) store file is refused by resume and list, and left as it was (no schema written into it)', async () => {
    const d = fresh();
    const file = join(d, 'events.db');
    writeFileSync(file, '');
    for (const args of [['resume', '--store', `sqlite:${file}`, ...CLOUD], ['list', '--store', `sqlite:${file}`]]) {
      const result = await optex(args);
      expect({ command: args[0], code: result.code, stderr: result.stderr }).toEqual({ command: args[0], code: 1, stderr: `optex: --store: ${file} is empty (0 bytes): not an optex store (nothing was run against it)` });
    }
    expect(readdirSync(d)).toEqual(['events.db']);
    expect(statSync(file).size).toBe(0);
  });

  it.each([
    ['a fleet file that is not JSON', (d: string) => ['--cloud', `simulated:${join(d, 'broken.json')}`], /^optex: --cloud: .*broken\.json: not valid JSON/],
    ['a fleet file that is not there (the default, from another directory)', (d: string) => ['--cloud', `simulated:${join(d, 'none.json')}`], /^optex: --cloud: .*none\.json: cannot read the fleet file/],
    ['a policy that is not JSON', (d: string) => [...CLOUD, '--policy', join(d, 'broken.json')], /^optex: --policy: .*broken\.json is not valid JSON/],
    ['a bad bus url', () => [...CLOUD, '--bus', 'kafka://nowhere'], /^optex: --bus: expected memory or kafka:\/\/host:port/],
  ])('run refuses %s before the store is created: nothing is left behind', async (_what, flags, message) => {
    const d = fresh();
    writeFileSync(join(d, 'broken.json'), '{');
    const result = await optex(['run', RECS, '--store', `sqlite:${join(d, 'new', 'events.db')}`, ...flags(d)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(readdirSync(d)).toEqual(['broken.json']);
  });
});
