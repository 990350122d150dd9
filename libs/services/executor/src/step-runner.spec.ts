import { parseRecommendation, type Recommendation, type Step } from '@optex/domain';
import { SimulatedFleet } from '@optex/cloud';
import { CallHeldError, Ec2Error, InfrastructureError, ec2Error } from '@optex/ports';
import { StepRunner } from './step-runner';

// When the step runner describes a volume before changing it: the look-up that makes a retry after an earlier attempt
// that already took effect count as done, and that a first attempt right after the pre-validation does not repeat.
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const NOW = new Date('2026-11-26T10:00:00Z');
const modify: Step = { kind: 'modify-volume', volumeId: 'vol-1', volumeType: 'gp3' };

function recommendation(): Recommendation {
  const parsed = parseRecommendation({
    recommendationId: 'r-1',
    source: 'spec',
    accountId: ACCOUNT,
    region: REGION,
    resource: { type: 'ec2:volume', id: 'vol-1' },
    action: { type: 'modify-volume', targetVolumeType: 'gp3' },
    estimatedMonthlySavings: 2,
    currency: 'USD',
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

function fleetWith(faults: readonly Record<string, unknown>[] = []): SimulatedFleet {
  const volumes = [{ id: 'vol-1', accountId: ACCOUNT, region: REGION, volumeType: 'gp2', sizeGiB: 100, state: 'available' }];
  return SimulatedFleet.fromFleet({ volumes, faults }, { clock: { now: () => NOW } });
}

const runnerOn = (fleet: SimulatedFleet) => new StepRunner(fleet, { callTimeoutMs: 5_000, waitTimeoutMs: 5_000, attempts: 3, backoffMs: 1 });
const operations = (fleet: SimulatedFleet) => fleet.calls().map((c) => `${c.operation}${c.dryRun ? ' (dry run)' : ''}${c.result === 'ok' ? '' : ` → ${c.result}`}`);

describe('StepRunner: looking before a type or volume change', () => {
  it('describes the volume before changing it when nothing said it was just observed', async () => {
    const fleet = fleetWith();
    await expect(runnerOn(fleet).run(modify, { recommendation: recommendation(), dryRun: false, outputs: {} })).resolves.toEqual({ ok: true, outputs: {} });
    expect(operations(fleet)).toEqual(['describeVolume', 'modifyVolume']);
  });

  it('finds a volume already as asked done, without calling ModifyVolume', async () => {
    const fleet = fleetWith();
    await fleet.modifyVolume({ accountId: ACCOUNT, region: REGION, id: 'vol-1' }, { volumeType: 'gp3' });
    await expect(runnerOn(fleet).run(modify, { recommendation: recommendation(), dryRun: false, outputs: {} })).resolves.toEqual({ ok: true, outputs: {} });
    expect(operations(fleet)).toEqual(['modifyVolume', 'describeVolume']);
  });

  it('right after the pre-validation described it, the first attempt changes the volume without describing it again', async () => {
    const fleet = fleetWith();
    await expect(runnerOn(fleet).run(modify, { recommendation: recommendation(), dryRun: false, outputs: {}, observedJustBefore: true })).resolves.toEqual({ ok: true, outputs: {} });
    expect(operations(fleet)).toEqual(['modifyVolume']);
    await expect(fleet.describeVolume({ accountId: ACCOUNT, region: REGION, id: 'vol-1' })).resolves.toMatchObject({ volumeType: 'gp3' });
  });

  it('a retry still looks first, even right after the pre-validation', async () => {
    const fleet = fleetWith([{ resourceId: 'vol-1', operation: 'modifyVolume', error: 'RequestLimitExceeded', times: 1 }]);
    await expect(runnerOn(fleet).run(modify, { recommendation: recommendation(), dryRun: false, outputs: {}, observedJustBefore: true })).resolves.toEqual({ ok: true, outputs: {} });
    expect(operations(fleet)).toEqual(['modifyVolume → RequestLimitExceeded', 'describeVolume', 'modifyVolume']);
  });

  it('a retry after an attempt that took effect but came back as an error counts the change as done: one ModifyVolume', async () => {
    const fleet = fleetWith();
    const real = fleet.modifyVolume.bind(fleet);
    let calls = 0;
    // The first call changes the volume and then fails as a throttled request would after the fact (its answer lost).
    jest.spyOn(fleet, 'modifyVolume').mockImplementation(async (...args) => {
      calls++;
      const result = await real(...args);
      if (calls === 1) throw ec2Error('RequestLimitExceeded', 'the answer was lost');
      return result;
    });
    await expect(runnerOn(fleet).run(modify, { recommendation: recommendation(), dryRun: false, outputs: {}, observedJustBefore: true })).resolves.toEqual({ ok: true, outputs: {} });
    expect(calls).toBe(1);
    expect(operations(fleet)).toEqual(['modifyVolume', 'describeVolume']);
  });

  it('a dry run never describes: EC2 checks the call itself', async () => {
    const fleet = fleetWith();
    await expect(runnerOn(fleet).run(modify, { recommendation: recommendation(), dryRun: true, outputs: {} })).resolves.toEqual({ ok: true, outputs: {} });
    expect(operations(fleet)).toEqual(['modifyVolume (dry run) → DryRunOperation']);
  });
});

describe('StepRunner: time-outs and retries, the policies built once per runner', () => {
  const never = () => new Promise<never>(() => undefined);

  it('a call that does not answer within the call time-out throws an outage naming the step: its outcome is unknown', async () => {
    const fleet = fleetWith();
    jest.spyOn(fleet, 'modifyVolume').mockImplementation(never);
    const runner = new StepRunner(fleet, { callTimeoutMs: 30, waitTimeoutMs: 5_000, attempts: 1, backoffMs: 1 });
    await expect(runner.run(modify, { recommendation: recommendation(), dryRun: false, outputs: {}, observedJustBefore: true })).rejects.toThrow(
      'EC2 modify-volume timed out after 30 ms; its outcome is unknown',
    );
  });

  it('a call whose outcome EC2 left unknown (a 5xx on a call that may take effect twice) throws an outage naming the step: the intent is reconciled, never failed as if nothing happened', async () => {
    const fleet = fleetWith();
    jest.spyOn(fleet, 'modifyVolume').mockRejectedValue(new Ec2Error('InternalError', 'We encountered an internal error (outcome unknown: …)', false, { outcomeUnknown: true }));
    const runner = new StepRunner(fleet, { callTimeoutMs: 5_000, waitTimeoutMs: 5_000, attempts: 3, backoffMs: 1 });
    const failure = runner.run(modify, { recommendation: recommendation(), dryRun: false, outputs: {}, observedJustBefore: true });
    await expect(failure).rejects.toThrow('EC2 modify-volume answered InternalError; its outcome is unknown');
    await expect(failure).rejects.toBeInstanceOf(InfrastructureError);
    expect(fleet.modifyVolume).toHaveBeenCalledTimes(1);
    // The same code with its outcome known (a refusal) fails the step, as before.
    jest.spyOn(fleet, 'modifyVolume').mockRejectedValue(new Ec2Error('UnauthorizedOperation', 'no', false));
    await expect(runner.run(modify, { recommendation: recommendation(), dryRun: false, outputs: {}, observedJustBefore: true })).resolves.toMatchObject({ ok: false, error: { code: 'UnauthorizedOperation' } });
  });

  it('a wait that outlasts its time-out (the wait time-out plus 5 s) fails the step as StepTimeout', async () => {
    const fleet = fleetWith();
    jest.spyOn(fleet, 'waitForInstanceState').mockImplementation(never);
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const runner = new StepRunner(fleet, { callTimeoutMs: 5_000, waitTimeoutMs: 10, attempts: 1, backoffMs: 1 });
      const result = runner.run({ kind: 'wait-instance-stopped', instanceId: 'i-1' }, { recommendation: recommendation(), dryRun: false, outputs: {} });
      let settled = false;
      void result.then(() => (settled = true));
      await jest.advanceTimersByTimeAsync(5_000);
      expect(settled).toBe(false);
      await jest.advanceTimersByTimeAsync(20);
      await expect(result).resolves.toEqual({ ok: false, error: { code: 'StepTimeout', message: 'wait-instance-stopped timed out' } });
    } finally {
      jest.useRealTimers();
    }
  });

  it('one runner, many steps: each run gets its own attempts, and each retry is reported once', async () => {
    const volumes = ['vol-1', 'vol-2'].map((id) => ({ id, accountId: ACCOUNT, region: REGION, volumeType: 'gp2', sizeGiB: 100, state: 'available' }));
    const faults = ['vol-1', 'vol-2'].map((resourceId) => ({ resourceId, operation: 'modifyVolume', error: 'RequestLimitExceeded', times: 2 }));
    const fleet = SimulatedFleet.fromFleet({ volumes, faults }, { clock: { now: () => NOW } });
    const retries: number[] = [];
    const runner = new StepRunner(fleet, { callTimeoutMs: 5_000, waitTimeoutMs: 5_000, attempts: 3, backoffMs: 1, onRetry: (_e, attempt) => retries.push(attempt) });
    const ctx = { recommendation: recommendation(), dryRun: true, outputs: {} };
    await expect(runner.run(modify, ctx)).resolves.toEqual({ ok: true, outputs: {} });
    expect(retries).toEqual([1, 2]);
    // Two throttles again on the second volume: the run must again have all three attempts.
    await expect(runner.run({ ...modify, volumeId: 'vol-2' }, ctx)).resolves.toEqual({ ok: true, outputs: {} });
    expect(retries).toEqual([1, 2, 1, 2]);
    await expect(runner.run(modify, ctx)).resolves.toEqual({ ok: true, outputs: {} });
    expect(retries).toEqual([1, 2, 1, 2]);
    expect(operations(fleet).filter((o) => o.endsWith('RequestLimitExceeded'))).toHaveLength(4);
  });
});

describe('StepRunner: a capacity shortage is retried, then fails the step; an outage is still waited out', () => {
  const start: Step = { kind: 'start-instance', instanceId: 'i-1' };
  const instanceFleet = (error: string, times: number) =>
    SimulatedFleet.fromFleet(
      { instances: [{ id: 'i-1', accountId: ACCOUNT, region: REGION, instanceType: 'r5.large', state: 'stopped' }], faults: [{ resourceId: 'i-1', operation: 'startInstance', error, times }] },
      { clock: { now: () => NOW } },
    );
  const starts = (fleet: SimulatedFleet) => fleet.calls().filter((c) => c.operation === 'startInstance').map((c) => c.result);

  it('InsufficientInstanceCapacity on every attempt: the step fails with EC2\'s code after its attempts (it was thrown as an outage and redelivered for ever, the instance left stopped)', async () => {
    const fleet = instanceFleet('InsufficientInstanceCapacity', 1000);
    const retries: number[] = [];
    const runner = new StepRunner(fleet, { callTimeoutMs: 5_000, waitTimeoutMs: 5_000, attempts: 3, backoffMs: 1, onRetry: (_e, attempt) => retries.push(attempt) });
    await expect(runner.run(start, { recommendation: recommendation(), dryRun: false, outputs: {} })).resolves.toEqual({
      ok: false,
      error: { code: 'InsufficientInstanceCapacity', message: expect.stringMatching(/\(after 3 attempts\)$/) },
    });
    expect(retries).toEqual([1, 2]);
    expect(starts(fleet)).toEqual(['InsufficientInstanceCapacity', 'InsufficientInstanceCapacity', 'InsufficientInstanceCapacity']);
    await expect(fleet.describeInstance({ accountId: ACCOUNT, region: REGION, id: 'i-1' })).resolves.toMatchObject({ state: 'stopped' });
  });

  it('a shortage that ends within the attempts: the step succeeds', async () => {
    const fleet = instanceFleet('InsufficientInstanceCapacity', 2);
    await expect(runnerOn(fleet).run(start, { recommendation: recommendation(), dryRun: false, outputs: {} })).resolves.toEqual({ ok: true, outputs: {} });
    expect(starts(fleet)).toEqual(['InsufficientInstanceCapacity', 'InsufficientInstanceCapacity', 'ok']);
  });

  it.each(['InsufficientAddressCapacity', 'InsufficientVolumeCapacity'])('%s the same: retried, then a failed step, never thrown', async (code) => {
    const fleet = instanceFleet(code, 1000);
    await expect(runnerOn(fleet).run(start, { recommendation: recommendation(), dryRun: false, outputs: {} })).resolves.toMatchObject({ ok: false, error: { code } });
    expect(starts(fleet)).toHaveLength(3);
  });

  it('InsufficientFreeAddressesInSubnet (a limit of the subnet) fails the step at the first attempt', async () => {
    const fleet = instanceFleet('InsufficientFreeAddressesInSubnet', 1000);
    await expect(runnerOn(fleet).run(start, { recommendation: recommendation(), dryRun: false, outputs: {} })).resolves.toMatchObject({ ok: false, error: { code: 'InsufficientFreeAddressesInSubnet' } });
    expect(starts(fleet)).toHaveLength(1);
  });

  it.each(['InternalError', 'Unavailable'])('%s on every attempt is still an outage: thrown after the attempts, the step neither failed nor rolled back', async (code) => {
    const fleet = instanceFleet(code, 1000);
    const failure = runnerOn(fleet).run(start, { recommendation: recommendation(), dryRun: false, outputs: {} });
    await expect(failure).rejects.toBeInstanceOf(Ec2Error);
    await expect(failure).rejects.toMatchObject({ awsCode: code });
    expect(starts(fleet)).toHaveLength(3);
  });
});

describe('StepRunner: a throttled call (EC2 did not carry it out) is waited out within the step, never given up into reconciliation', () => {
  const purchase: Step = { kind: 'purchase-reserved-instances', offeringId: 'off-1', instanceCount: 1 };
  const riFleet = (error: string, times: number) =>
    SimulatedFleet.fromFleet(
      {
        reservedInstanceOfferings: [{ offeringId: 'off-1', region: REGION, instanceType: 'm5.large', fixedPrice: 0, recurringHourly: 0.06, durationSeconds: 31536000 }],
        faults: [{ resourceId: 'off-1', operation: 'purchaseReservedInstancesOffering', error, times }],
      },
      { clock: { now: () => NOW } },
    );
  const purchases = (fleet: SimulatedFleet) => fleet.calls().filter((c) => c.operation === 'purchaseReservedInstancesOffering').map((c) => c.result);

  it('RequestLimitExceeded × 10, beyond the step\'s 3 attempts: retried with backoff until it goes through; the reservation bought once', async () => {
    const fleet = riFleet('RequestLimitExceeded', 10);
    const result = await runnerOn(fleet).run(purchase, { recommendation: recommendation(), dryRun: false, outputs: {}, clientToken: 'buy-1' });
    expect(result).toEqual({ ok: true, outputs: { reservedInstancesId: expect.any(String) } });
    expect(purchases(fleet)).toEqual([...Array<string>(10).fill('RequestLimitExceeded'), 'ok']);
  });

  it.each(['Throttling', 'ThrottlingException'])('%s the same', async (code) => {
    const fleet = riFleet(code, 5);
    await expect(runnerOn(fleet).run(purchase, { recommendation: recommendation(), dryRun: false, outputs: {} })).resolves.toMatchObject({ ok: true });
    expect(purchases(fleet)).toHaveLength(6);
  });

  it('InternalError (the outcome may be unknown) is not waited out in the step: thrown after the attempts, the intent reconciled', async () => {
    const fleet = riFleet('InternalError', 10);
    await expect(runnerOn(fleet).run(purchase, { recommendation: recommendation(), dryRun: false, outputs: {} })).rejects.toMatchObject({ awsCode: 'InternalError' });
    expect(purchases(fleet)).toHaveLength(3);
  });

  it('a throttle that lasts ends when the runner is stopped: a CallHeldError (not carried out, nothing in flight), the throttle as its cause, nothing bought', async () => {
    const fleet = riFleet('RequestLimitExceeded', 1_000_000);
    const stop = new AbortController();
    const runner = new StepRunner(fleet, { callTimeoutMs: 5_000, waitTimeoutMs: 5_000, attempts: 3, backoffMs: 1, signal: stop.signal });
    const run = runner.run(purchase, { recommendation: recommendation(), dryRun: false, outputs: {} });
    for (let waited = 0; purchases(fleet).length < 8 && waited < 400; waited++) await new Promise((resolve) => setTimeout(resolve, 5));
    stop.abort();
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CallHeldError);
    expect((error as Error).message).toBe('purchase-reserved-instances not carried out: EC2 throttled every attempt (RequestLimitExceeded) and the executor stopped before sending it again; it is sent again after the restart');
    expect((error as Error).cause).toMatchObject({ awsCode: 'RequestLimitExceeded' });
    expect(purchases(fleet).every((r) => r === 'RequestLimitExceeded')).toBe(true);
  });
});

describe('StepRunner: an instance not yet in the state a start or stop needs (IncorrectInstanceState) is retried as a shortage is, then fails the step', () => {
  const instanceFleet = (state: string, operation: string, error: string, times: number) =>
    SimulatedFleet.fromFleet(
      { instances: [{ id: 'i-1', accountId: ACCOUNT, region: REGION, instanceType: 'r5.large', state }], faults: [{ resourceId: 'i-1', operation, error, times }] },
      { clock: { now: () => NOW } },
    );
  const results = (fleet: SimulatedFleet, operation: string) => fleet.calls().filter((c) => c.operation === operation).map((c) => c.result);
  const ctx = () => ({ recommendation: recommendation(), dryRun: false, outputs: {} });

  it.each([
    ['start-instance', 'stopped', 'startInstance', 'IncorrectInstanceState'],
    ['start-instance', 'stopped', 'startInstance', 'IncorrectState'],
    ['stop-instance', 'running', 'stopInstance', 'IncorrectInstanceState'],
  ] as const)('%s of an instance %s: %s answered %s twice, retried, and the step succeeds', async (kind, state, operation, code) => {
    const fleet = instanceFleet(state, operation, code, 2);
    await expect(runnerOn(fleet).run({ kind, instanceId: 'i-1' }, ctx())).resolves.toEqual({ ok: true, outputs: {} });
    expect(results(fleet, operation)).toEqual([code, code, 'ok']);
  });

  it('on every attempt: the step fails with the code after its attempts, as a capacity shortage does', async () => {
    const fleet = instanceFleet('stopped', 'startInstance', 'IncorrectInstanceState', 1000);
    await expect(runnerOn(fleet).run({ kind: 'start-instance', instanceId: 'i-1' }, ctx())).resolves.toEqual({
      ok: false,
      error: { code: 'IncorrectInstanceState', message: expect.stringMatching(/\(after 3 attempts\)$/) },
    });
    expect(results(fleet, 'startInstance')).toHaveLength(3);
  });

  it('on a step other than a start or a stop (a type change): fails at once, as before', async () => {
    const fleet = instanceFleet('stopped', 'modifyInstanceType', 'IncorrectInstanceState', 1000);
    await expect(runnerOn(fleet).run({ kind: 'modify-instance-type', instanceId: 'i-1', instanceType: 'r5.xlarge' }, ctx())).resolves.toMatchObject({ ok: false, error: { code: 'IncorrectInstanceState' } });
    expect(results(fleet, 'modifyInstanceType')).toHaveLength(1);
  });
});

describe("StepRunner: a volume restored within EC2's 50 tags", () => {
  const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${String(i).padStart(2, '0')}`, `v${i}`]));

  it('a create-volume-from-snapshot recorded with a volume\'s 50 tags (before the plan kept to the limit) restores the volume with 49 of them and the client token, instead of TagLimitExceeded', async () => {
    const fleet = SimulatedFleet.fromFleet({ snapshots: [{ id: 'snap-b', accountId: ACCOUNT, region: REGION, sizeGiB: 10 }] }, { clock: { now: () => NOW } });
    const step: Step = { kind: 'create-volume-from-snapshot', snapshotFrom: 'create-snapshot', availabilityZone: `${REGION}a`, volumeType: 'gp2', sizeGiB: 10, tags: fifty };
    const result = await runnerOn(fleet).run(step, { recommendation: recommendation(), dryRun: false, outputs: { snapshotId: 'snap-b' }, clientToken: 'restore-token' });
    expect(result).toEqual({ ok: true, outputs: { restoredVolumeId: expect.any(String) } });
    const restoredVolumeId = result.ok ? result.outputs['restoredVolumeId']! : '';
    const restored = await fleet.describeVolume({ accountId: ACCOUNT, region: REGION, id: restoredVolumeId });
    expect(restored?.tags).toEqual({ ...Object.fromEntries(Object.entries(fifty).slice(0, 49)), 'optex:client-token': 'restore-token' });
  });
});

describe("StepRunner: an address allocated again with its tags, within EC2's 50", () => {
  const scope = { accountId: ACCOUNT, region: REGION };
  const releasedFleet = async () => {
    const fleet = SimulatedFleet.fromFleet({ addresses: [{ allocationId: 'eipalloc-1', ...scope, publicIp: '203.0.113.25', tags: { team: 'a' } }] }, { clock: { now: () => NOW } });
    await fleet.releaseAddress({ ...scope, id: 'eipalloc-1' });
    return fleet;
  };
  const allocate = async (step: Step) => {
    const fleet = await releasedFleet();
    const result = await runnerOn(fleet).run(step, { recommendation: recommendation(), dryRun: false, outputs: {}, clientToken: 'alloc-token' });
    expect(result).toEqual({ ok: true, outputs: { allocationId: expect.any(String), publicIp: '203.0.113.25' } });
    return fleet.describeAddress({ ...scope, id: result.ok ? result.outputs['allocationId']! : '' });
  };

  it("gives the address the step's tags, beside the client token", async () => {
    await expect(allocate({ kind: 'allocate-address', publicIp: '203.0.113.25', tags: { team: 'a' } })).resolves.toMatchObject({ tags: { team: 'a', 'optex:client-token': 'alloc-token' } });
  });

  it('a step recorded before the rollback carried tags allocates the address with the client token only, as before', async () => {
    await expect(allocate({ kind: 'allocate-address', publicIp: '203.0.113.25' })).resolves.toMatchObject({ tags: { 'optex:client-token': 'alloc-token' } });
  });

  it('a step with 50 tags allocates with 49 of them and the client token, instead of TagLimitExceeded', async () => {
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${String(i).padStart(2, '0')}`, `v${i}`]));
    const again = await allocate({ kind: 'allocate-address', publicIp: '203.0.113.25', tags: fifty });
    expect(again?.tags).toEqual({ ...Object.fromEntries(Object.entries(fifty).slice(0, 49)), 'optex:client-token': 'alloc-token' });
  });
});
