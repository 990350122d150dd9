import { CreateVolumeCommand, DeleteVolumeCommand, EC2Client } from '@aws-sdk/client-ec2';
import { startMoto, type MotoServer } from './moto';
import { startCountingProxy, type CountingProxy } from './counting-proxy';

jest.setTimeout(60_000);
let moto: MotoServer;
let proxy: CountingProxy;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startCountingProxy(moto.endpoint);
});
afterAll(async () => {
  await proxy?.stop();
  await moto?.stop();
});

it('forwards EC2 calls to moto and counts the ones that were made (not dry runs, not refused)', async () => {
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: proxy.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const volumeId = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 8 }))).VolumeId!;
  await expect(ec2.send(new DeleteVolumeCommand({ VolumeId: volumeId, DryRun: true }))).rejects.toMatchObject({ name: 'DryRunOperation' });
  await ec2.send(new DeleteVolumeCommand({ VolumeId: volumeId }));
  await expect(ec2.send(new DeleteVolumeCommand({ VolumeId: volumeId }))).rejects.toMatchObject({ name: 'InvalidVolume.NotFound' });
  expect(proxy.made('CreateVolume')).toBe(1);
  expect(proxy.made('DeleteVolume', (p) => p['VolumeId'] === volumeId)).toBe(1);
  expect(proxy.requests().filter((r) => r.action === 'DeleteVolume')).toHaveLength(3);
  ec2.destroy();
});
