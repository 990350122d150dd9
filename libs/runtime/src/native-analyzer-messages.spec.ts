import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANALYZERS, REJECTED_STREAM, defaultIntakeLimits, defaultPolicy, defaultPriceBook, type RecommendationRejected } from '@optex/domain';
import { TOPICS, silentLogger, type BusMessage } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { InMemoryBus } from '@optex/messaging';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics, OptimizationProjection } from '@optex/engine';
import { processUntilQuiescent } from './processing';

jest.setTimeout(60_000);

const ACCOUNT = '123456789012';
const fixture = (name: string) => readFileSync(join(__dirname, '..', '..', '..', 'test', 'fixtures', 'analyzers', name));
const fleet = {
  instances: [
    { id: 'i-0a1b2c3d4e5f60789', accountId: ACCOUNT, region: 'us-east-1', instanceType: 'm5.xlarge', state: 'running' },
    { id: 'i-0fedcba9876543210', accountId: ACCOUNT, region: 'us-east-1', instanceType: 't3.large', state: 'running' },
  ],
  volumes: [
    { id: 'vol-0aaaabbbbccccdddd', accountId: ACCOUNT, region: 'eu-west-1', volumeType: 'gp3', sizeGiB: 100, state: 'available' },
    { id: 'vol-0aaaabbbbcccc0001', accountId: ACCOUNT, region: 'us-east-1', volumeType: 'gp3', sizeGiB: 100, state: 'available' },
  ],
};

/** A message on the input topic as an analyzer (or a bridge in front of it) would publish it: its own document, typed by `ce_type`. */
const native = (type: string, body: Buffer, id: string): BusMessage => ({
  topic: TOPICS.recommendations,
  key: id,
  value: body,
  headers: { ce_specversion: '1.0', ce_id: id, ce_type: type, ce_source: 'spec', 'x-optex-delivery-id': id },
});

/** Publishes the messages on an in-memory bus and runs the embedded engine (dry runs) until quiescent. */
async function run(messages: BusMessage[]) {
  const store = SqliteEventStore.open(':memory:');
  const bus = new InMemoryBus();
  const sim = SimulatedFleet.fromFleet(fleet);
  try {
    await bus.publish(messages);
    await processUntilQuiescent(
      { store, bus, ec2: sim, metricsSource: sim, identity: sim, priceBook: defaultPriceBook, policy: defaultPolicy, clock: { now: () => new Date() }, logger: silentLogger, metrics: new OptexMetrics(), options: { stepBackoffMs: 1, intakeLimits: defaultIntakeLimits } },
      { dryRun: false },
    );
    const optimizations = (await OptimizationProjection.load(store)).all();
    const rejected = (await store.readStream(REJECTED_STREAM)).map((e) => (e as unknown as RecommendationRejected).data);
    return { optimizations, rejected };
  } finally {
    await bus.close();
    await store.close();
  }
}

describe('native analyzer messages on optex.recommendations.v1 (the CloudEvents type names the format)', () => {
  it('given a Cost Optimization Hub list on the topic, then each item is an optimization or a rejection with its skip reason', async () => {
    const { optimizations, rejected } = await run([native(ANALYZERS.coh.cloudEventType, fixture('coh-list-recommendations.json'), 'coh-1')]);
    expect(optimizations.map((o) => [o.recommendation.resource.id, o.recommendation.action.type]).sort()).toEqual([
      ['i-0a1b2c3d4e5f60789', 'rightsize'],
      ['i-0fedcba9876543210', 'stop-idle'],
      ['vol-0aaaabbbbccccdddd', 'delete-volume'],
    ]);
    expect(optimizations.map((o) => o.deliveryId).sort()).toEqual(['coh-1#0', 'coh-1#1', 'coh-1#2']);
    expect(rejected).toHaveLength(7);
    expect(rejected.map((r) => r.errors[0]!.path).sort()).toEqual(['actionType', 'actionType', 'actionType', 'currencyCode', 'currentResourceType', 'offeringId', 'recommendedResourceDetails.ebsVolume.configuration.storage.type']);
    expect(rejected.find((r) => r.errors[0]!.message.startsWith('actionType: ScaleIn'))?.raw).toEqual({ format: 'coh', itemRef: expect.stringContaining('autoScalingGroupName/web-asg'), skipped: 'unsupported-action' });
  });

  it('given the same native message delivered twice, then nothing is appended twice', async () => {
    const body = fixture('co-get-ec2-instance-recommendations.json');
    const type = ANALYZERS['compute-optimizer'].cloudEventType;
    const { optimizations, rejected } = await run([native(type, body, 'co-1'), native(type, body, 'co-1')]);
    expect(optimizations.map((o) => o.recommendation.recommendationId)).toEqual(['arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60789#rightsize:m5.large']);
    expect(rejected).toEqual([]);
  });

  it('given Custodian resources with metadata and a Trusted Advisor result with its account, then each maps; an unreadable body is rejected whole', async () => {
    const custodian = Buffer.from(JSON.stringify({ resources: JSON.parse(fixture('c7n-ec2-idle-stop.resources.json').toString()), metadata: JSON.parse(fixture('c7n-ec2-idle-stop.metadata.json').toString()) }));
    const trustedAdvisor = Buffer.from(JSON.stringify({ ...JSON.parse(fixture('ta-underutilized-ebs.json').toString()), accountId: ACCOUNT }));
    const { optimizations, rejected } = await run([
      native(ANALYZERS.custodian.cloudEventType, custodian, 'c7n-1'),
      native(ANALYZERS['trusted-advisor'].cloudEventType, trustedAdvisor, 'ta-2'),
      native(ANALYZERS['trusted-advisor'].cloudEventType, Buffer.from('{"not": "a check result"}'), 'ta-1'),
    ]);
    expect(optimizations.map((o) => [o.recommendation.source, o.recommendation.action.type]).sort()).toEqual([
      ['aws-trusted-advisor', 'delete-volume'],
      ['cloud-custodian', 'stop-idle'],
    ]);
    expect(rejected.filter((r) => r.deliveryId.startsWith('ta-2'))).toEqual([expect.objectContaining({ deliveryId: 'ta-2#skipped-0', errors: [{ path: '(root)', message: '(root) metadata "Volume ID": missing' }] })]);
    expect(rejected.filter((r) => r.deliveryId === 'ta-1')).toEqual([expect.objectContaining({ deliveryId: 'ta-1', errors: [{ path: '(root)', message: expect.stringMatching(/^\(root\) is not a trusted-advisor document \(ce_type com\.amazonaws\.trusted-advisor\.check-result\): not a Trusted Advisor document/) }] })]);
  });
});
