import { AllocateAddressCommand, CreateVolumeCommand, CreateSnapshotCommand, DescribeImagesCommand, DescribeReservedInstancesOfferingsCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { executionPlan, parseRecommendation, rollbackStepsFor, type ObservedResource, type Recommendation, type Step, type StepOutputs } from '@optex/domain';
import { AwsEc2Gateway } from '@optex/cloud';
import { observeResource } from '@optex/engine';
import type { MetricsSource } from '@optex/ports';
import { MotoRulesGateway, startMoto, type MotoServer } from '@optex/testing';
import { StepRunner } from './step-runner';

jest.setTimeout(120_000);

// Every action's execution plan and its rollback, performed by the executor's step runner through the
// AWS SDK adapter against a real moto_server (the one EC2 API this machine has).
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
let moto: MotoServer;
let sdk: EC2Client;
let adapter: AwsEc2Gateway;
// The adapter checks no EC2 rule; moto lacks the 6-hour modification rule, which the test-only MotoRulesGateway adds.
let gateway: MotoRulesGateway;
let runner: StepRunner;
// The gateway's clock is the real time plus an offset, because moto stamps volume modifications with the real time;
// tests only move the offset forward (the 6-hour cool-down), so they hold on any date and however long moto and the
// tests before take (a clock frozen when the file loaded left the rollback a minute of slack).
let offsetMs = 0;
const now = (): number => Date.now() + offsetMs;
const noMetrics: MetricsSource = { cpuP95: async () => undefined, statusChecksPassed: async () => undefined, performance: async () => ({}) };

beforeAll(async () => {
  moto = process.env['OPTEX_TEST_EC2_ENDPOINT'] ? ({ endpoint: process.env['OPTEX_TEST_EC2_ENDPOINT'], stop: async () => undefined } as MotoServer) : await startMoto();
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  sdk = new EC2Client({ region: REGION, endpoint: moto.endpoint, credentials });
  adapter = AwsEc2Gateway.create({ endpoint: moto.endpoint, credentials, imageLookup: 'scan-own-images', waiter: { minDelaySeconds: 1, maxDelaySeconds: 1 } });
  gateway = new MotoRulesGateway(adapter, { clock: { now: () => new Date(now()) } });
  runner = new StepRunner(gateway, { callTimeoutMs: 10_000, waitTimeoutMs: 30_000, attempts: 3, backoffMs: 50 });
});

afterAll(async () => {
  adapter?.destroy();
  sdk?.destroy();
  await moto?.stop();
});

function rec(resource: Recommendation['resource'], action: Record<string, unknown>): Recommendation {
  const parsed = parseRecommendation({ recommendationId: `r-${Math.random()}`, source: 'int', accountId: ACCOUNT, region: REGION, resource, action, estimatedMonthlySavings: 1, currency: 'USD' });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

async function perform(r: Recommendation, steps: readonly Step[], outputs: StepOutputs = {}, dryRun = false): Promise<StepOutputs> {
  let merged = { ...outputs };
  for (const step of steps) {
    const result = await runner.run(step, { recommendation: r, dryRun, outputs: merged });
    if (!result.ok) throw Object.assign(new Error(`${step.kind}: ${result.error.code} ${result.error.message}`), { code: result.error.code });
    merged = { ...merged, ...result.outputs };
  }
  return merged;
}

/** Observe, execute the plan, then roll every step back; returns what was seen at each stage. */
async function executeThenRollBack(r: Recommendation): Promise<{ before: ObservedResource; during: ObservedResource | undefined; after: ObservedResource | undefined; outputs: StepOutputs; rollback: Step[] }> {
  const observe = () => observeResource(gateway, noMetrics, r, { from: new Date(now() - 3600_000), to: new Date(now()) });
  const before = (await observe())!;
  const plan = executionPlan(r, before, 'opt-int');
  const outputs = await perform(r, plan);
  const during = await observe();
  const rollback = rollbackStepsFor(r, before, plan);
  const rolledBack = await perform(r, rollback, outputs);
  return { before, during, after: await observe(), outputs: rolledBack, rollback };
}

async function runningInstance(type: string): Promise<string> {
  const images = (await sdk.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? [];
  const imageId = images.find((i) => i.ImageId === 'ami-12c6146b')?.ImageId ?? images[0]!.ImageId!;
  return (await sdk.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: type as never, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
}

describe('every action and its rollback against moto', () => {
  it('rightsize: stop, change type, start; rolled back to the original type, running', async () => {
    const id = await runningInstance('m5.xlarge');
    const r = rec({ type: 'ec2:instance', id }, { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' });
    const { during, after } = await executeThenRollBack(r);
    expect(during).toMatchObject({ instanceType: 'm5.large', state: 'running' });
    expect(after).toMatchObject({ instanceType: 'm5.xlarge', state: 'running' });
  });

  it('stop-idle: stopped; rolled back to running', async () => {
    const id = await runningInstance('t3.large');
    const { during, after } = await executeThenRollBack(rec({ type: 'ec2:instance', id }, { type: 'stop-idle' }));
    expect(during).toMatchObject({ state: 'stopped' });
    expect(after).toMatchObject({ state: 'running' });
  });

  it('modify-volume: gp2 → gp3; the rollback is refused inside the 6-hour cool-down and works after it', async () => {
    const volumeId = (await sdk.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, VolumeType: 'gp2', Size: 100 }))).VolumeId!;
    const r = rec({ type: 'ec2:volume', id: volumeId }, { type: 'modify-volume', targetVolumeType: 'gp3' });
    const before = (await observeResource(gateway, noMetrics, r, { from: new Date(now()), to: new Date(now()) }))!;
    const plan = executionPlan(r, before, 'opt-int');
    await perform(r, plan);
    expect(await gateway.describeVolume({ accountId: ACCOUNT, region: REGION, id: volumeId })).toMatchObject({ volumeType: 'gp3' });
    const rollback = rollbackStepsFor(r, before, plan);
    await expect(perform(r, rollback)).rejects.toMatchObject({ code: 'VolumeModificationRateExceeded' });
    offsetMs += 6 * 3600_000 + 60_000;
    await perform(r, rollback);
    expect(await gateway.describeVolume({ accountId: ACCOUNT, region: REGION, id: volumeId })).toMatchObject({ volumeType: 'gp2' });
  });

  it('delete-volume: snapshot (tagged), delete; rolled back by a volume restored from that snapshot', async () => {
    const volumeId = (await sdk.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, VolumeType: 'gp2', Size: 30 }))).VolumeId!;
    const r = rec({ type: 'ec2:volume', id: volumeId }, { type: 'delete-volume' });
    const { during, outputs } = await executeThenRollBack(r);
    expect(during).toBeUndefined();
    expect(await gateway.describeSnapshot({ accountId: ACCOUNT, region: REGION, id: outputs['snapshotId']! })).toMatchObject({ state: 'completed', tags: { 'optex:optimization-id': 'opt-int' } });
    expect(await gateway.describeVolume({ accountId: ACCOUNT, region: REGION, id: outputs['restoredVolumeId']! })).toMatchObject({ volumeType: 'gp2', sizeGiB: 30 });
  });

  it('delete-snapshot: deleted; nothing to roll back (irreversible)', async () => {
    const volumeId = (await sdk.send(new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, VolumeType: 'gp2', Size: 8 }))).VolumeId!;
    const snapshotId = (await sdk.send(new CreateSnapshotCommand({ VolumeId: volumeId }))).SnapshotId!;
    const { during, rollback } = await executeThenRollBack(rec({ type: 'ec2:snapshot', id: snapshotId }, { type: 'delete-snapshot' }));
    expect(during).toBeUndefined();
    expect(rollback).toEqual([]);
  });

  it('release-address: released; rolled back by allocating the same public IP again', async () => {
    const address = await sdk.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const r = rec({ type: 'ec2:elastic-ip', id: address.AllocationId! }, { type: 'release-address' });
    const { during, outputs } = await executeThenRollBack(r);
    expect(during).toBeUndefined();
    expect(outputs['publicIp']).toBe(address.PublicIp);
  });

  it('purchase-reserved-instances: a dry run of the purchase (moto 5.2.1 does not implement the purchase itself)', async () => {
    const offerings = await gateway.describeReservedInstancesOffering({ accountId: ACCOUNT, region: REGION, id: 'no-such-offering' });
    expect(offerings).toBeUndefined();
    // A dry run checks what the real call would: the offering must exist (a missing one is InvalidReservedInstancesOfferingId.NotFound).
    const offeringId = (await sdk.send(new DescribeReservedInstancesOfferingsCommand({ InstanceType: 'm5.large' }))).ReservedInstancesOfferings![0]!.ReservedInstancesOfferingId!;
    const r = rec({ type: 'ec2:reserved-instances', id: 'ri-1' }, { type: 'purchase-reserved-instances', offeringId, instanceCount: 1 });
    const step: Step = { kind: 'purchase-reserved-instances', offeringId, instanceCount: 1 };
    const result = await runner.run(step, { recommendation: r, dryRun: true, outputs: {} });
    expect(result).toEqual({ ok: true, outputs: {} });
    const missing: Step = { kind: 'purchase-reserved-instances', offeringId: 'any', instanceCount: 1 };
    expect(await runner.run(missing, { recommendation: r, dryRun: true, outputs: {} })).toMatchObject({ ok: false, error: { code: 'InvalidReservedInstancesOfferingId.NotFound' } });
  });
});
