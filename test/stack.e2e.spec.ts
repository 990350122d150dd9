import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AllocateAddressCommand,
  CreateVolumeCommand,
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { EsdbEventStore } from '@optex/event-store';
import { encodeLifecycleEvent, KafkaBus } from '@optex/messaging';
import { TOPICS } from '@optex/ports';
import { optimizationIdFor, optimizationStream } from '@optex/domain';
import { ensureBuilt, optex, tempDir } from './support/cli';
import { stackDown, stackUp, waitForList, list, type StackInfo } from './support/stack';
import { kill, startServiceProcess, serviceEnv } from '../apps/optex/src/stack/stack';
import { isProcessAlive } from '@optex/testing';

jest.setTimeout(300_000);

const ACCOUNT = '123456789012'; // moto's account
const REGION = 'us-east-1';
const TERMINAL = new Set(['completed', 'dry-run-completed', 'denied', 'expired', 'cancelled', 'failed', 'rolled-back', 'rollback-failed']);
const ENV = { OPTEX_EC2_CALL_DELAY_MS: '150', OPTEX_KAFKA_SESSION_TIMEOUT_MS: '6000', OPTEX_LOG_LEVEL: 'info' };

let dir: string;
let stack: StackInfo;
let ec2: EC2Client;
/** The executor the crash test started after killing the stack's own (stack down only knows the first). */
let restartedExecutor: number | undefined;

const rec = (id: string, resource: Record<string, unknown>, action: Record<string, unknown>, savings = 5) => ({
  recommendationId: id,
  source: 'stack-e2e',
  accountId: ACCOUNT,
  region: REGION,
  resource,
  action,
  estimatedMonthlySavings: savings,
  currency: 'USD',
});

function writeNdjson(name: string, records: readonly unknown[]): string {
  const file = join(dir, name);
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

async function newInstance(type: string): Promise<string> {
  const images = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? [];
  const imageId = images.find((i) => i.ImageId === 'ami-12c6146b')?.ImageId ?? images[0]!.ImageId!;
  const out = await ec2.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: type as never, MinCount: 1, MaxCount: 1 }));
  return out.Instances![0]!.InstanceId!;
}
const newVolume = async (type: 'gp2' | 'gp3', size: number) =>
  (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, VolumeType: type, Size: size }))).VolumeId!;
