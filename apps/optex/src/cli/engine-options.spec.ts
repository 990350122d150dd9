import { engineOptions } from './commands';

const flags = { store: 'memory:', bus: 'memory' };

describe('run/resume engine options', () => {
  it('take the batch window from OPTEX_BATCH_WINDOW_MS and OPTEX_BATCH_QUIET_MS, as the service processes do (the CLI ignored them)', () => {
    expect(engineOptions(flags, {})).toEqual({ batchMode: 'parallel', maxParallel: 4 });
    expect(engineOptions({ ...flags, batchMode: 'sequential' }, { OPTEX_BATCH_WINDOW_MS: '60000', OPTEX_BATCH_QUIET_MS: '0' })).toEqual({ batchMode: 'sequential', maxParallel: 4, batchWindowMs: 60000, batchQuietMs: 0 });
  });

  it('refuse a window that is not a whole number of milliseconds, naming the variable', () => {
    expect(() => engineOptions(flags, { OPTEX_BATCH_WINDOW_MS: '0' })).toThrow('OPTEX_BATCH_WINDOW_MS must be a whole number ≥ 1, got "0"');
    expect(() => engineOptions(flags, { OPTEX_BATCH_QUIET_MS: '5s' })).toThrow('OPTEX_BATCH_QUIET_MS must be a whole number ≥ 0, got "5s"');
  });

  it("take the executor's bound on a failing look-up from OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS, and refuse one that is not a whole number ≥ 1", () => {
    expect(engineOptions(flags, { OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS: '5000' })).toEqual({ batchMode: 'parallel', maxParallel: 4, reconcileLookupTimeoutMs: 5000 });
    expect(() => engineOptions(flags, { OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS: '0' })).toThrow('OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS must be a whole number ≥ 1, got "0"');
  });
});
