import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AttachVolumeCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeReservedInstancesOfferingsCommand,
  EC2Client,
  ModifyVolumeCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ec2GatewayContract, MotoRulesGateway, recordSdkCommands, repoRoot, sentButNotCovered, shouldRunMotoTests, startMoto, type Ec2ContractSubject, type MotoServer } from '@optex/testing';
import { AwsEc2Gateway } from './aws-ec2-gateway';

// The Ec2Gateway contract against moto_server 5.2.1 (started here, or OPTEX_TEST_EC2_ENDPOINT): the AWS SDK adapter
// wrapped in the test-only MotoRulesGateway, which applies the EC2 rules moto lacks. Resources are arranged with the
// raw EC2Client.
const ACCOUNT = '123456789012'; // moto's default account
const REGION = 'us-east-1';
const ZONE = `${REGION}a`;
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
/** Every EC2 action the adapter sent during the contract (not the arranging client's): checked against deploy/iam. */
const sent = new Set<string>();

async function motoSubject(): Promise<Ec2ContractSubject> {
  const external = process.env['OPTEX_TEST_EC2_ENDPOINT'];
  const moto: MotoServer | undefined = external ? undefined : await startMoto();
  const endpoint = external ?? moto!.endpoint;
  const sdk = new EC2Client({ region: REGION, endpoint, credentials, maxAttempts: 1 });
  const adapter = AwsEc2Gateway.create({
    endpoint,
    credentials,
    // moto 5.2.1 has no `block-device-mapping.snapshot-id` filter for DescribeImages
    imageLookup: 'scan-own-images',
    retry: { maxRetries: 2, initialDelayMs: 5, maxDelayMs: 20 },
    waiter: { minDelaySeconds: 0.1, maxDelaySeconds: 0.5 },
    clientFor: (region) => recordSdkCommands(new EC2Client({ region, endpoint, credentials, maxAttempts: 1 }), 'ec2', sent),
  });
  // moto stamps volume modifications with the real time: the rules' clock starts there and only moves forward.
  let offsetMs = 0;
  const gateway = new MotoRulesGateway(adapter, { clock: { now: () => new Date(Date.now() + offsetMs) } });
  const images = (await sdk.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? [];
  const imageId = images.find((i) => i.ImageId === 'ami-12c6146b')?.ImageId ?? images[0]!.ImageId!;
  let counter = 0;

  const runInstance = async (instanceType: string): Promise<string> =>
    (await sdk.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: instanceType as never, Placement: { AvailabilityZone: ZONE } })))
      .Instances![0]!.InstanceId!;
  const createVolume = async (volumeType: 'gp2' | 'gp3', sizeGiB: number, tags?: Readonly<Record<string, string>>): Promise<string> =>
    (
      await sdk.send(
        new CreateVolumeCommand({
          AvailabilityZone: ZONE,
          VolumeType: volumeType,
          Size: sizeGiB,
          ...(tags ? { TagSpecifications: [{ ResourceType: 'volume', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }] } : {}),
        }),
      )
    ).VolumeId!;

  return {
    gateway,
    accountId: ACCOUNT,
    region: REGION,
    availabilityZone: ZONE,
    advanceClock: (ms) => {
      offsetMs += ms;
    },
    close: async () => {
      adapter.destroy();
      sdk.destroy();
      await moto?.stop();
    },
    arrange: {
      instance: async ({ instanceType, state }) => {
        const id = await runInstance(instanceType);
        if (state === 'stopped') await sdk.send(new StopInstancesCommand({ InstanceIds: [id] }));
        if (state === 'terminated') await sdk.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
        return id;
      },
      volume: async ({ volumeType, sizeGiB, attached, tags }) => {
        const id = await createVolume(volumeType, sizeGiB, tags);
        if (attached) await sdk.send(new AttachVolumeCommand({ VolumeId: id, InstanceId: await runInstance('m5.large'), Device: '/dev/sdf' }));
        return id;
      },
      modifiedNow: async (volumeId) => {
        await sdk.send(new ModifyVolumeCommand({ VolumeId: volumeId, Size: undefined, VolumeType: 'gp2' }));
      },
      snapshot: async ({ sizeGiB, usedByImage }) => {
        if (!usedByImage) return (await sdk.send(new CreateSnapshotCommand({ VolumeId: await createVolume('gp2', sizeGiB) }))).SnapshotId!;
        // moto 5.2.1's RegisterImage ignores a mapping's SnapshotId and gives the image a root snapshot of its own:
        // the snapshot the image uses is that one.
        const image = await sdk.send(
          new RegisterImageCommand({ Name: `contract-${++counter}-${Date.now()}`, RootDeviceName: '/dev/sda1', BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeSize: sizeGiB } }] }),
        );
        const described = (await sdk.send(new DescribeImagesCommand({ ImageIds: [image.ImageId!] }))).Images![0]!;
        return described.BlockDeviceMappings!.find((m) => m.Ebs?.SnapshotId)!.Ebs!.SnapshotId!;
      },
      address: async ({ associated }) => {
        const out = await sdk.send(new AllocateAddressCommand({ Domain: 'vpc' }));
        const address = { allocationId: out.AllocationId!, publicIp: out.PublicIp! };
        if (!associated) return address;
        const association = await sdk.send(new AssociateAddressCommand({ AllocationId: address.allocationId, InstanceId: await runInstance('t3.micro') }));
        return { ...address, associationId: association.AssociationId! };
      },
      // moto ships EC2's offerings per zone (us-east-1e, for one, lacks most current types): a zone of the region
      // whose list leaves the type out, found with the arranging client.
      zoneNotOffering: async (instanceType) => {
        const offered = await sdk.send(new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone', Filters: [{ Name: 'instance-type', Values: [instanceType] }] }));
        const offering = new Set((offered.InstanceTypeOfferings ?? []).map((o) => o.Location));
        const zones = (await sdk.send(new DescribeAvailabilityZonesCommand({}))).AvailabilityZones ?? [];
        const zone = zones.map((z) => z.ZoneName!).find((name) => !offering.has(name));
        if (zone === undefined) throw new Error(`moto offers ${instanceType} in every zone of ${REGION}`);
        return zone;
      },
      offering: async () => {
        const out = await sdk.send(new DescribeReservedInstancesOfferingsCommand({ InstanceType: 'm5.large' }));
        const offering = (out.ReservedInstancesOfferings ?? []).find((o) => (o.FixedPrice ?? 0) > 0);
        if (offering === undefined) throw new Error('moto lists no m5.large Reserved Instances offering with an upfront price');
        return { offeringId: offering.ReservedInstancesOfferingId!, instanceType: offering.InstanceType!, fixedPrice: offering.FixedPrice! };
      },
    },
  };
}

