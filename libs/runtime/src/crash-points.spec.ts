import { SimulatedFleet } from '@optex/cloud';
import { SqliteEventStore } from '@optex/event-store';
import { crashingGateway, crashingStore, parseCrashPoint } from './crash-points';

const ref = { accountId: '123456789012', region: 'us-east-1', id: 'i-1' };
const fleet = () => SimulatedFleet.fromFleet({ instances: [{ ...ref, instanceType: 'm5.large', state: 'running' }] });

describe('OPTEX_CRASH_AT fault injection', () => {
  it('parses call:N and append:N and names the variable otherwise', () => {
    expect(parseCrashPoint(undefined)).toBeUndefined();
    expect(parseCrashPoint('call:2')).toEqual({ kind: 'call', n: 2 });
    expect(parseCrashPoint('append:11')).toEqual({ kind: 'append', n: 11 });
    expect(parseCrashPoint('event:ExecutionStepStarted:2')).toEqual({ kind: 'event', eventType: 'ExecutionStepStarted', n: 2 });
    expect(() => parseCrashPoint('call:0')).toThrow(/OPTEX_CRASH_AT/);
    expect(() => parseCrashPoint('boom')).toThrow(/OPTEX_CRASH_AT/);
  });

  it('kills after the N-th mutating call returned, counting neither describes nor dry runs', async () => {
    const kill = jest.fn();
    const gw = crashingGateway(fleet(), { kind: 'call', n: 2 }, kill);
    await gw.describeInstance(ref);
    await expect(gw.stopInstance(ref, { dryRun: true })).rejects.toMatchObject({ awsCode: 'DryRunOperation' });
    await gw.stopInstance(ref);
    expect(kill).not.toHaveBeenCalled();
    await gw.startInstance(ref);
    expect(kill).toHaveBeenCalledTimes(1);
    expect((await gw.describeInstance(ref))?.state).toBe('running'); // the call itself went through before the kill
  });

  it('kills after the N-th append to an optimization stream', async () => {
    const kill = jest.fn();
    const store = crashingStore(SqliteEventStore.open(':memory:'), { kind: 'append', n: 2 }, kill);
    const e = (id: string) => [{ id, type: 'X', data: {} }];
    await store.appendToStream('batch-1', e('00000000-0000-4000-8000-000000000001'), 'any');
    await store.appendToStream('optimization-1', e('00000000-0000-4000-8000-000000000002'), 'any');
    expect(kill).not.toHaveBeenCalled();
    await store.appendToStream('optimization-1', e('00000000-0000-4000-8000-000000000003'), 'any');
    expect(kill).toHaveBeenCalledTimes(1);
    expect(await store.readStream('optimization-1')).toHaveLength(2);
    await store.close();
  });
});

it('event:TYPE:N kills after the N-th append holding an event of that type', async () => {
  const kill = jest.fn();
  const store = crashingStore(SqliteEventStore.open(':memory:'), { kind: 'event', eventType: 'B', n: 1 }, kill);
  await store.appendToStream('optimization-1', [{ id: '00000000-0000-4000-8000-000000000001', type: 'A', data: {} }], 'any');
  expect(kill).not.toHaveBeenCalled();
  await store.appendToStream('optimization-1', [{ id: '00000000-0000-4000-8000-000000000002', type: 'A', data: {} }, { id: '00000000-0000-4000-8000-000000000003', type: 'B', data: {} }], 'any');
  expect(kill).toHaveBeenCalledTimes(1);
  await store.close();
});
