import { CONTROL_STREAM, controlDecider, defaultPolicy, defaultPriceBook, optimizationDecider, optimizationIdFor, optimizationStream, parseRecommendation, type Recommendation } from '@optex/domain';
import { silentLogger } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics, defaultEngineOptions, handleCommand, loadStream, observeResource } from '@optex/engine';
import { asDelivered, recordUpTo, upToScheduled as upToScheduledAt } from '@optex/testing';
import { ExecutorService } from './executor.service';

const NOW = new Date('2026-11-26T10:00:00Z');
const fleetFile = { volumes: [{ id: 'vol-1', accountId: '123456789012', region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' }] };

function recommendation(id: string, action: Record<string, unknown>): Recommendation {
  const parsed = parseRecommendation({
    recommendationId: id,
    source: 'spec',
    accountId: '123456789012',
    region: 'us-east-1',
    resource: { type: 'ec2:volume', id: 'vol-1' },
    action,
    estimatedMonthlySavings: 2,
    currency: 'USD',
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

const upToScheduled = (store: SqliteEventStore, rec: Recommendation) => upToScheduledAt(store, rec, NOW);

describe('ExecutorService pre-validation', () => {
  it('refuses to execute on a resource another optimization is already executing on', async () => {
    const store = SqliteEventStore.open(':memory:');
    const fleet = SimulatedFleet.fromFleet(fleetFile, { clock: { now: () => NOW } });
    const first = await upToScheduled(store, recommendation('first', { type: 'modify-volume', targetVolumeType: 'gp3' }));
    await handleCommand(store, optimizationStream(first), optimizationDecider, { type: 'StartExecution', data: {}, metadata: { now: NOW } }, { causationKey: 'start', recordedBy: 'spec' });
    const second = await upToScheduled(store, recommendation('second', { type: 'modify-volume', targetVolumeType: 'st1' }));
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false });
    await executor.onApplicationBootstrap();

    await executor.drive(second, 'spec-1'); // ExecutionStarted
    await executor.drive(second, 'spec-2'); // pre-validation
    const { state } = await loadStream(store, optimizationStream(second), optimizationDecider);
    expect(state.status).toBe('failed');
    const events = await store.readStream(optimizationStream(second));
    const failed = events.find((e) => e.type === 'PreValidationFailed')!;
    expect((failed.data as { reasons: string[] }).reasons.join(' ')).toMatch(new RegExp(`optimization ${first} \\(modify-volume\\) is executing on vol-1`));
    expect((await fleet.describeVolume({ accountId: '123456789012', region: 'us-east-1', id: 'vol-1' }))?.volumeType).toBe('gp2');
    await store.close();
  });

  it('acts only on the latest event of a stream: a replayed older event performs nothing', async () => {
    const store = SqliteEventStore.open(':memory:');
    const fleet = SimulatedFleet.fromFleet(fleetFile, { clock: { now: () => NOW } });
    const id = await upToScheduled(store, recommendation('only', { type: 'modify-volume', targetVolumeType: 'gp3' }));
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false });
    await executor.onApplicationBootstrap();
    const scheduled = (await store.readStream(optimizationStream(id))).find((e) => e.type === 'ExecutionScheduled')!;
    const delivered = asDelivered(scheduled);
    await executor.onEvent(delivered);
    const afterFirst = (await store.readStream(optimizationStream(id))).length;
    await executor.onEvent(delivered); // redelivered: the stream has moved on
    expect((await store.readStream(optimizationStream(id))).length).toBe(afterFirst);
    await store.close();
  });

  it('a replica given a stream whose earlier events another replica handled (a rebalance) reads the stream and carries it on', async () => {
    const store = SqliteEventStore.open(':memory:');
    const fleet = SimulatedFleet.fromFleet(fleetFile, { clock: { now: () => NOW } });
    const rec = recommendation('rebalanced', { type: 'modify-volume', targetVolumeType: 'gp3' });
    const id = optimizationIdFor(rec.source, rec.recommendationId);
    const receive = { type: 'ReceiveRecommendation', data: { optimizationId: id, recommendation: rec, dryRun: false, deliveryId: `d-${id}` }, metadata: { now: NOW } } as const;
    await handleCommand(store, optimizationStream(id), optimizationDecider, receive, { causationKey: 'receive', recordedBy: 'spec' });
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false });
    await executor.onApplicationBootstrap(); // its read model holds the optimization as received, and nothing of what follows
    await upToScheduled(store, rec); // assessed, approved and scheduled by others (the receipt is already there)
    const scheduled = (await store.readStream(optimizationStream(id))).find((e) => e.type === 'ExecutionScheduled')!;
    // Only the last event reaches this replica: folded over the gap, it threw, and the delivery was dropped as a domain rejection.
    await executor.onEvent(asDelivered(scheduled));
    const { state } = await loadStream(store, optimizationStream(id), optimizationDecider);
    expect(['validating', 'completed']).toContain(state.status);
    expect((await fleet.describeVolume({ accountId: '123456789012', region: 'us-east-1', id: 'vol-1' }))?.volumeType).toBe('gp3');
    await store.close();
  });

  it('its sweeper leaves alone an optimization another replica is moving (the log gained an event lately), and resumes one the log shows stalled', async () => {
    const store = SqliteEventStore.open(':memory:');
    const fleet = SimulatedFleet.fromFleet(fleetFile, { clock: { now: () => NOW } });
    const id = await upToScheduled(store, recommendation('elsewhere', { type: 'modify-volume', targetVolumeType: 'gp3' }));
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false, sweepEveryMs: 0, sweepAfterMs: 200 });
    await executor.onApplicationBootstrap();
    expect(await executor.sweep()).toEqual([]); // first noticed now
    await new Promise((resolve) => setTimeout(resolve, 250));
    // Meanwhile another replica (its partition's owner) started it: this one was delivered nothing.
    await handleCommand(store, optimizationStream(id), optimizationDecider, { type: 'StartExecution', data: {}, metadata: { now: NOW } }, { causationKey: 'other-replica', recordedBy: 'spec' });
    expect(await executor.sweep()).toEqual([]);
    expect(fleet.calls()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 250)); // and then nothing more was logged
    expect(await executor.sweep()).toEqual([id]);
    expect(['validating', 'completed']).toContain((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status);
    await store.close();
  });

  it('a resume of execution it was not delivered (another instance owns the kill switch’s partition) is read from the log: it drives what it owns and leaves the rest', async () => {
    const store = SqliteEventStore.open(':memory:');
    const fleet = SimulatedFleet.fromFleet({ volumes: [fleetFile.volumes[0]!, { ...fleetFile.volumes[0]!, id: 'vol-2' }] }, { clock: { now: () => NOW } });
    const mine = await upToScheduled(store, recommendation('mine', { type: 'modify-volume', targetVolumeType: 'gp3' }));
    const theirs = await upToScheduled(store, { ...recommendation('theirs', { type: 'modify-volume', targetVolumeType: 'gp3' }), resource: { type: 'ec2:volume', id: 'vol-2' } });
    const control = (type: 'PauseExecution' | 'ResumeExecution', key: string) =>
      handleCommand(store, CONTROL_STREAM, controlDecider, { type, data: { by: 'oncall', reason: 'incident' }, metadata: { now: NOW } }, { causationKey: key, recordedBy: 'spec' });
    await control('PauseExecution', 'pause');
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false, sweepEveryMs: 0, resumeWatchMs: 20 });
    await executor.onApplicationBootstrap();
    executor.ownResourcesBy((key) => key.endsWith('/vol-1'));
    try {
      await executor.drive(mine, 'held');
      expect((await loadStream(store, optimizationStream(mine), optimizationDecider)).state.status).toBe('scheduled'); // held by the pause
      await control('ResumeExecution', 'resume');
      const statusOf = async (id: string) => (await loadStream(store, optimizationStream(id), optimizationDecider)).state.status;
      for (let i = 0; i < 200 && !['validating', 'completed'].includes(await statusOf(mine)); i++) await new Promise((r) => setTimeout(r, 10));
      expect(['validating', 'completed']).toContain(await statusOf(mine));
      await new Promise((r) => setTimeout(r, 100)); // more looks at the same resume
      expect(await statusOf(theirs)).toBe('scheduled'); // the instance that owns vol-2 drives it
      expect(fleet.calls().filter((c) => c.operation === 'modifyVolume').map((c) => c.resourceId)).toEqual(['vol-1']);
    } finally {
      await executor.onModuleDestroy();
      await store.close();
    }
  });

  it('sends a change back for approval when the live resource drifted to a higher risk since it was approved: nothing changes', async () => {
    const store = SqliteEventStore.open(':memory:');
    // Assessed LOW and auto-approved (the recommendation states no tags); the volume is tagged production by now.
    const drifted = { volumes: [{ ...fleetFile.volumes[0]!, tags: { env: 'production' } }] };
    const fleet = SimulatedFleet.fromFleet(drifted, { clock: { now: () => NOW } });
    const id = await upToScheduled(store, recommendation('drifted', { type: 'modify-volume', targetVolumeType: 'gp3' }));
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false });
    await executor.onApplicationBootstrap();

    await executor.drive(id, 'spec-drift');
    const { state } = await loadStream(store, optimizationStream(id), optimizationDecider);
    expect(state.status).toBe('awaiting-approval');
    const types = (await store.readStream(optimizationStream(id))).map((e) => e.type);
    expect(types.slice(-2)).toEqual(['RiskReassessed', 'ApprovalRequested']);
    expect(fleet.calls().map((c) => c.operation)).toEqual(['describeVolume']);
    await store.close();
  });

  it('never touches a live resource tagged with the opt-out tag: out-of-scope with the reason, no mutating call', async () => {
    const store = SqliteEventStore.open(':memory:');
    const tagged = { volumes: [{ ...fleetFile.volumes[0]!, tags: { 'optex:skip': 'true' } }] };
    const fleet = SimulatedFleet.fromFleet(tagged, { clock: { now: () => NOW } });
    const id = await upToScheduled(store, recommendation('skip-me', { type: 'modify-volume', targetVolumeType: 'gp3' }));
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false });
    await executor.onApplicationBootstrap();

    await executor.drive(id, 'spec-skip');
    const { state } = await loadStream(store, optimizationStream(id), optimizationDecider);
    expect(state.status).toBe('out-of-scope');
    const outOfScope = (await store.readStream(optimizationStream(id))).find((e) => e.type === 'OptimizationOutOfScope')!;
    expect(outOfScope.data).toMatchObject({ stage: 'pre-validation', violations: [{ rule: 'opt-out-tag', reason: 'scope.optOutTag: the live resource vol-1 is tagged optex:skip=true' }] });
    expect(fleet.calls().map((c) => c.operation)).toEqual(['describeVolume']);
    await store.close();
  });
});

