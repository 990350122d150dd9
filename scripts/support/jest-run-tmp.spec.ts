import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Results {
  numFailedTests: number;
  numRuntimeErrorTestSuites: number;
  runExecError?: unknown;
  wasInterrupted?: boolean;
}
interface Reporter {
  onRunStart(): void;
  onRunComplete(contexts: unknown, results: Results): void;
}
type Env = Record<string, string | undefined>;
const RunTmpReporter = createRequire(__filename)('./jest-run-tmp.cjs') as new (globalConfig: unknown, options: { write: (line: string) => void; env: Env }) => Reporter;

const passed: Results = { numFailedTests: 0, numRuntimeErrorTestSuites: 0 };

describe("the jest reporter that gives a run's temporary files a directory of their own", () => {
  // The environment a run changes (jest's own runs change this process's; a spec sees only a copy of it).
  let env: Env;
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'optex-spec-jest-tmp-'));
    env = { TMPDIR: base };
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  /** Starts a run, writes a file where a test would (the temporary directory), ends it with `results`. */
  const run = (results: Results): { dir: string; lines: string[]; tmpdirAfter: string | undefined } => {
    const lines: string[] = [];
    const reporter = new RunTmpReporter({}, { write: (line) => lines.push(line), env });
    reporter.onRunStart();
    const dir = env['TMPDIR']!;
    writeFileSync(join(dir, 'events.db'), 'a store a test made');
    reporter.onRunComplete([], results);
    return { dir, lines, tmpdirAfter: env['TMPDIR'] };
  };

  it('points the temporary directory at a new directory for the run, and removes it after a run that passed', () => {
    const { dir, lines, tmpdirAfter } = run(passed);
    expect(dir).toMatch(new RegExp(`^${base}/optex-jest-\\w{6}$`));
    expect(existsSync(dir)).toBe(false);
    expect(lines).toEqual([]);
    expect(tmpdirAfter).toBe(base); // a later run (watch mode) starts from the same place
  });

  it.each([
    ['a test failed', { ...passed, numFailedTests: 1 }],
    ['a test file did not run', { ...passed, numRuntimeErrorTestSuites: 1 }],
    ['the run could not go on', { ...passed, runExecError: { message: 'worker crashed' } }],
    ['the run was interrupted', { ...passed, wasInterrupted: true }],
  ])('keeps the directory and says where it is when %s', (_why, results) => {
    const { dir, lines, tmpdirAfter } = run(results);
    expect(existsSync(join(dir, 'events.db'))).toBe(true);
    expect(lines).toEqual([`kept the run's temporary files in ${dir}`]);
    expect(tmpdirAfter).toBe(base);
  });

  it('gives every run its own directory', () => {
    const first = run({ ...passed, numFailedTests: 1 });
    const second = run({ ...passed, numFailedTests: 1 });
    expect(second.dir).not.toBe(first.dir);
    expect([existsSync(first.dir), existsSync(second.dir)]).toEqual([true, true]);
  });
});
