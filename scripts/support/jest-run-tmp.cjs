// A jest reporter that gives each test run a temporary directory of its own: before the first test file starts it
// creates `optex-jest-XXXXXX` in the system's temporary directory and points TMPDIR at it, so everything the tests
// write there (CLI stores and inputs, Kafka's data, moto's and the stacks' logs, chromium's profiles) lands in one
// place — in this process (`--runInBand`) and in the workers jest forks after it. After the run it removes the
// directory when every test passed, and keeps it, printing its path, when anything failed or the run was interrupted.
// It is CommonJS because jest loads reporters without transforming them. jest.config.js lists it after `default`.
'use strict';
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

/** Where runs make their directories: the temporary directory before the first run changed TMPDIR (watch mode runs again). */
const BASE = 'OPTEX_JEST_BASE_TMPDIR';

class RunTmpReporter {
  /**
   * @param {unknown} _globalConfig
   * @param {{ write?: (line: string) => void; env?: Record<string, string | undefined> }} [options] where the "kept"
   *   line goes (stderr by default) and the environment to change (this process's by default)
   */
  constructor(_globalConfig, options = {}) {
    this.write = options.write ?? ((line) => process.stderr.write(`${line}\n`));
    this.env = options.env ?? process.env;
    /** @type {string | undefined} */
    this.dir = undefined;
  }

  onRunStart() {
    const base = (this.env[BASE] ??= this.env.TMPDIR || tmpdir());
    this.dir = mkdtempSync(join(base, 'optex-jest-'));
    this.env.TMPDIR = this.dir;
  }

  /** @param {unknown} _contexts @param {{ numFailedTests: number; numRuntimeErrorTestSuites: number; runExecError?: unknown; wasInterrupted?: boolean }} results */
  onRunComplete(_contexts, results) {
    const dir = this.dir;
    if (dir === undefined) return;
    this.dir = undefined;
    this.env.TMPDIR = this.env[BASE];
    const passed = results.numFailedTests === 0 && results.numRuntimeErrorTestSuites === 0 && !results.runExecError && !results.wasInterrupted;
    if (passed) rmSync(dir, { recursive: true, force: true });
    else this.write(`kept the run's temporary files in ${dir}`);
  }

  getLastError() {
    return undefined;
  }
}

module.exports = RunTmpReporter;