describe('ExecutorService sweeper', () => {
  it('resumes an execution left mid-way whose message is gone (no recovery on start) and carries it to validation', async () => {
    const store = SqliteEventStore.open(':memory:');
    const fleet = SimulatedFleet.fromFleet(fleetFile, { clock: { now: () => NOW } });
    const id = await upToScheduled(store, recommendation('left', { type: 'modify-volume', targetVolumeType: 'gp3' }));
    // A handling started it, then its process went away after the message was acknowledged: nothing will redeliver it.
    await handleCommand(store, optimizationStream(id), optimizationDecider, { type: 'StartExecution', data: {}, metadata: { now: NOW } }, { causationKey: 'start', recordedBy: 'spec' });
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false, sweepEveryMs: 0, sweepAfterMs: 0 });
    await executor.onApplicationBootstrap();
    expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('executing');

    expect(await executor.sweep()).toEqual([id]);
    expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('validating');
    expect((await fleet.describeVolume({ accountId: '123456789012', region: 'us-east-1', id: 'vol-1' }))?.volumeType).toBe('gp3');
    await executor.onModuleDestroy();
    await store.close();
  });

  it('leaves alone an execution whose last progress is more recent than sweepAfterMs', async () => {
    const store = SqliteEventStore.open(':memory:');
    const fleet = SimulatedFleet.fromFleet(fleetFile, { clock: { now: () => NOW } });
    const id = await upToScheduled(store, recommendation('busy', { type: 'modify-volume', targetVolumeType: 'gp3' }));
    await handleCommand(store, optimizationStream(id), optimizationDecider, { type: 'StartExecution', data: {}, metadata: { now: NOW } }, { causationKey: 'start', recordedBy: 'spec' });
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false, sweepEveryMs: 0, sweepAfterMs: 60_000 });
    await executor.onApplicationBootstrap();
    expect(await executor.sweep()).toEqual([]);
    expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('executing');
    await executor.onModuleDestroy();
    await store.close();
  });
});

