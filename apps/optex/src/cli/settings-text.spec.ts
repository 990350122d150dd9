import { settingsText } from './commands';

describe('settingsText: the cloud and policy a run used', () => {
  const settings = { cloud: { value: 'simulated:examples/fleet.json', from: 'flag' }, policy: { value: undefined, from: 'default' } } as const;

  it('tells that a store on disk remembers them for later commands', () => {
    expect(settingsText(settings, 'sqlite:.optex/events.db')).toBe(
      'Cloud simulated:examples/fleet.json (given now),\npolicy the default policy (the default);\nlater commands on this store use them unless given --cloud/--policy.',
    );
  });

  it('promises nothing of a memory: store, which ends with the command', () => {
    expect(settingsText(settings, 'memory:')).toBe('Cloud simulated:examples/fleet.json (given now),\npolicy the default policy (the default).');
  });
});
