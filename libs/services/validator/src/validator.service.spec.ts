import { defaultPolicy, defaultPriceBook, optimizationDecider, optimizationStream, parseRecommendation, type OptimizationCommand, type Recommendation } from '@optex/domain';
import { ec2Error, silentLogger, type Clock } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics, defaultEngineOptions, handleCommand, loadStream } from '@optex/engine';
import { ExecutorService } from '@optex/executor';
import { asDelivered, gp3Recommendation, recordUpTo, upToScheduled } from '@optex/testing';
import { ValidatorService } from './validator.service';

const NOW = new Date('2026-11-26T10:00:00Z');
const clock = { now: () => NOW };
const fleetFile = { volumes: [{ id: 'vol-1', accountId: '123456789012', region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' }] };

function gp3(id: string): Recommendation {
  const parsed = parseRecommendation(gp3Recommendation({ recommendationId: id, source: 'spec', volumeId: 'vol-1' }));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

/** A store holding one modify-volume optimization the executor carried to `validating`, and a validator on it. */
async function executed() {
  const store = SqliteEventStore.open(':memory:');
  const fleet = SimulatedFleet.fromFleet(fleetFile, { clock });
  const id = await upToScheduled(store, gp3('v1'), NOW);
  return { store, id, fleet, ...(await executedBy(store, fleet, id, clock)) };
}

/** The executor carries the scheduled optimization `id` to `validating`; a validator on it, and its ExecutionSucceeded. */
async function executedBy(store: SqliteEventStore, fleet: SimulatedFleet, id: string, at: Clock) {
  const options = { ...defaultEngineOptions, recoverOnStart: false, sweepEveryMs: 0 };
  const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, at, silentLogger, new OptexMetrics(), options);
  await executor.onApplicationBootstrap();
  await executor.drive(id, 'spec');
  await executor.onModuleDestroy();
  expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('validating');
  const validator = new ValidatorService(store, fleet, fleet, defaultPriceBook, defaultPolicy, at, silentLogger, new OptexMetrics(), options);
  await validator.onApplicationBootstrap();
  const succeeded = (await store.readStream(optimizationStream(id))).find((e) => e.type === 'ExecutionSucceeded')!;
  return { validator, succeeded };
}

describe('ValidatorService', () => {
  it('validates an optimization when the ExecutionSucceeded it is handed is the last event of its stream', async () => {
    const { store, id, validator, succeeded } = await executed();
    await validator.onEvent(asDelivered(succeeded));
    const { state } = await loadStream(store, optimizationStream(id), optimizationDecider);
    expect(state.status).toBe('completed');
    expect((await store.readStream(optimizationStream(id))).at(-1)?.type).toBe('ValidationPassed');
    await validator.onModuleDestroy();
    await store.close();
  });

  it('validates on the state its read model folded: no read of the stream; handed the same event again, does nothing', async () => {
    const { store, id, validator, succeeded, fleet } = await executed();
    const read = jest.spyOn(store, 'readStream');
    const describes = () => fleet.calls().filter((c) => c.operation === 'describeVolume').length;
    const before = describes();
    await validator.onEvent(asDelivered(succeeded));
    expect(read.mock.calls.filter(([stream]) => stream === optimizationStream(id))).toHaveLength(0);
    expect(describes()).toBe(before + 1);

    await validator.onEvent(asDelivered(succeeded)); // redelivered: the read model is past it, the stream says so
    expect(describes()).toBe(before + 1);
    read.mockRestore();
    expect((await store.readStream(optimizationStream(id))).filter((e) => e.type === 'ValidationPassed')).toHaveLength(1);
    await validator.onModuleDestroy();
    await store.close();
  });

  it('a stream that moved on past its read model (another validator validated it meanwhile): its events are the same, appended once', async () => {
    const { store, id, validator, succeeded, fleet } = await executed();
    const other = new ValidatorService(store, fleet, fleet, defaultPriceBook, defaultPolicy, clock, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false, sweepEveryMs: 0 });
    await other.onApplicationBootstrap();
    await other.onEvent(asDelivered(succeeded));
    await validator.onEvent(asDelivered(succeeded));
    const types = (await store.readStream(optimizationStream(id))).map((e) => e.type);
    expect(types.filter((t) => t === 'ValidationPassed')).toHaveLength(1);
    expect(types.at(-1)).toBe('ValidationPassed');
    await other.onModuleDestroy();
    await validator.onModuleDestroy();
    await store.close();
  });

  it('does nothing for an ExecutionSucceeded the stream has moved past (its validation event ids would derive from a stale event)', async () => {
    const { store, id, validator, succeeded } = await executed();
    const before = (await store.readStream(optimizationStream(id))).length;
    await validator.onEvent(asDelivered(succeeded, succeeded.revision - 1n));
    expect((await store.readStream(optimizationStream(id))).length).toBe(before);
    expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('validating');
    await validator.onModuleDestroy();
    await store.close();
  });

  it("an instance's change validated in the millisecond it ended is sampled once the clock has moved, not passed unseen", async () => {
    // The clock stands still at NOW (the executor ends the change at NOW) until a timer moves it 5 ms on: the first
    // macrotask after the validator is handed the event, which only its wait for the clock gives.
    let current = NOW;
    const clockThatMoves = { now: () => current };
    const fleet = SimulatedFleet.fromFleet(
      { instances: [{ id: 'i-1', accountId: '123456789012', region: 'us-east-1', instanceType: 'c5.2xlarge', state: 'running', cpuP95: 47 }] },
      { clock: clockThatMoves },
    );
    const parsed = parseRecommendation({
      recommendationId: 'rs1',
      source: 'spec',
      accountId: '123456789012',
      region: 'us-east-1',
      resource: { type: 'ec2:instance', id: 'i-1' },
      action: { type: 'rightsize', currentInstanceType: 'c5.2xlarge', targetInstanceType: 'c5.xlarge' },
      estimatedMonthlySavings: 124.1,
      currency: 'USD',
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const store = SqliteEventStore.open(':memory:');
    // a rightsize is MEDIUM risk: approved by a person before it is scheduled
    const id = await recordUpTo(store, parsed.value, NOW, 'approved');
    const stream = optimizationStream(id);
    const command = (c: OptimizationCommand, key: string) => handleCommand(store, stream, optimizationDecider, c, { causationKey: key, recordedBy: 'spec' });
    await command({ type: 'Approve', data: { by: 'alice' }, metadata: { now: NOW } }, 'spec-approve');
    await command({ type: 'ScheduleExecution', data: { batchId: 'b1', notBefore: NOW }, metadata: { now: NOW } }, 'spec-schedule');
    const { validator, succeeded } = await executedBy(store, fleet, id, clockThatMoves);
    setTimeout(() => (current = new Date(NOW.getTime() + 5)), 0);
    await validator.onEvent(asDelivered(succeeded));
    // c5.2xlarge at 47 % → c5.xlarge at 94 %, above the default policy's 80 %: failed, and rolled back
    const types = (await store.readStream(optimizationStream(id))).map((e) => e.type);
    expect(types).toContain('ValidationFailed');
    expect(types).not.toContain('ValidationPassed');
    await validator.onModuleDestroy();
    await store.close();
  });

  describe('recovery at start-up (optex resume), EC2 unavailable', () => {
    const recovering = { ...defaultEngineOptions, recoverOnStart: true, sweepEveryMs: 0, stepBackoffMs: 1 };

    it('DescribeVolumes throttled: the validation is retried with backoff until it goes through, never failing the start-up', async () => {
      const { store, id, fleet, validator: first } = await executed();
      await first.onModuleDestroy();
      const describe = fleet.describeVolume.bind(fleet);
      let throttles = 0;
      jest.spyOn(fleet, 'describeVolume').mockImplementation(async (...args) => {
        if (throttles++ < 5) throw ec2Error('RequestLimitExceeded', 'Request limit exceeded.');
        return describe(...args);
      });
      const validator = new ValidatorService(store, fleet, fleet, defaultPriceBook, defaultPolicy, clock, silentLogger, new OptexMetrics(), recovering);

      await expect(validator.onApplicationBootstrap()).resolves.toBeUndefined();

      expect(throttles).toBe(6);
      expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('completed');
      await validator.onModuleDestroy();
      await store.close();
    });

    it('an outage that lasts: retried until the service stops; the start-up then ends without failing, the optimization still validating', async () => {
      const { store, id, fleet, validator: first } = await executed();
      await first.onModuleDestroy();
      let throttles = 0;
      jest.spyOn(fleet, 'describeVolume').mockImplementation(async () => {
        throttles++;
        throw ec2Error('RequestLimitExceeded', 'Request limit exceeded.');
      });
      const validator = new ValidatorService(store, fleet, fleet, defaultPriceBook, defaultPolicy, clock, silentLogger, new OptexMetrics(), recovering);
      let ended = false;
      const recovery = validator.onApplicationBootstrap().finally(() => (ended = true));
      // Polled, not timed (a loaded machine may take a while); the deadline only bounds a hang.
      const deadline = Date.now() + 20_000;
      while (throttles < 4 && !ended && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(ended).toBe(false);
      expect(throttles).toBeGreaterThanOrEqual(4);

      await validator.onModuleDestroy();
      await expect(recovery).resolves.toBeUndefined();
      expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('validating');
      await store.close();
    }, 30_000);
  });
});