const instance = async (id: string) => (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir('stack');
  stack = await stackUp(join(dir, 'stack'), ENV);
  ec2 = new EC2Client({ region: REGION, endpoint: stack.cloud.replace(/^aws:/, ''), credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
});

afterAll(async () => {
  ec2?.destroy();
  if (restartedExecutor) await kill(restartedExecutor);
  if (dir) await stackDown(join(dir, 'stack'));
});

it('stack up reports Kafka, the store, the cloud and five healthy services', async () => {
  expect(stack.bus).toMatch(/^kafka:\/\/127\.0\.0\.1:\d+$/);
  expect(stack.store).toMatch(/^esdb:\/\/127\.0\.0\.1:\d+/);
  expect(stack.cloud).toMatch(/^aws:http:\/\/127\.0\.0\.1:\d+$/);
  expect(Object.keys(stack.services).sort()).toEqual(['approval', 'executor', 'risk-assessor', 'scheduler', 'validator']);
  for (const [name, { port }] of Object.entries(stack.services)) {
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', service: name, checks: { store: 'ok' } });
    expect(health.headers.get('x-powered-by')).toBeNull(); // no framework banner
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^# HELP optex_executions_total/m);
    expect(metrics).toMatch(/^# TYPE optex_execution_duration_seconds histogram/m);
  }
});

it('recommendations submitted through Kafka and approved over the CLI change moto as asked', async () => {
  const instanceId = await newInstance('m5.xlarge');
  const gp2 = await newVolume('gp2', 100);
  const unattached = await newVolume('gp2', 50);
  const address = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
  const records = [
    rec('e2e-rightsize', { type: 'ec2:instance', id: instanceId }, { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, 70.08),
    rec('e2e-gp3', { type: 'ec2:volume', id: gp2 }, { type: 'modify-volume', targetVolumeType: 'gp3' }, 2),
    rec('e2e-delete', { type: 'ec2:volume', id: unattached }, { type: 'delete-volume' }, 5),
    rec('e2e-release', { type: 'ec2:elastic-ip', id: address.AllocationId! }, { type: 'release-address' }, 3.65),
    { ...rec('e2e-invalid', { type: 'ec2:volume', id: gp2 }, { type: 'modify-volume', targetVolumeType: 'gp3' }), accountId: '42' },
  ];
  const submitted = await optex(['submit', writeNdjson('batch.ndjson', records), '--bus', stack.bus, '--json']);
  expect(JSON.parse(submitted.stdout)).toEqual({ submitted: 5, topic: TOPICS.recommendations });

  const waiting = await waitForList(stack.store, (l) => l.length === 4 && l.every((o) => TERMINAL.has(o.status) || o.status === 'awaiting-approval'));
  const byRec = (l: typeof waiting, id: string) => l.find((o) => o.recommendationId === id)!;
  expect(byRec(waiting, 'e2e-gp3').approval).toBe('auto');
  for (const id of ['e2e-rightsize', 'e2e-delete', 'e2e-release']) {
    expect(byRec(waiting, id).status).toBe('awaiting-approval');
    const approved = await optex(['approve', byRec(waiting, id).optimizationId, '--by', 'alice', '--store', stack.store, '--json']);
    expect(approved.code).toBe(0);
  }

  const done = await waitForList(stack.store, (l) => l.every((o) => TERMINAL.has(o.status)));
  expect(Object.fromEntries(done.map((o) => [o.recommendationId, o.status]))).toEqual({
    'e2e-rightsize': 'completed',
    'e2e-gp3': 'completed',
    'e2e-delete': 'completed',
    'e2e-release': 'completed',
  });

  const after = await instance(instanceId);
  expect(after.InstanceType).toBe('m5.large');
  expect(after.State?.Name).toBe('running');
  const volume = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [gp2] }))).Volumes![0]!;
  expect(volume.VolumeType).toBe('gp3');
  await expect(ec2.send(new DescribeVolumesCommand({ VolumeIds: [unattached] }))).rejects.toMatchObject({ name: 'InvalidVolume.NotFound' });
  const backups = (await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:optex:optimization-id', Values: [byRec(done, 'e2e-delete').optimizationId] }] }))).Snapshots ?? [];
  expect(backups).toHaveLength(1);
  expect(backups[0]!.VolumeId).toBe(unattached);
  const addresses = (await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? [];
  expect(addresses.map((a) => a.AllocationId)).not.toContain(address.AllocationId);

  const executor = await fetch(`http://127.0.0.1:${stack.services['executor']!.port}/metrics`).then((r) => r.text());
  expect(executor).toMatch(/optex_executions_total\{action="rightsize",result="succeeded"\} 1/);
  const relay = await fetch(`http://127.0.0.1:${stack.services['risk-assessor']!.port}/metrics`).then((r) => r.text());
  expect(relay).toMatch(/optex_recommendations_total\{result="rejected"\} 1/);
});

it('an executor killed with SIGKILL mid-execution is restarted and the execution completes, every step recorded once', async () => {
  const instanceId = await newInstance('m5.xlarge');
  const record = rec('crash-rightsize', { type: 'ec2:instance', id: instanceId }, { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, 70.08);
  await optex(['submit', writeNdjson('crash.ndjson', [record]), '--bus', stack.bus]);
  const [pending] = await waitForList(stack.store, (l) => l.some((o) => o.recommendationId === 'crash-rightsize' && o.status === 'awaiting-approval')).then((l) =>
    l.filter((o) => o.recommendationId === 'crash-rightsize'),
  );
  const store = EsdbEventStore.connect(stack.store);
  const stream = optimizationStream(pending!.optimizationId);
  try {
    // An executor that kills itself (SIGKILL) right after it records the plan's first completed step: mid-execution
    // whatever the machine's load (a test polling for that step and then killing could come too late).
    await kill(stack.services['executor']!.pid);
    const crashing = await startServiceProcess('executor', { ...serviceEnv(stack, 3, ENV), OPTEX_CRASH_AT: 'event:ExecutionStepCompleted:1' }, join(dir, 'stack', 'executor-crashing.log'));
    stack.services['executor'] = { pid: crashing.pid, port: crashing.port };
    await optex(['approve', pending!.optimizationId, '--by', 'alice', '--store', stack.store]);
    const deadline = Date.now() + 120_000;
    while (isProcessAlive(crashing.pid)) {
      if (Date.now() > deadline) throw new Error(`the executor did not reach its crash point: ${(await store.readStream(stream)).map((e) => e.type).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const mid = (await store.readStream(stream)).map((e) => e.type);
    expect(mid).toContain('ExecutionStepCompleted');
    expect(mid).not.toContain('ExecutionSucceeded');

    const restarted = await startServiceProcess('executor', serviceEnv(stack, 3, ENV), join(dir, 'stack', 'executor-restarted.log'));
    restartedExecutor = restarted.pid;
    stack.services['executor'] = { pid: restarted.pid, port: restarted.port };
    await waitForList(stack.store, (l) => l.some((o) => o.recommendationId === 'crash-rightsize' && TERMINAL.has(o.status)), 120_000);

    const events = await store.readStream(stream);
    const last = events.map((e) => e.type).filter((t) => t !== 'ApprovalGranted');
    expect(last.slice(-2)).toEqual(['ExecutionSucceeded', 'ValidationPassed']);
    const steps = events.filter((e) => e.type === 'ExecutionStepCompleted').map((e) => (e.data as { index: number; step: { kind: string } }).step.kind);
    expect(steps).toEqual(['stop-instance', 'wait-instance-stopped', 'modify-instance-type', 'start-instance', 'wait-instance-running']);
    expect(events.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
    const after = await instance(instanceId);
    expect(after).toMatchObject({ InstanceType: 'm5.large', State: { Name: 'running' } });
  } finally {
    await store.close();
  }
});

it('the same recommendation and the same event delivered twice append and execute nothing twice', async () => {
  const volumeId = await newVolume('gp2', 20);
  const record = rec('dup-gp3', { type: 'ec2:volume', id: volumeId }, { type: 'modify-volume', targetVolumeType: 'gp3' }, 0.4);
  const file = writeNdjson('dup.ndjson', [record]);
  await optex(['submit', file, '--bus', stack.bus]);
  await optex(['submit', file, '--bus', stack.bus]); // the very same delivery (same delivery id)
  await waitForList(stack.store, (l) => l.some((o) => o.recommendationId === 'dup-gp3' && TERMINAL.has(o.status)));
  const id = optimizationIdFor('stack-e2e', 'dup-gp3');
  const store = EsdbEventStore.connect(stack.store);
  const bus = await KafkaBus.connect({ brokers: stack.bus.replace('kafka://', ''), clientId: 'dup-test' });
  try {
    const first = await store.readStream(optimizationStream(id));
    expect(first.map((e) => e.type).slice(-1)).toEqual(['ValidationPassed']);

    // the same event published twice more: the executor and validator must not act again
    const scheduled = first.find((e) => e.type === 'ExecutionScheduled')!;
    const succeeded = first.find((e) => e.type === 'ExecutionSucceeded')!;
    for (const e of [scheduled, scheduled, succeeded, succeeded]) await bus.publish([{ topic: TOPICS.internalEvents, ...encodeLifecycleEvent(e) }]);
    // a second, distinct submission of the same recommendation: a recorded duplicate, nothing else
    await optex(['submit', writeNdjson('dup-again.ndjson', [record, record]), '--bus', stack.bus]);
    await new Promise((r) => setTimeout(r, 4000));

    const again = await store.readStream(optimizationStream(id));
    expect(again.map((e) => e.id)).toEqual(first.map((e) => e.id));
    const duplicates = (await store.readStream('duplicate-recommendations')).filter((e) => (e.data as { optimizationId: string }).optimizationId === id);
    expect(duplicates).toHaveLength(2);
    const volume = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }))).Volumes![0]!;
    expect(volume.VolumeType).toBe('gp3');
    expect((await list(stack.store)).filter((o) => o.recommendationId === 'dup-gp3')).toHaveLength(1);
  } finally {
    await bus.close();
    await store.close();
  }
});

