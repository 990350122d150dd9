import { CreateVolumeCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';
import { StsCloudIdentity } from '@optex/cloud';
import { Ec2Error, silentLogger, systemClock } from '@optex/ports';
import { recordSdkCommands, repoRoot, sentButNotCovered, shouldRunMotoTests, startMoto } from '@optex/testing';
import type { MotoServer } from '@optex/testing';
import { openAdapters, openCloud } from './adapters';
import { processUntilQuiescent } from './processing';
import { inputRecord } from './input';

// The scope guard's credentials check against moto: STS GetCallerIdentity answers moto's default account
// (123456789012), the runtime switches the AWS adapter's AccountMismatch guard on with it, and a recommendation for
// another account ends out-of-scope without any EC2 call. The live opt-out tag is read from DescribeVolumes' tags.
const describeMoto = shouldRunMotoTests() ? describe : describe.skip;
const MOTO_ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';
const REGION = 'us-east-1';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

describeMoto('scope guard against moto (STS + EC2)', () => {
  jest.setTimeout(90_000);
  let moto: MotoServer | undefined;
  let endpoint: string;
  let sdk: EC2Client;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    const external = process.env['OPTEX_TEST_EC2_ENDPOINT'];
    if (external) endpoint = external;
    else {
      moto = await startMoto();
      endpoint = moto.endpoint;
    }
    // openCloud uses the SDK's default credential chain, as the CLI does.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: REGION });
    sdk = new EC2Client({ region: REGION, endpoint, credentials, maxAttempts: 1 });
  });

  afterAll(async () => {
    sdk?.destroy();
    await moto?.stop();
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) {
      if (savedEnv[key] === undefined) delete process.env[key];
      else process.env[key] = savedEnv[key];
    }
  });

  async function createVolume(tags: Record<string, string> = {}): Promise<string> {
    const tagList = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    const out = await sdk.send(
      new CreateVolumeCommand({ AvailabilityZone: `${REGION}a`, Size: 50, VolumeType: 'gp2', ...(tagList.length ? { TagSpecifications: [{ ResourceType: 'volume', Tags: tagList }] } : {}) }),
    );
    return out.VolumeId!;
  }

  const volumeType = async (id: string) => (await sdk.send(new DescribeVolumesCommand({ VolumeIds: [id] }))).Volumes?.[0]?.VolumeType;

  const record = (recommendationId: string, accountId: string, volumeId: string) =>
    JSON.stringify({
      recommendationId,
      source: 'scope-int',
      accountId,
      region: REGION,
      resource: { type: 'ec2:volume', id: volumeId },
      action: { type: 'modify-volume', targetVolumeType: 'gp3' },
      estimatedMonthlySavings: 1,
      currency: 'USD',
    });

  it('STS GetCallerIdentity tells whose credentials these are', async () => {
    const sent = new Set<string>();
    const sts = StsCloudIdentity.create({ client: () => recordSdkCommands(new STSClient({ region: REGION, endpoint, credentials }), 'sts', sent) });
    try {
      await expect(sts.credentialsAccountId()).resolves.toBe(MOTO_ACCOUNT);
    } finally {
      sts.destroy();
    }
    expect([...sent]).toEqual(['sts:GetCallerIdentity']);
    expect(sentButNotCovered(sent, repoRoot())).toEqual([]);
  });

  it('the runtime switches the AWS adapter guard on: a call for another account fails AccountMismatch', async () => {
    const cloud = await openCloud(`aws:${endpoint}`, 'memory:', systemClock);
    try {
      await expect(cloud.identity.credentialsAccountId()).resolves.toBe(MOTO_ACCOUNT);
      const volumeId = await createVolume();
      await expect(cloud.ec2.describeVolume({ accountId: MOTO_ACCOUNT, region: REGION, id: volumeId })).resolves.toMatchObject({ volumeType: 'gp2' });
      const refused = await cloud.ec2.describeVolume({ accountId: OTHER_ACCOUNT, region: REGION, id: volumeId }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Ec2Error);
      expect((refused as Ec2Error).awsCode).toBe('AccountMismatch');
    } finally {
      await cloud.close();
    }
  });

  it('ends a recommendation for another account, and one for a volume tagged optex:skip=true, out-of-scope; neither volume changes', async () => {
    const volumeId = await createVolume();
    const optedOut = await createVolume({ 'optex:skip': 'true', team: 'data' });
    const control = await createVolume();
    const adapters = await openAdapters({ store: 'memory:', bus: 'memory', cloud: `aws:${endpoint}` }, silentLogger, { stepBackoffMs: 1 });
    try {
      const report = await processUntilQuiescent(adapters, {
        input: { records: [record('other-account', OTHER_ACCOUNT, volumeId), record('opted-out', MOTO_ACCOUNT, optedOut), record('control', MOTO_ACCOUNT, control)].map(inputRecord), deliveryPrefix: 'scope-int', name: 'scope-int' },
        dryRun: false,
      });
      const byId = Object.fromEntries(report.optimizations.map((o) => [o.recommendationId, o]));
      expect(byId['other-account']).toMatchObject({ status: 'out-of-scope', risk: null });
      expect(byId['other-account']!.error).toBe(
        `out of scope (assessment): credentials: account ${OTHER_ACCOUNT} is not the account of the cloud credentials (${MOTO_ACCOUNT})`,
      );
      expect(byId['opted-out']).toMatchObject({ status: 'out-of-scope', error: `out of scope (pre-validation): scope.optOutTag: the live resource ${optedOut} is tagged optex:skip=true` });
      expect(byId['control']).toMatchObject({ status: 'completed' });
      expect(report.summary.byStatus).toEqual({ 'out-of-scope': 2, completed: 1 });
    } finally {
      await adapters.close();
    }
    expect(await volumeType(volumeId)).toBe('gp2');
    expect(await volumeType(optedOut)).toBe('gp2');
    expect(await volumeType(control)).toBe('gp3');
  });
});
