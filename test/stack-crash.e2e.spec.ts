import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AllocateAddressCommand, CreateVolumeCommand, DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { startCountingProxy, type CountingProxy, isProcessAlive } from '@optex/testing';
import { ensureBuilt, optex, tempDir } from './support/cli';
import { stackDown, stackUp, waitForList, type StackInfo } from './support/stack';
import { kill, serviceEnv, startServiceProcess } from '../apps/optex/src/stack/stack';

// Each cloud effect exactly once on the production topology (Kafka, the ESDB emulator, moto, five service
// processes): the executor is SIGKILLed (OPTEX_CRASH_AT) right after each mutating EC2 call of a delete-volume and
// a release-address and right after each intent, a new executor takes over through Kafka's redelivery, and a
// counting proxy in front of moto shows every mutating call made exactly once. (Reservation purchases are proved
// on the simulated fleet in crash.e2e.spec.ts: moto does not implement them.)

jest.setTimeout(600_000);

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const ENV = { OPTEX_KAFKA_SESSION_TIMEOUT_MS: '6000', OPTEX_LOG_LEVEL: 'info' };
const TERMINAL = new Set(['completed', 'dry-run-completed', 'denied', 'expired', 'cancelled', 'failed', 'rolled-back', 'rollback-failed', 'reconciliation-needed']);

let dir: string;
let stack: StackInfo;
let proxy: CountingProxy;
let ec2: EC2Client;
let executorPid: number | undefined;
let trialNo = 0;

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir('stack-crash');
  const policy = join(tempDir('stack-crash-policy'), 'policy.json'); // not in the stack's own folder, which stack up owns
  writeFileSync(policy, JSON.stringify({ approval: { autoApprove: { enabled: true, maxLevel: 'CRITICAL', maxMonthlySavings: 100000 } } }));
  stack = await stackUp(dir, { ...ENV, OPTEX_POLICY: policy });
  const moto = stack.cloud.replace(/^aws:/, '');
  proxy = await startCountingProxy(moto);
  ec2 = new EC2Client({ region: REGION, endpoint: moto, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  // From here on, the executor is ours: it reaches moto through the counting proxy.
  await kill(stack.services['executor']!.pid);
  process.env['OPTEX_POLICY'] = policy;
});

afterAll(async () => {
  if (executorPid) await kill(executorPid);
  ec2?.destroy();
  await proxy?.stop();
  if (dir) await stackDown(dir);
});

async function startExecutor(crashAt?: string): Promise<number> {
  const env = serviceEnv({ ...stack, cloud: `aws:${proxy.endpoint}` }, 3, { ...ENV, ...(crashAt ? { OPTEX_CRASH_AT: crashAt } : {}) });
  if (!crashAt) delete env['OPTEX_CRASH_AT'];
  const started = await startServiceProcess('executor', env, join(dir, `executor-${++trialNo}.log`));
  executorPid = started.pid;
  return started.pid;
}

async function untilDead(pid: number, timeoutMs = 120_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Submits one recommendation to an executor that will die at `crashAt`; a second executor finishes the work. */
async function trial(name: string, resource: Record<string, unknown>, action: Record<string, unknown>, crashAt: string): Promise<string> {
  const crashing = await startExecutor(crashAt);
  const file = join(dir, `${name}.ndjson`);
  writeFileSync(file, `${JSON.stringify({ recommendationId: name, source: 'stack-crash', accountId: ACCOUNT, region: REGION, resource, action, estimatedMonthlySavings: 5, currency: 'USD' })}\n`);
  const submitted = await optex(['submit', file, '--bus', stack.bus]);
  if (submitted.code !== 0) throw new Error(`submit failed: ${submitted.stderr}`);
  expect({ crashAt, killed: await untilDead(crashing) }).toEqual({ crashAt, killed: true });
  await startExecutor();
  const [done] = await waitForList(stack.store, (l) => l.some((o) => o.recommendationId === name && TERMINAL.has(o.status)), 180_000).then((l) => l.filter((o) => o.recommendationId === name));
  await kill(executorPid!);
  executorPid = undefined;
  return done!.status;
}

describe('SIGKILL of the executor at the step boundaries, on the stack', () => {
  it.each(['call:1', 'call:2', 'event:ExecutionStepStarted:1', 'event:ExecutionStepStarted:2'])('delete-volume, killed at %s: one snapshot, one deletion', async (crashAt) => {
    const volumeId = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, VolumeType: 'gp2', Size: 10 }))).VolumeId!;
    const status = await trial(`del-${crashAt.replace(/\W/g, '-')}`, { type: 'ec2:volume', id: volumeId }, { type: 'delete-volume' }, crashAt);
    expect(status).toBe('completed');
    expect(proxy.made('CreateSnapshot', (p) => p['VolumeId'] === volumeId)).toBe(1);
    expect(proxy.made('DeleteVolume', (p) => p['VolumeId'] === volumeId)).toBe(1);
    const snapshots = (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'volume-id', Values: [volumeId] }] }))).Snapshots ?? [];
    expect(snapshots).toHaveLength(1);
  });

  it.each(['call:1', 'event:ExecutionStepStarted:1'])('release-address, killed at %s: released once', async (crashAt) => {
    const allocationId = (await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }))).AllocationId!;
    const status = await trial(`rel-${crashAt.replace(/\W/g, '-')}`, { type: 'ec2:elastic-ip', id: allocationId }, { type: 'release-address' }, crashAt);
    expect(status).toBe('completed');
    expect(proxy.made('ReleaseAddress', (p) => p['AllocationId'] === allocationId)).toBe(1);
  });
});
