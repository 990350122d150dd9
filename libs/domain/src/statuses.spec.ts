import { ACTIVE_EXECUTION_STATUSES, MOVING_STATUSES, RESOURCE_HELD_STATUSES, TERMINAL_STATUSES, WAITING_FOR_PEOPLE_STATUSES, goesOnForReal } from './statuses';
import { OPTIMIZATION_STATUSES } from './queries';

describe('statuses', () => {
  it('every status is exactly one of: terminal, waiting for a person, moved on by the engine', () => {
    const sets = [TERMINAL_STATUSES, WAITING_FOR_PEOPLE_STATUSES, MOVING_STATUSES];
    for (const status of OPTIMIZATION_STATUSES) expect([status, sets.filter((set) => set.includes(status)).length]).toEqual([status, 1]);
    expect(sets.flat().length).toBe(OPTIMIZATION_STATUSES.length);
  });

  it.each(MOVING_STATUSES)('a real optimization %s goes on for real when the engine runs; its preview does not', (status) => {
    expect(goesOnForReal({ status, dryRun: false })).toBe(true);
    expect(goesOnForReal({ status, dryRun: true })).toBe(false);
  });

  it.each([...TERMINAL_STATUSES, ...WAITING_FOR_PEOPLE_STATUSES])('a real optimization %s does not: the engine leaves it where it is', (status) => {
    expect(goesOnForReal({ status, dryRun: false })).toBe(false);
  });

  it('an optimization holds its resource while it executes and while it waits for an operator: rollback-failed too, though it takes no slot', () => {
    expect(RESOURCE_HELD_STATUSES).toEqual([...ACTIVE_EXECUTION_STATUSES, 'rollback-failed']);
    expect(ACTIVE_EXECUTION_STATUSES).not.toContain('rollback-failed');
    for (const released of ['rolled-back', 'resolved', 'completed', 'failed'] as const) expect(RESOURCE_HELD_STATUSES).not.toContain(released);
  });
});