const capabilities = {
  reservedInstancesPurchase: { unsupported: 'moto 5.2.1 does not implement PurchaseReservedInstancesOffering (HTTP 500)' },
  modificationInProgress: { unsupported: 'moto 5.2.1 completes a volume modification at once, so none can be in progress' },
  permissionDenial: { unsupported: 'moto_server authorizes every request unless IAM enforcement is switched on for the whole server' },
} as const;

if (shouldRunMotoTests()) {
  ec2GatewayContract('AwsEc2Gateway + MotoRulesGateway on moto 5.2.1', capabilities, motoSubject, { testTimeoutMs: 60_000 });
  // Runs after the contract (jest keeps the order of definition): what the adapter really sent, against the IAM policy.
  describe('deploy/iam/optex-policy.json against what the adapter sent during the contract', () => {
    it('grants every EC2 action sent, and the code scan found each of them', () => {
      expect(sent.size).toBeGreaterThanOrEqual(15);
      expect(sentButNotCovered(sent, repoRoot())).toEqual([]);
    });
  });
} else {
  // Outside CI without moto_server only (shouldRunMotoTests says why on stderr); under CI=true the suite runs and fails loudly.
  describe.skip('Ec2Gateway contract on moto (moto_server not installed)', () => it('needs moto_server', () => undefined));
}