describe('ExecutorService appends', () => {
  /** Received, assessed, approved and scheduled, as a dry run when `dryRun`. */
  async function scheduled(store: SqliteEventStore, rec: Recommendation, dryRun: boolean): Promise<string> {
    const id = optimizationIdFor(rec.source, rec.recommendationId);
    const meta = { now: NOW };
    const commands = [
      { type: 'ReceiveRecommendation', data: { optimizationId: id, recommendation: rec, dryRun, deliveryId: `d-${id}` }, metadata: meta },
      { type: 'AssessRisk', data: { policy: defaultPolicy, credentialsAccountId: undefined }, metadata: meta },
      { type: 'DecideApproval', data: { policy: defaultPolicy }, metadata: meta },
      { type: 'ScheduleExecution', data: { batchId: 'b1', notBefore: NOW }, metadata: meta },
    ] as const;
    for (const [i, c] of commands.entries()) await handleCommand(store, optimizationStream(id), optimizationDecider, c, { causationKey: `setup-${i}`, recordedBy: 'spec' });
    return id;
  }

  /** A store holding one scheduled modify-volume to gp3 of vol-1, the fleet and a started executor. */
  async function setUp(name: string, dryRun: boolean) {
    const store = SqliteEventStore.open(':memory:');
    const fleet = SimulatedFleet.fromFleet(fleetFile, { clock: { now: () => NOW } });
    const id = await scheduled(store, recommendation(name, { type: 'modify-volume', targetVolumeType: 'gp3' }), dryRun);
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false });
    await executor.onApplicationBootstrap();
    return { store, fleet, id, executor };
  }

  it('a dry run is decided through to its end and appended once: started, pre-validated, the step, succeeded', async () => {
    const { store, fleet, id, executor } = await setUp('dry', true);
    const append = jest.spyOn(store, 'appendToStream');

    await executor.drive(id, 'spec');

    expect(append).toHaveBeenCalledTimes(1);
    expect(append.mock.calls[0]![1].map((e) => e.type)).toEqual(['ExecutionStarted', 'PreValidationPassed', 'RollbackPlanRecorded', 'ExecutionStepCompleted', 'ExecutionSucceeded']);
    expect(append.mock.calls[0]![2]).toBe(3n); // the revision of ExecutionScheduled, where the first decision was taken
    expect(append.mock.calls[0]![3]).toBeUndefined(); // no intent: nothing to sync at once
    expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('dry-run-completed');
    expect(fleet.calls().filter((c) => c.operation === 'modifyVolume').map((c) => c.dryRun)).toEqual([true]);

    // Handled again (a redelivery): nothing is appended, nothing is called.
    await executor.drive(id, 'spec');
    expect(append).toHaveBeenCalledTimes(1);
    expect(fleet.calls().filter((c) => c.operation === 'modifyVolume')).toHaveLength(1);
    await executor.onModuleDestroy();
    await store.close();
  });

  it('a real run appends the intent before the EC2 call that changes the volume, and the outcome with ExecutionSucceeded in one append right after it', async () => {
    const { store, fleet, id, executor } = await setUp('real', false);
    const append = jest.spyOn(store, 'appendToStream');
    const modify = fleet.modifyVolume.bind(fleet);
    const storedAtCall: string[][] = [];
    jest.spyOn(fleet, 'modifyVolume').mockImplementation(async (...args) => {
      storedAtCall.push((await store.readStream(optimizationStream(id))).map((e) => e.type));
      return modify(...args);
    });

    await executor.drive(id, 'spec');

    expect(storedAtCall).toHaveLength(1);
    expect(storedAtCall[0]!.slice(-4)).toEqual(['ExecutionStarted', 'PreValidationPassed', 'RollbackPlanRecorded', 'ExecutionStepStarted']);
    expect(append.mock.calls.map((c) => c[1].map((e) => e.type))).toEqual([
      ['ExecutionStarted', 'PreValidationPassed', 'RollbackPlanRecorded', 'ExecutionStepStarted'],
      ['ExecutionStepCompleted', 'ExecutionSucceeded'],
    ]);
    // The append holding the intent survives a power loss before the call is made; the outcome's need not (a lost
    // outcome is reconciled from the intent).
    expect(append.mock.calls.map((c) => c[3])).toEqual([{ durable: true }, undefined]);
    // Each event has the id it would have had appended alone: the revision its decision was taken at names it.
    const [completed, succeeded] = append.mock.calls[1]![1];
    expect(completed!.metadata?.['causationId']).toBe('spec@7');
    expect(succeeded!.metadata?.['causationId']).toBe('spec@8');
    expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('validating');
    // The volume described once (the pre-validation); the change itself does not describe it again.
    expect(fleet.calls().map((c) => c.operation)).toEqual(['describeVolume', 'modifyVolume']);
    await executor.onModuleDestroy();
    await store.close();
  });

  it('an outcome whose append meets a stream that moved on during the call is decided again alone on the stream as it is, then the rest', async () => {
    const { store, fleet, id, executor } = await setUp('moved-on', false);
    const stream = optimizationStream(id);
    const append = jest.spyOn(store, 'appendToStream');
    const modify = fleet.modifyVolume.bind(fleet);
    jest.spyOn(fleet, 'modifyVolume').mockImplementation(async (...args) => {
      // The same recommendation resubmitted with other content while the volume changes: the intake records a conflict.
      const changed = recommendation('moved-on', { type: 'modify-volume', targetVolumeType: 'gp3' });
      const resubmitted = { ...changed, estimatedMonthlySavings: 3 };
      await handleCommand(store, stream, optimizationDecider, { type: 'ReceiveRecommendation', data: { optimizationId: id, recommendation: resubmitted, dryRun: false, deliveryId: 'd-again' }, metadata: { now: NOW } }, { causationKey: 'intake', recordedBy: 'spec' });
      return modify(...args);
    });

    await executor.drive(id, 'spec');

    const types = (await store.readStream(stream)).map((e) => e.type);
    expect(types.slice(-4)).toEqual(['ExecutionStepStarted', 'ResubmissionConflicted', 'ExecutionStepCompleted', 'ExecutionSucceeded']);
    const byExecutor = append.mock.calls.filter((c) => c[1][0]!.metadata?.['recordedBy'] === 'executor').map((c) => c[1].map((e) => e.type));
    expect(byExecutor.slice(1)).toEqual([['ExecutionStepCompleted', 'ExecutionSucceeded'], ['ExecutionStepCompleted'], ['ExecutionSucceeded']]);
    expect(fleet.calls().filter((c) => c.operation === 'modifyVolume')).toHaveLength(1);
    expect((await loadStream(store, stream, optimizationDecider)).state.status).toBe('validating');
    await executor.onModuleDestroy();
    await store.close();
  });

  it('a handling that did not pre-validate the volume itself describes it before changing it', async () => {
    const { store, fleet, id, executor } = await setUp('pre-validated-earlier', false);
    // An earlier handling started the execution and recorded the pre-validation, then went away before the step.
    const stream = optimizationStream(id);
    const context = { causationKey: 'earlier', recordedBy: 'spec' };
    await handleCommand(store, stream, optimizationDecider, { type: 'StartExecution', data: {}, metadata: { now: NOW } }, context);
    const { state } = await loadStream(store, stream, optimizationDecider);
    const observed = await observeResource(fleet, fleet, (state as { recommendation: Recommendation }).recommendation, { from: new Date(NOW.getTime() - 3_600_000), to: NOW });
    await handleCommand(
      store,
      stream,
      optimizationDecider,
      { type: 'RecordPreValidation', data: { observed, activeOnResource: [], scope: defaultPolicy.scope, policy: defaultPolicy, priceBook: defaultPriceBook }, metadata: { now: NOW } },
      context,
    );
    const before = fleet.calls().length;

    await executor.drive(id, 'spec');

    expect(fleet.calls().slice(before).map((c) => c.operation)).toEqual(['describeVolume', 'modifyVolume']);
    expect((await loadStream(store, stream, optimizationDecider)).state.status).toBe('validating');
    await executor.onModuleDestroy();
    await store.close();
  });

  it('a stream that moved on while decisions were pending is read again and decided anew, nothing appended twice', async () => {
    const { store, fleet, id, executor } = await setUp('raced', true);
    // Another handling starts the execution while this one describes the volume.
    const describe = fleet.describeVolume.bind(fleet);
    let raced = false;
    jest.spyOn(fleet, 'describeVolume').mockImplementation(async (...args) => {
      if (!raced) {
        raced = true;
        await handleCommand(store, optimizationStream(id), optimizationDecider, { type: 'StartExecution', data: {}, metadata: { now: NOW } }, { causationKey: 'other', recordedBy: 'spec' });
      }
      return describe(...args);
    });

    await executor.drive(id, 'spec');

    const types = (await store.readStream(optimizationStream(id))).map((e) => e.type);
    expect(types.filter((t) => t === 'ExecutionStarted')).toHaveLength(1);
    expect(types.slice(-4)).toEqual(['PreValidationPassed', 'RollbackPlanRecorded', 'ExecutionStepCompleted', 'ExecutionSucceeded']);
    expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('dry-run-completed');
    await executor.onModuleDestroy();
    await store.close();
  });
});

