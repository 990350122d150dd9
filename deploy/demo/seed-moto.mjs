#!/usr/bin/env node
// Seeds the moto EC2 emulator of the docker-compose stack with a few resources and prints, on stdout,
// recommendations (a JSON array) that name them, so that the demo has something real to optimize:
//
//   node deploy/demo/seed-moto.mjs > .optex/demo-recommendations.json          # moto on localhost:5000
//   npm run -s optex -- submit .optex/demo-recommendations.json --bus kafka://localhost:9092
//
// Argument or OPTEX_DEMO_EC2_ENDPOINT: moto's URL (default http://localhost:5000). Every run creates
// new resources (moto chooses the ids), so every run prints new recommendation ids too.
import { AllocateAddressCommand, CreateVolumeCommand, DescribeImagesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';

const endpoint = process.argv[2] ?? process.env.OPTEX_DEMO_EC2_ENDPOINT ?? 'http://localhost:5000';
const region = 'us-east-1';
const accountId = '123456789012'; // moto's default account
const zone = `${region}a`;
const ec2 = new EC2Client({ region, endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 2 });
const HOURS_PER_MONTH = 730;
const round = (n) => Math.round(n * 100) / 100;

async function instance(instanceType, tags) {
  const images = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? [];
  if (images.length === 0) throw new Error(`moto at ${endpoint} lists no images to start an instance from`);
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: images[0].ImageId,
      InstanceType: instanceType,
      MinCount: 1,
      MaxCount: 1,
      Placement: { AvailabilityZone: zone },
      TagSpecifications: [{ ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }],
    }),
  );
  return out.Instances[0].InstanceId;
}

async function volume(volumeType, size, tags) {
  const out = await ec2.send(
    new CreateVolumeCommand({ AvailabilityZone: zone, Size: size, VolumeType: volumeType, TagSpecifications: [{ ResourceType: 'volume', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }] }),
  );
  return out.VolumeId;
}

async function main() {
  const stamp = new Date().toISOString();
  const id = (kind) => `demo-${kind}-${stamp.replace(/[^0-9]/g, '').slice(0, 14)}`;
  const base = { source: 'optex-demo', accountId, region, currency: 'USD', createdAt: stamp };
  const worker = { Name: 'demo-worker', env: 'staging', team: 'demo' };
  const idle = { Name: 'demo-idle', env: 'dev', team: 'demo' };
  const data = { Name: 'demo-data', env: 'dev', team: 'demo' };
  const cache = { Name: 'demo-old-cache', team: 'demo' };
  const workerId = await instance('m5.xlarge', worker);
  const idleId = await instance('t3.large', idle);
  const gp2Id = await volume('gp2', 500, data);
  const orphanId = await volume('gp2', 100, cache);
  const address = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
  const recommendations = [
    // LOW risk, 10 USD: approved automatically, executed and validated without anyone.
    { ...base, recommendationId: id('gp3'), resource: { type: 'ec2:volume', id: gp2Id, tags: data, monthlyCost: 50 }, action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: round(500 * (0.1 - 0.08)) },
    // MEDIUM: waits for a team-lead (`optex approve ID --by NAME --store esdb://localhost:2113?tls=false`).
    { ...base, recommendationId: id('rightsize'), resource: { type: 'ec2:instance', id: workerId, tags: worker, monthlyCost: round(0.192 * HOURS_PER_MONTH) }, action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, estimatedMonthlySavings: round((0.192 - 0.096) * HOURS_PER_MONTH) },
    { ...base, recommendationId: id('stop-idle'), resource: { type: 'ec2:instance', id: idleId, tags: idle, monthlyCost: round(0.0832 * HOURS_PER_MONTH) }, action: { type: 'stop-idle' }, estimatedMonthlySavings: round(0.0832 * HOURS_PER_MONTH) },
    // HIGH: waits for a finops-manager.
    { ...base, recommendationId: id('delete-volume'), resource: { type: 'ec2:volume', id: orphanId, tags: cache, monthlyCost: 10 }, action: { type: 'delete-volume' }, estimatedMonthlySavings: 10 },
    { ...base, recommendationId: id('release-address'), resource: { type: 'ec2:elastic-ip', id: address.AllocationId, monthlyCost: round(0.005 * HOURS_PER_MONTH) }, action: { type: 'release-address' }, estimatedMonthlySavings: round(0.005 * HOURS_PER_MONTH) },
  ];
  process.stdout.write(`${JSON.stringify(recommendations, null, 2)}\n`);
  process.stderr.write(`seeded moto at ${endpoint}: instances ${workerId} ${idleId}, volumes ${gp2Id} ${orphanId}, address ${address.AllocationId}\n`);
}

main().catch((error) => {
  process.stderr.write(`seed-moto: ${error?.name ?? 'Error'}: ${error?.message ?? String(error)} (is moto running at ${endpoint}?)\n`);
  process.exit(1);
});
