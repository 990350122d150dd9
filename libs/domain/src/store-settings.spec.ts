import { parseSettingsEvent, settingsOf, settleSettings, type StoreSettingsRecorded } from './store-settings';

const NOW = new Date('2026-03-01T10:00:00.000Z');
const DEFAULTS = { cloud: 'simulated:/repo/examples/fleet.json' };
const recorded = (data: Omit<StoreSettingsRecorded['data'], 'at' | 'by'>): StoreSettingsRecorded => ({ type: 'StoreSettingsRecorded', data: { ...data, by: 'run a.json', at: NOW.toISOString() } });

describe('settings remembered with a store', () => {
  it('given on a fresh store: in force from the flags, and recorded', () => {
    const s = settleSettings({}, { cloud: 'aws', policyFile: '/p.json' }, DEFAULTS, { by: 'run a.json', now: NOW });
    expect(s.cloud).toEqual({ value: 'aws', from: 'flag' });
    expect(s.policy).toEqual({ value: '/p.json', from: 'flag' });
    expect(s.record).toEqual(recorded({ cloud: 'aws', policyFile: '/p.json' }));
  });

  it('not given: the remembered values, nothing recorded', () => {
    const s = settleSettings(settingsOf([recorded({ cloud: 'aws', policyFile: '/p.json' })]), {}, DEFAULTS, { by: 'resume', now: NOW });
    expect(s.cloud).toEqual({ value: 'aws', from: 'store' });
    expect(s.policy).toEqual({ value: '/p.json', from: 'store' });
    expect(s.record).toBeUndefined();
  });

  it('never given: the default cloud and no policy file (the default policy)', () => {
    const s = settleSettings({}, {}, DEFAULTS, { by: 'resume', now: NOW });
    expect(s.cloud).toEqual({ value: DEFAULTS.cloud, from: 'default' });
    expect(s.policy).toEqual({ value: undefined, from: 'default' });
    expect(s.record).toBeUndefined();
  });

  it('the same flags again record nothing; another value overrides and is recorded alone', () => {
    const remembered = settingsOf([recorded({ cloud: 'aws', policyFile: '/p.json' })]);
    expect(settleSettings(remembered, { cloud: 'aws', policyFile: '/p.json' }, DEFAULTS, { by: 'run', now: NOW }).record).toBeUndefined();
    const s = settleSettings(remembered, { policyFile: '/q.json' }, DEFAULTS, { by: 'run b.json', now: NOW });
    expect(s.policy).toEqual({ value: '/q.json', from: 'flag' });
    expect(s.cloud).toEqual({ value: 'aws', from: 'store' });
    expect(s.record?.data).toEqual({ policyFile: '/q.json', by: 'run b.json', at: NOW.toISOString() });
  });

  it('folds to the last value given of each', () => {
    expect(settingsOf([recorded({ cloud: 'aws', policyFile: '/p.json' }), recorded({ policyFile: '/q.json' }), recorded({ cloud: 'aws:http://127.0.0.1:5000' })])).toEqual({
      cloud: 'aws:http://127.0.0.1:5000',
      policyFile: '/q.json',
    });
  });

  it('parses stored events strictly, naming what is wrong', () => {
    expect(parseSettingsEvent({ type: 'StoreSettingsRecorded', data: { cloud: 'aws', by: 'run', at: NOW.toISOString() } }).data.cloud).toBe('aws');
    expect(() => parseSettingsEvent({ type: 'StoreSettingsRecorded', data: { cloud: '', by: 'run', at: NOW.toISOString() }, revision: 3n })).toThrow(/optex-settings@3.*cloud/);
    expect(() => parseSettingsEvent({ type: 'Other', data: {} })).toThrow(/unknown event type "Other"/);
  });
});