describe('ExecutorService starting from its read model', () => {
  async function delivered(name: string) {
    const store = SqliteEventStore.open(':memory:');
    const fleet = SimulatedFleet.fromFleet(fleetFile, { clock: { now: () => NOW } });
    const id = await upToScheduled(store, recommendation(name, { type: 'modify-volume', targetVolumeType: 'gp3' }));
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false });
    await executor.onApplicationBootstrap(); // its read model: up to ExecutionScheduled
    const scheduledEvent = (await store.readStream(optimizationStream(id))).find((e) => e.type === 'ExecutionScheduled')!;
    return { store, fleet, id, executor, scheduledEvent };
  }
  const readsOf = (read: jest.SpyInstance, id: string) => read.mock.calls.filter(([stream]) => stream === optimizationStream(id)).length;

  it('carries a delivered ExecutionScheduled from the state its read model folded (no read of the stream); a redelivery calls nothing', async () => {
    const { store, fleet, id, executor, scheduledEvent } = await delivered('folded');
    const read = jest.spyOn(store, 'readStream');

    await executor.onEvent(asDelivered(scheduledEvent));
    expect(readsOf(read, id)).toBe(0);
    expect(fleet.calls().map((c) => c.operation)).toEqual(['describeVolume', 'modifyVolume']);

    // Handed the same event again: the read model is past it (the handling folded what it appended), the stream is read.
    await executor.onEvent(asDelivered(scheduledEvent));
    expect(readsOf(read, id)).toBe(1);
    expect(fleet.calls()).toHaveLength(2);
    read.mockRestore();
    expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('validating');
    await executor.onModuleDestroy();
    await store.close();
  });

  it('a read model behind the stream (another handling started the execution): the intent append conflicts, the stream is read, one ModifyVolume', async () => {
    const { store, fleet, id, executor, scheduledEvent } = await delivered('behind');
    await handleCommand(store, optimizationStream(id), optimizationDecider, { type: 'StartExecution', data: {}, metadata: { now: NOW } }, { causationKey: 'other', recordedBy: 'spec' });

    await executor.onEvent(asDelivered(scheduledEvent));

    expect(fleet.calls().filter((c) => c.operation === 'modifyVolume')).toHaveLength(1);
    const types = (await store.readStream(optimizationStream(id))).map((e) => e.type);
    expect(types.filter((t) => t === 'ExecutionStarted')).toHaveLength(1);
    expect(types.filter((t) => t === 'ExecutionStepCompleted')).toHaveLength(1);
    expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('validating');
    await executor.onModuleDestroy();
    await store.close();
  });
});

