import { defaultPolicy, defaultPriceBook, optimizationDecider, optimizationStream, parseRecommendation, type OptimizationCommand, type Recommendation } from '@optex/domain';
import { InfrastructureError, silentLogger } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics, defaultEngineOptions, handleCommand, loadStream } from '@optex/engine';
import { recordUpTo } from '@optex/testing';
import { ExecutorService } from './executor.service';

// The recovery at start-up (`recoverOnStart`: `optex resume`) of executions left in progress, when EC2 is unavailable:
// an outage is waited out (retried with backoff) as a delivery's is, never crashing the process, and without holding
// up the recovery of the others.
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const NOW = new Date('2026-11-26T10:00:00Z');
const clock = { now: () => NOW };

function rightsize(instanceId: string): Recommendation {
  const parsed = parseRecommendation({
    recommendationId: `rs-${instanceId}`,
    source: 'spec',
    accountId: ACCOUNT,
    region: REGION,
    resource: { type: 'ec2:instance', id: instanceId },
    action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' },
    estimatedMonthlySavings: 70,
    currency: 'USD',
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

const instance = (id: string) => ({ id, accountId: ACCOUNT, region: REGION, instanceType: 'm5.xlarge', state: 'running', cpuP95: 10 });
const options = { ...defaultEngineOptions, recoverOnStart: true, sweepEveryMs: 0, stepAttempts: 2, stepBackoffMs: 1 };

/** Two rightsizes scheduled and started (ExecutionStarted recorded, then the process went away), on i-1 and i-2. */
async function leftInProgress(faults: readonly Record<string, unknown>[]) {
  const store = SqliteEventStore.open(':memory:');
  const fleet = SimulatedFleet.fromFleet({ instances: [instance('i-1'), instance('i-2')], faults }, { clock });
  const ids: string[] = [];
  for (const i of ['i-1', 'i-2']) {
    // A rightsize waits for a person's approval under the default policy.
    const id = await recordUpTo(store, rightsize(i), NOW, 'approved');
    const commands: OptimizationCommand[] = [
      { type: 'Approve', data: { by: 'alice' }, metadata: { now: NOW } },
      { type: 'ScheduleExecution', data: { batchId: 'b1', notBefore: NOW }, metadata: { now: NOW } },
      { type: 'StartExecution', data: {}, metadata: { now: NOW } },
    ];
    for (const [n, c] of commands.entries()) await handleCommand(store, optimizationStream(id), optimizationDecider, c, { causationKey: `spec-${n}`, recordedBy: 'spec' });
    ids.push(id);
  }
  const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, clock, silentLogger, new OptexMetrics(), options);
  return { store, fleet, ids, executor };
}

const statusOf = async (store: SqliteEventStore, id: string) => (await loadStream(store, optimizationStream(id), optimizationDecider)).state.status;

describe('ExecutorService recovery at start-up, EC2 unavailable', () => {
  it.each([
    ['InternalError', 'modifyInstanceType'],
    ['RequestLimitExceeded', 'modifyInstanceType'],
    ['RequestLimitExceeded', 'describeInstance'],
  ])('%s on %s of the first optimization (beyond its attempts): recovery does not fail; it is retried until it goes through, the other recovered meanwhile', async (error, operation) => {
    const { store, fleet, ids, executor } = await leftInProgress([{ resourceId: 'i-1', operation, error, times: 6 }]);

    await expect(executor.onApplicationBootstrap()).resolves.toBeUndefined();

    expect(await statusOf(store, ids[0]!)).toBe('validating');
    expect(await statusOf(store, ids[1]!)).toBe('validating');
    for (const id of ['i-1', 'i-2']) await expect(fleet.describeInstance({ accountId: ACCOUNT, region: REGION, id })).resolves.toMatchObject({ instanceType: 'm5.large', state: 'running' });
    // Not held up: the second optimization's change went through before the first's, whether the first's outage was
    // thrown out of its handling (and waited out beside the others) or waited out within its step (a throttle of the
    // step's call): the two are recovered together, up to maxParallel (4) at once.
    const modified = fleet
      .calls()
      .filter((c) => c.operation === 'modifyInstanceType' && c.result === 'ok')
      .map((c) => c.resourceId);
    expect(modified).toEqual(['i-2', 'i-1']);
    await executor.onModuleDestroy();
    await store.close();
  });

  it('an outage that lasts: the recovery keeps retrying until the service stops, then ends without failing (the log says where it stopped)', async () => {
    const { store, fleet, ids, executor } = await leftInProgress([{ resourceId: 'i-1', operation: 'describeInstance', error: 'Unavailable', times: 1_000_000 }]);

    let ended = false;
    const recovery = executor.onApplicationBootstrap().finally(() => (ended = true));
    const failedCalls = () => fleet.calls().filter((c) => c.resourceId === 'i-1' && c.result !== 'ok').length;
    // Polled, not timed: the first is retried in the background while the second is recovered (a loaded machine
    // may take a while for either); the budget only bounds a hang.
    const deadline = Date.now() + 20_000;
    while ((failedCalls() < 6 || (await statusOf(store, ids[1]!)) !== 'validating') && !ended && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(ended).toBe(false);
    expect(failedCalls()).toBeGreaterThanOrEqual(6);
    expect(await statusOf(store, ids[1]!)).toBe('validating');

    await executor.onModuleDestroy();
    await expect(recovery).resolves.toBeUndefined();
    expect(await statusOf(store, ids[0]!)).toBe('executing');
    await store.close();
  }, 30_000);

  it('an error that is not an outage still fails the recovery, as before', async () => {
    const { store, fleet, executor } = await leftInProgress([]);
    jest.spyOn(fleet, 'describeInstance').mockRejectedValueOnce(new TypeError('a bug'));
    await expect(executor.onApplicationBootstrap()).rejects.toThrow('a bug');
    await executor.onModuleDestroy();
    await store.close();
  });
});

describe('ExecutorService: a reservation purchase throttled beyond its attempts', () => {
  /** A purchase of offering off-1, approved and scheduled, on a fleet whose purchase call EC2 throttles `throttles` times. */
  async function scheduledPurchase(throttles: number) {
    const store = SqliteEventStore.open(':memory:');
    const offering = { offeringId: 'off-1', region: REGION, instanceType: 'm5.large', fixedPrice: 0, recurringHourly: 0.06, durationSeconds: 31536000 };
    const fleet = SimulatedFleet.fromFleet(
      { reservedInstanceOfferings: [offering], faults: [{ resourceId: 'off-1', operation: 'PurchaseReservedInstancesOffering', error: 'RequestLimitExceeded', times: throttles }] },
      { clock },
    );
    const parsed = parseRecommendation({
      recommendationId: 'ri-1',
      source: 'spec',
      accountId: ACCOUNT,
      region: REGION,
      resource: { type: 'ec2:reserved-instances', id: 'off-1' },
      action: { type: 'purchase-reserved-instances', offeringId: 'off-1', instanceCount: 1 },
      estimatedMonthlySavings: 10,
      currency: 'USD',
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const id = await recordUpTo(store, parsed.value, NOW, 'approved');
    const stream = optimizationStream(id);
    if ((await statusOf(store, id)) === 'awaiting-approval') await handleCommand(store, stream, optimizationDecider, { type: 'Approve', data: { by: 'alice' }, metadata: { now: NOW } }, { causationKey: 'approve', recordedBy: 'spec' });
    await handleCommand(store, stream, optimizationDecider, { type: 'ScheduleExecution', data: { batchId: 'b1', notBefore: NOW }, metadata: { now: NOW } }, { causationKey: 'schedule', recordedBy: 'spec' });
    const start = async () => {
      const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, clock, silentLogger, new OptexMetrics(), { ...options, recoverOnStart: false, stepAttempts: 4 });
      await executor.onApplicationBootstrap();
      return executor;
    };
    const purchases = () => fleet.calls().filter((c) => c.operation === 'purchaseReservedInstancesOffering' && !c.dryRun).map((c) => c.result);
    return { store, fleet, id, stream, start, purchases };
  }

  it('still throttled when the executor stops: the intent is closed as not carried out; after the restart bought once, never reconciliation-needed', async () => {
    const { store, id, stream, start, purchases } = await scheduledPurchase(30);
    const first = await start();
    const handling = first.drive(id, 'scheduled').then(
      () => undefined,
      (e: unknown) => e,
    );
    for (let waited = 0; purchases().length < 6 && waited < 400; waited++) await new Promise((resolve) => setTimeout(resolve, 5));
    await first.onModuleDestroy();
    // Not acknowledged: the delivery comes again after the restart.
    expect(await handling).toBeInstanceOf(InfrastructureError);
    const types = (await store.readStream(stream)).map((e) => e.type);
    expect(types.slice(-2)).toEqual(['ExecutionStepStarted', 'StepEffectNotFound']);
    const closed = (await store.readStream(stream)).at(-1)!.data as { evidence: string };
    expect(closed.evidence).toMatch(/^purchase-reserved-instances not carried out: EC2 throttled every attempt \(RequestLimitExceeded\) and the executor stopped before sending it again/);
    const before = purchases().length;
    expect(purchases()).toEqual(Array<string>(before).fill('RequestLimitExceeded'));

    const second = await start();
    for (let delivery = 1; delivery <= 5; delivery++) {
      try {
        await second.drive(id, 'scheduled-again');
        break;
      } catch (error) {
        if (delivery === 5) throw error;
      }
    }
    const status = await statusOf(store, id);
    expect(['validating', 'completed']).toContain(status);
    expect((await store.readStream(stream)).map((e) => e.type)).not.toContain('ReconciliationRequired');
    expect(purchases()).toEqual([...Array<string>(30).fill('RequestLimitExceeded'), 'ok']);
    await second.onModuleDestroy();
    await store.close();
  });

  it('RequestLimitExceeded × 10 (EC2 did not carry it out): waited out, bought once, never reconciliation-needed', async () => {
    const { store, id, start, purchases } = await scheduledPurchase(10);
    const executor = await start();

    // As the bus does: the handling comes again after an outage (at most a few times here).
    for (let delivery = 1; delivery <= 5; delivery++) {
      try {
        await executor.drive(id, 'scheduled');
        break;
      } catch (error) {
        if (delivery === 5) throw error;
      }
    }

    const status = await statusOf(store, id);
    expect(status).not.toBe('reconciliation-needed');
    expect(['validating', 'completed']).toContain(status);
    expect(purchases()).toEqual([...Array<string>(10).fill('RequestLimitExceeded'), 'ok']);
    await executor.onModuleDestroy();
    await store.close();
  });
});