describe('ExecutorService rollback of a release-address', () => {
  it('a validation that fails after the release allocates the same public IP again with the tags the address had, and the optimization reads rolled-back', async () => {
    const store = SqliteEventStore.open(':memory:');
    const address = { allocationId: 'eipalloc-1', accountId: '123456789012', region: 'us-east-1', publicIp: '203.0.113.25', tags: { team: 'a', 'aws:cloudformation:stack-name': 'stack' } };
    const fleet = SimulatedFleet.fromFleet({ addresses: [address] }, { clock: { now: () => NOW } });
    const parsed = parseRecommendation({
      recommendationId: 'eip',
      source: 'spec',
      accountId: '123456789012',
      region: 'us-east-1',
      resource: { type: 'ec2:elastic-ip', id: 'eipalloc-1' },
      action: { type: 'release-address' },
      estimatedMonthlySavings: 3.65,
      currency: 'USD',
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const id = await recordUpTo(store, parsed.value, NOW, 'approved');
    const stream = optimizationStream(id);
    const meta = { now: NOW };
    const status = async () => (await loadStream(store, stream, optimizationDecider)).state.status;
    if ((await status()) === 'awaiting-approval') await handleCommand(store, stream, optimizationDecider, { type: 'Approve', data: { by: 'alice' }, metadata: meta }, { causationKey: 'approve', recordedBy: 'spec' });
    await handleCommand(store, stream, optimizationDecider, { type: 'ScheduleExecution', data: { batchId: 'b1', notBefore: NOW }, metadata: meta }, { causationKey: 'schedule', recordedBy: 'spec' });
    const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, { now: () => NOW }, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false });
    await executor.onApplicationBootstrap();

    await executor.drive(id, 'scheduled');
    expect(await status()).toBe('validating');
    await expect(fleet.describeAddress({ accountId: '123456789012', region: 'us-east-1', id: 'eipalloc-1' })).resolves.toBeUndefined();

    // The validator could not verify the release (EC2 refused the describe): validation fails and the release is rolled back.
    await handleCommand(
      store,
      stream,
      optimizationDecider,
      { type: 'RecordValidation', data: { sample: {}, policy: defaultPolicy, priceBook: defaultPriceBook, describeError: { code: 'UnauthorizedOperation', message: 'not allowed' } }, metadata: meta },
      { causationKey: 'validate', recordedBy: 'spec' },
    );
    expect(await status()).toBe('rolling-back');
    await executor.drive(id, 'rollback');

    expect(await status()).toBe('rolled-back');
    const events = await store.readStream(stream);
    const completed = events.find((e) => e.type === 'RollbackStepCompleted')!.data as { step: unknown; outputs: Record<string, string>; clientToken: string };
    expect(completed.step).toEqual({ kind: 'allocate-address', publicIp: '203.0.113.25', tags: { team: 'a' } });
    const again = await fleet.describeAddress({ accountId: '123456789012', region: 'us-east-1', id: completed.outputs['allocationId']! });
    expect(again).toMatchObject({ publicIp: '203.0.113.25' });
    // The address's own tags, and the client token of the allocation (which a look-up after a crash finds it by); never aws: ones.
    expect(again?.tags).toEqual({ team: 'a', 'optex:client-token': completed.clientToken });
    await executor.onModuleDestroy();
    await store.close();
  });
});
