import { backupSnapshotTags } from '@optex/domain';
import { Ec2Error, type AddressInfo, type Ec2Gateway, type ResourceRef } from '@optex/ports';

/** `true`, or why the backend cannot do it. */
export type Capability = true | { readonly unsupported: string };

/**
 * What a backend can do beyond the common ground. A capability given as `{unsupported: reason}` excludes the cases
 * that need it from the run — they are not registered, so nothing is reported as skipped (CI=true forbids skips) —
 * and the suite's title names each exclusion with its reason.
 */
export interface Ec2ContractCapabilities {
  /** PurchaseReservedInstancesOffering works (moto 5.2.1 does not implement it: it answers HTTP 500). */
  readonly reservedInstancesPurchase: Capability;
  /** A volume can be arranged with a modification still in progress (moto completes modifications at once). */
  readonly modificationInProgress: Capability;
  /** A volume can be arranged that the caller lacks the permission to change (`UnauthorizedOperation`). */
  readonly permissionDenial: Capability;
}

/** Creates resources in the backend under test, in the subject's account and region. Each call makes new ones. */
export interface Ec2ContractArrange {
  /** An instance in that state; returns its id. */
  instance(spec: { readonly instanceType: string; readonly state: 'running' | 'stopped' | 'terminated' }): Promise<string>;
  /** An unattached (`available`) volume, or one attached to a new instance (`in-use`), in the subject's `availabilityZone`. */
  volume(spec: { readonly volumeType: 'gp2' | 'gp3'; readonly sizeGiB: number; readonly attached?: boolean; readonly tags?: Readonly<Record<string, string>> }): Promise<string>;
  /** Makes a completed modification of the volume start now, by the clock the gateway's rules read (the 6-hour rule). */
  modifiedNow(volumeId: string): Promise<void>;
  /** A volume whose latest modification is still `modifying` (only needed with the `modificationInProgress` capability). */
  volumeBeingModified?(spec: { readonly sizeGiB: number }): Promise<string>;
  /** A volume the caller has no permission to change (only needed with the `permissionDenial` capability). */
  forbiddenVolume?(spec: { readonly sizeGiB: number }): Promise<string>;
  /** A completed snapshot of `sizeGiB`, used by an image (AMI) when `usedByImage`. */
  snapshot(spec: { readonly sizeGiB: number; readonly usedByImage?: boolean }): Promise<string>;
  /** An allocated Elastic IP, associated with an instance when `associated`. */
  address(spec: { readonly associated?: boolean }): Promise<AddressInfo>;
  /** A zone of the subject's region where `instanceType` is not offered (though the region offers it). */
  zoneNotOffering(instanceType: string): Promise<string>;
  /** A Reserved Instances offering with a positive upfront price, in the subject's region. */
  offering(): Promise<{ readonly offeringId: string; readonly instanceType: string; readonly fixedPrice: number }>;
}

/** One backend under test, as {@link ec2GatewayContract}'s factory builds it. */
export interface Ec2ContractSubject {
  readonly gateway: Ec2Gateway;
  readonly accountId: string;
  readonly region: string;
  /** A zone of `region` (where arranged volumes live). */
  readonly availabilityZone: string;
  readonly arrange: Ec2ContractArrange;
  /** Moves the clock the gateway's rules read forward by `ms`. */
  advanceClock(ms: number): void;
  close?(): Promise<void>;
}

/** Tuning of {@link ec2GatewayContract}. */
export interface Ec2GatewayContractOptions {
  /** Timeout of each test. @defaultValue 30000 */
  readonly testTimeoutMs?: number;
}

const SIX_HOURS_MS = 6 * 60 * 60 * 1000;
/** Well-formed ids that exist nowhere. */
const MISSING = { instance: 'i-0123456789abcdef0', volume: 'vol-0123456789abcdef0', snapshot: 'snap-0123456789abcdef0', address: 'eipalloc-0123456789abcdef0', offering: '00000000-0000-4000-8000-000000000000' };

/**
 * The behaviour every {@link Ec2Gateway} backend must have — EC2's, with EC2's error codes — as a jest `describe`
 * block: `ec2GatewayContract('simulated fleet', capabilities, async () => subject)`. The same cases run against the simulated fleet
 * (unit tier) and against moto through the AWS SDK adapter wrapped in `MotoRulesGateway` (integration tier).
 *
 * Covered: each of EC2's rules with its code (50 tags per resource among them); each mutating call's dry run (would
 * succeed → `DryRunOperation` and nothing changes; would be refused → the refusal's code, not `DryRunOperation`; the
 * tag limit is checked on real calls only); describe of a missing resource →
 * `undefined` and a mutating call on one → its `*.NotFound`; the effect of each call. One subject is built for the
 * whole block; every test arranges its own resources, so the block runs on a backend that holds others.
 */
export function ec2GatewayContract(
  name: string,
  capabilities: Ec2ContractCapabilities,
  factory: () => Promise<Ec2ContractSubject>,
  options: Ec2GatewayContractOptions = {},
): void {
  const testTimeout = options.testTimeoutMs ?? 30_000;
  const excluded = Object.entries(capabilities)
    .filter((entry): entry is [string, { unsupported: string }] => entry[1] !== true)
    .map(([capability, { unsupported }]) => `${capability}: ${unsupported}`);
  const title = `Ec2Gateway contract: ${name}${excluded.length > 0 ? ` (excluded — ${excluded.join('; ')})` : ''}`;

  describe(title, () => {
    let subject: Ec2ContractSubject;
    beforeAll(async () => {
      subject = await factory();
    }, testTimeout);
    afterAll(async () => {
      await subject?.close?.();
    }, testTimeout);

    const test = (title: string, body: () => Promise<void>) => it(title, body, testTimeout);
    const gw = (): Ec2Gateway => subject.gateway;
    const ref = (id: string): ResourceRef => ({ accountId: subject.accountId, region: subject.region, id });
    const dryRun = { dryRun: true } as const;

    /** The AWS code a call fails with (fails the test when it succeeds or throws something else). */
    async function codeOf(call: Promise<unknown>): Promise<string> {
      try {
        await call;
      } catch (error) {
        if (error instanceof Ec2Error) return error.awsCode;
        throw error;
      }
      throw new Error('expected the call to fail with an Ec2Error; it succeeded');
    }

    describe('missing resources', () => {
      test('describe* of a missing resource resolve to undefined', async () => {
        await expect(gw().describeInstance(ref(MISSING.instance))).resolves.toBeUndefined();
        await expect(gw().describeVolume(ref(MISSING.volume))).resolves.toBeUndefined();
        await expect(gw().describeSnapshot(ref(MISSING.snapshot))).resolves.toBeUndefined();
        await expect(gw().describeAddress(ref(MISSING.address))).resolves.toBeUndefined();
        await expect(gw().describeReservedInstancesOffering(ref(MISSING.offering))).resolves.toBeUndefined();
      });

      for (const [label, options] of [['', undefined], [' (dry run too)', dryRun]] as const) {
        test(`a mutating call on a missing resource fails with its *.NotFound code${label}`, async () => {
          expect(await codeOf(gw().stopInstance(ref(MISSING.instance), options))).toBe('InvalidInstanceID.NotFound');
          expect(await codeOf(gw().modifyInstanceType(ref(MISSING.instance), 'm5.large', options))).toBe('InvalidInstanceID.NotFound');
          expect(await codeOf(gw().modifyVolume(ref(MISSING.volume), { volumeType: 'gp3' }, options))).toBe('InvalidVolume.NotFound');
          expect(await codeOf(gw().deleteVolume(ref(MISSING.volume), options))).toBe('InvalidVolume.NotFound');
          expect(await codeOf(gw().createSnapshot(ref(MISSING.volume), { description: 'x', tags: {} }, options))).toBe('InvalidVolume.NotFound');
          expect(await codeOf(gw().deleteSnapshot(ref(MISSING.snapshot), options))).toBe('InvalidSnapshot.NotFound');
          expect(await codeOf(gw().releaseAddress(ref(MISSING.address), options))).toBe('InvalidAllocationID.NotFound');
          const fromMissing = { accountId: subject.accountId, region: subject.region, availabilityZone: subject.availabilityZone, volumeType: 'gp2', sizeGiB: 10, snapshotId: MISSING.snapshot };
          expect(await codeOf(gw().createVolume(fromMissing, options))).toBe('InvalidSnapshot.NotFound');
        });
      }
    });

    describe('instances', () => {
      test('stop: a running instance ends stopped; a dry run answers DryRunOperation and leaves it running', async () => {
        const id = await subject.arrange.instance({ instanceType: 'm5.large', state: 'running' });
        expect(await codeOf(gw().stopInstance(ref(id), dryRun))).toBe('DryRunOperation');
        await expect(gw().describeInstance(ref(id))).resolves.toMatchObject({ id, state: 'running', instanceType: 'm5.large' });
        await gw().stopInstance(ref(id));
        await gw().waitForInstanceState(ref(id), 'stopped', 10_000);
        await expect(gw().describeInstance(ref(id))).resolves.toMatchObject({ state: 'stopped' });
      });

      test('start: a stopped instance ends running; a dry run answers DryRunOperation and leaves it stopped', async () => {
        const id = await subject.arrange.instance({ instanceType: 'm5.large', state: 'stopped' });
        expect(await codeOf(gw().startInstance(ref(id), dryRun))).toBe('DryRunOperation');
        await expect(gw().describeInstance(ref(id))).resolves.toMatchObject({ state: 'stopped' });
        await gw().startInstance(ref(id));
        await gw().waitForInstanceState(ref(id), 'running', 10_000);
        await expect(gw().describeInstance(ref(id))).resolves.toMatchObject({ state: 'running' });
      });

      test('stop and start of a terminated instance are IncorrectInstanceState, dry run or not', async () => {
        const id = await subject.arrange.instance({ instanceType: 'm5.large', state: 'terminated' });
        for (const options of [undefined, dryRun]) {
          expect(await codeOf(gw().stopInstance(ref(id), options))).toBe('IncorrectInstanceState');
          expect(await codeOf(gw().startInstance(ref(id), options))).toBe('IncorrectInstanceState');
        }
        await expect(gw().describeInstance(ref(id))).resolves.toMatchObject({ state: 'terminated' });
      });

      test('type change: refused while running (IncorrectInstanceState); once stopped it takes effect', async () => {
        const id = await subject.arrange.instance({ instanceType: 'm5.xlarge', state: 'running' });
        expect(await codeOf(gw().modifyInstanceType(ref(id), 'm5.large'))).toBe('IncorrectInstanceState');
        await expect(gw().describeInstance(ref(id))).resolves.toMatchObject({ instanceType: 'm5.xlarge' });
        const stopped = await subject.arrange.instance({ instanceType: 'm5.xlarge', state: 'stopped' });
        await gw().modifyInstanceType(ref(stopped), 'm5.large');
        await expect(gw().describeInstance(ref(stopped))).resolves.toMatchObject({ instanceType: 'm5.large', state: 'stopped' });
      });

      test('type change to an unknown type is InvalidInstanceAttributeValue, dry run or not', async () => {
        const id = await subject.arrange.instance({ instanceType: 'm5.xlarge', state: 'stopped' });
        expect(await codeOf(gw().modifyInstanceType(ref(id), 'm5.huge', dryRun))).toBe('InvalidInstanceAttributeValue');
        expect(await codeOf(gw().modifyInstanceType(ref(id), 'm5.huge'))).toBe('InvalidInstanceAttributeValue');
        await expect(gw().describeInstance(ref(id))).resolves.toMatchObject({ instanceType: 'm5.xlarge' });
      });

      test('type change dry run: DryRunOperation on a stopped instance, and on a running one (a dry-run rightsize stopped it only in a dry run); nothing changes', async () => {
        const stopped = await subject.arrange.instance({ instanceType: 'm5.xlarge', state: 'stopped' });
        expect(await codeOf(gw().modifyInstanceType(ref(stopped), 'm5.large', dryRun))).toBe('DryRunOperation');
        const running = await subject.arrange.instance({ instanceType: 'm5.xlarge', state: 'running' });
        expect(await codeOf(gw().modifyInstanceType(ref(running), 'm5.large', dryRun))).toBe('DryRunOperation');
        await expect(gw().describeInstance(ref(stopped))).resolves.toMatchObject({ instanceType: 'm5.xlarge', state: 'stopped' });
        await expect(gw().describeInstance(ref(running))).resolves.toMatchObject({ instanceType: 'm5.xlarge', state: 'running' });
      });
    });

    describe('instance type offerings', () => {
      test('a type EC2 offers is offered in the region and in a zone of it; a type EC2 does not know is offered nowhere', async () => {
        const scope = { accountId: subject.accountId, region: subject.region };
        for (const type of ['m5.large', 'm6g.large']) {
          await expect(gw().describeInstanceTypeOffering(scope, type)).resolves.toEqual({ instanceType: type, location: subject.region });
          await expect(gw().describeInstanceTypeOffering(scope, type, subject.availabilityZone)).resolves.toEqual({ instanceType: type, location: subject.availabilityZone });
        }
        await expect(gw().describeInstanceTypeOffering(scope, 'm5.huge')).resolves.toBeUndefined();
        await expect(gw().describeInstanceTypeOffering(scope, 'm5.huge', subject.availabilityZone)).resolves.toBeUndefined();
      });

      test('a zone that does not offer a type the region offers: not offered there', async () => {
        const scope = { accountId: subject.accountId, region: subject.region };
        const zone = await subject.arrange.zoneNotOffering('m5.large');
        await expect(gw().describeInstanceTypeOffering(scope, 'm5.large', zone)).resolves.toBeUndefined();
        await expect(gw().describeInstanceTypeOffering(scope, 'm5.large')).resolves.toEqual({ instanceType: 'm5.large', location: subject.region });
      });
    });

    describe('volume modification', () => {
      test('takes effect: type, IOPS and throughput as asked; a dry run answers DryRunOperation and changes nothing', async () => {
        const id = await subject.arrange.volume({ volumeType: 'gp2', sizeGiB: 100 });
        expect(await codeOf(gw().modifyVolume(ref(id), { volumeType: 'gp3', iops: 3000, throughput: 125 }, dryRun))).toBe('DryRunOperation');
        await expect(gw().describeVolume(ref(id))).resolves.toMatchObject({ volumeType: 'gp2', sizeGiB: 100 });
        await gw().modifyVolume(ref(id), { volumeType: 'gp3', iops: 4000, throughput: 200 });
        await expect(gw().describeVolume(ref(id))).resolves.toMatchObject({ volumeType: 'gp3', iops: 4000, throughput: 200, sizeGiB: 100 });
      });

      test('within 6 hours of the previous modification: VolumeModificationRateExceeded (dry run too); from 6 hours on it is accepted', async () => {
        const id = await subject.arrange.volume({ volumeType: 'gp2', sizeGiB: 100 });
        await subject.arrange.modifiedNow(id);
        const target = { volumeType: 'gp3', iops: 3000, throughput: 125 };
        expect(await codeOf(gw().modifyVolume(ref(id), target, dryRun))).toBe('VolumeModificationRateExceeded');
        expect(await codeOf(gw().modifyVolume(ref(id), target))).toBe('VolumeModificationRateExceeded');
        subject.advanceClock(SIX_HOURS_MS + 60_000);
        expect(await codeOf(gw().modifyVolume(ref(id), target, dryRun))).toBe('DryRunOperation');
        await gw().modifyVolume(ref(id), target);
        await expect(gw().describeVolume(ref(id))).resolves.toMatchObject({ volumeType: 'gp3' });
      });

      if (capabilities.modificationInProgress === true) {
        test('[modificationInProgress] while a modification is in progress: IncorrectModificationState, dry run or not', async () => {
          const id = await subject.arrange.volumeBeingModified!({ sizeGiB: 100 });
          const target = { volumeType: 'gp3', iops: 3000, throughput: 125 };
          expect(await codeOf(gw().modifyVolume(ref(id), target, dryRun))).toBe('IncorrectModificationState');
          expect(await codeOf(gw().modifyVolume(ref(id), target))).toBe('IncorrectModificationState');
        });
      }

      if (capabilities.permissionDenial === true) {
        test('[permissionDenial] without the permission, a dry run fails with UnauthorizedOperation, not DryRunOperation', async () => {
          const id = await subject.arrange.forbiddenVolume!({ sizeGiB: 100 });
          expect(await codeOf(gw().modifyVolume(ref(id), { volumeType: 'gp3', iops: 3000, throughput: 125 }, dryRun))).toBe('UnauthorizedOperation');
          expect(await codeOf(gw().deleteVolume(ref(id), dryRun))).toBe('UnauthorizedOperation');
          await expect(gw().describeVolume(ref(id))).resolves.toMatchObject({ volumeType: 'gp2' });
        });
      }

      test('outside the type\'s limits: InvalidParameterValue (unknown type, gp3 IOPS above 16000 or 500 per GiB, throughput above IOPS/4), dry run too', async () => {
        const id = await subject.arrange.volume({ volumeType: 'gp2', sizeGiB: 100 });
        for (const options of [dryRun, undefined]) {
          expect(await codeOf(gw().modifyVolume(ref(id), { volumeType: 'gp9' }, options))).toBe('InvalidParameterValue');
          expect(await codeOf(gw().modifyVolume(ref(id), { volumeType: 'gp3', iops: 20000, throughput: 125 }, options))).toBe('InvalidParameterValue');
          expect(await codeOf(gw().modifyVolume(ref(id), { volumeType: 'gp3', iops: 3000, throughput: 1000 }, options))).toBe('InvalidParameterValue');
        }
        await expect(gw().describeVolume(ref(id))).resolves.toMatchObject({ volumeType: 'gp2' });
      });
    });

    describe('volumes', () => {
      test('delete: an available volume is gone; a dry run answers DryRunOperation and keeps it', async () => {
        const id = await subject.arrange.volume({ volumeType: 'gp2', sizeGiB: 10 });
        expect(await codeOf(gw().deleteVolume(ref(id), dryRun))).toBe('DryRunOperation');
        await expect(gw().describeVolume(ref(id))).resolves.toMatchObject({ id, state: 'available' });
        await gw().deleteVolume(ref(id));
        await expect(gw().describeVolume(ref(id))).resolves.toBeUndefined();
      });

      test('delete of an attached volume is VolumeInUse, dry run or not', async () => {
        const id = await subject.arrange.volume({ volumeType: 'gp2', sizeGiB: 10, attached: true });
        expect(await codeOf(gw().deleteVolume(ref(id), dryRun))).toBe('VolumeInUse');
        expect(await codeOf(gw().deleteVolume(ref(id)))).toBe('VolumeInUse');
        await expect(gw().describeVolume(ref(id))).resolves.toMatchObject({ state: 'in-use' });
      });

      test('create: a new available volume as asked, with its tags; a dry run answers DryRunOperation', async () => {
        const request = { accountId: subject.accountId, region: subject.region, availabilityZone: subject.availabilityZone, volumeType: 'gp3', sizeGiB: 20, iops: 3000, throughput: 125, tags: { team: 'contract' } };
        expect(await codeOf(gw().createVolume(request, dryRun))).toBe('DryRunOperation');
        const { volumeId } = await gw().createVolume(request);
        await expect(gw().describeVolume(ref(volumeId))).resolves.toMatchObject({
          id: volumeId,
          volumeType: 'gp3',
          sizeGiB: 20,
          availabilityZone: subject.availabilityZone,
          tags: expect.objectContaining({ team: 'contract' }),
        });
      });

      test('create from a snapshot: at least the snapshot\'s size (else InvalidParameterValue, dry run too)', async () => {
        const snapshotId = await subject.arrange.snapshot({ sizeGiB: 20 });
        const request = { accountId: subject.accountId, region: subject.region, availabilityZone: subject.availabilityZone, volumeType: 'gp2', snapshotId };
        expect(await codeOf(gw().createVolume({ ...request, sizeGiB: 10 }, dryRun))).toBe('InvalidParameterValue');
        expect(await codeOf(gw().createVolume({ ...request, sizeGiB: 10 }))).toBe('InvalidParameterValue');
        const { volumeId } = await gw().createVolume({ ...request, sizeGiB: 20 });
        await expect(gw().describeVolume(ref(volumeId))).resolves.toMatchObject({ sizeGiB: 20, volumeType: 'gp2' });
      });

      // Real calls only: what a dry run checks of the tags is EC2's business (moto answers DryRunOperation at once).
      test("create with more than EC2's 50 tags per resource, the client token's tag counted, is TagLimitExceeded; 50 with it are accepted", async () => {
        const tags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`contract-${String(i).padStart(2, '0')}`, `v${i}`]));
        const request = { accountId: subject.accountId, region: subject.region, availabilityZone: subject.availabilityZone, volumeType: 'gp2', sizeGiB: 5 };
        expect(await codeOf(gw().createVolume({ ...request, tags: tags(50) }, { clientToken: 'contract-tags-51' }))).toBe('TagLimitExceeded');
        const { volumeId } = await gw().createVolume({ ...request, tags: tags(49) }, { clientToken: 'contract-tags-50' });
        const described = await gw().describeVolume(ref(volumeId));
        expect(described?.tags).toEqual({ ...tags(49), 'optex:client-token': 'contract-tags-50' });
        const snapshot = { description: 'contract tags' };
        expect(await codeOf(gw().createSnapshot(ref(volumeId), { ...snapshot, tags: tags(50) }, { clientToken: 'contract-snap-51' }))).toBe('TagLimitExceeded');
        const { snapshotId } = await gw().createSnapshot(ref(volumeId), { ...snapshot, tags: tags(49) }, { clientToken: 'contract-snap-50' });
        await gw().waitForSnapshotCompleted(ref(snapshotId), 10_000);
        expect(Object.keys((await gw().describeSnapshot(ref(snapshotId)))?.tags ?? {})).toHaveLength(50);
      });

      test('create refuses a zone outside the region (InvalidZone.NotFound) and io1 without IOPS (InvalidParameterDependency)', async () => {
        const base = { accountId: subject.accountId, region: subject.region, sizeGiB: 10 };
        expect(await codeOf(gw().createVolume({ ...base, availabilityZone: 'xx-nowhere-1a', volumeType: 'gp2' }))).toBe('InvalidZone.NotFound');
        expect(await codeOf(gw().createVolume({ ...base, availabilityZone: subject.availabilityZone, volumeType: 'io1' }))).toBe('InvalidParameterDependency');
      });
    });

    describe('snapshots', () => {
      test('create: a completed snapshot of the volume, with its tags; a dry run answers DryRunOperation', async () => {
        const volumeId = await subject.arrange.volume({ volumeType: 'gp2', sizeGiB: 15 });
        expect(await codeOf(gw().createSnapshot(ref(volumeId), { description: 'contract', tags: { 'optex:optimization-id': 'opt-1' } }, dryRun))).toBe('DryRunOperation');
        const { snapshotId } = await gw().createSnapshot(ref(volumeId), { description: 'contract', tags: { 'optex:optimization-id': 'opt-1' } });
        await gw().waitForSnapshotCompleted(ref(snapshotId), 10_000);
        await expect(gw().describeSnapshot(ref(snapshotId))).resolves.toMatchObject({
          id: snapshotId,
          volumeId,
          sizeGiB: 15,
          state: 'completed',
          usedByImages: [],
          tags: expect.objectContaining({ 'optex:optimization-id': 'opt-1' }),
        });
      });

      test("a delete-volume's backup snapshot carries the volume's tags as described plus optex's (backupSnapshotTags), and the client token", async () => {
        const volumeTags = { CostCenter: 'cc-42', team: 'payments', 'optex:client-token': 'token-of-a-restore' };
        const volumeId = await subject.arrange.volume({ volumeType: 'gp2', sizeGiB: 9, tags: volumeTags });
        const described = await gw().describeVolume(ref(volumeId));
        expect(described?.tags).toEqual(expect.objectContaining(volumeTags));
        const tags = backupSnapshotTags(described!.tags, 'opt-tags', volumeId);
        const { snapshotId } = await gw().createSnapshot(ref(volumeId), { description: 'contract backup', tags }, { clientToken: 'backup-token' });
        await gw().waitForSnapshotCompleted(ref(snapshotId), 10_000);
        const snapshot = await gw().describeSnapshot(ref(snapshotId));
        expect(snapshot?.tags).toEqual({ CostCenter: 'cc-42', team: 'payments', 'optex:optimization-id': 'opt-tags', 'optex:source-volume': volumeId, 'optex:client-token': 'backup-token' });
        await expect(gw().findSnapshotByClientToken(ref(volumeId), 'backup-token')).resolves.toMatchObject({ id: snapshotId });
        // The volume's own token was not copied: looking for what that token created never finds the backup.
        await expect(gw().findSnapshotByClientToken(ref(volumeId), 'token-of-a-restore')).resolves.toBeUndefined();
      });

      test('delete: a free snapshot is gone; a dry run answers DryRunOperation and keeps it', async () => {
        const id = await subject.arrange.snapshot({ sizeGiB: 8 });
        expect(await codeOf(gw().deleteSnapshot(ref(id), dryRun))).toBe('DryRunOperation');
        await expect(gw().describeSnapshot(ref(id))).resolves.toMatchObject({ id });
        await gw().deleteSnapshot(ref(id));
        await expect(gw().describeSnapshot(ref(id))).resolves.toBeUndefined();
      });

      test('delete of a snapshot an image uses is InvalidSnapshot.InUse, dry run or not', async () => {
        const id = await subject.arrange.snapshot({ sizeGiB: 8, usedByImage: true });
        await expect(gw().describeSnapshot(ref(id))).resolves.toMatchObject({ usedByImages: [expect.any(String)] });
        expect(await codeOf(gw().deleteSnapshot(ref(id), dryRun))).toBe('InvalidSnapshot.InUse');
        expect(await codeOf(gw().deleteSnapshot(ref(id)))).toBe('InvalidSnapshot.InUse');
        await expect(gw().describeSnapshot(ref(id))).resolves.toMatchObject({ id });
      });
    });

    describe('addresses', () => {
      test('release: a free address is gone; a dry run answers DryRunOperation and keeps it', async () => {
        const address = await subject.arrange.address({});
        expect(await codeOf(gw().releaseAddress(ref(address.allocationId), dryRun))).toBe('DryRunOperation');
        await expect(gw().describeAddress(ref(address.allocationId))).resolves.toMatchObject({ publicIp: address.publicIp });
        await gw().releaseAddress(ref(address.allocationId));
        await expect(gw().describeAddress(ref(address.allocationId))).resolves.toBeUndefined();
      });

      test('release of an associated address is InvalidIPAddress.InUse, dry run or not; it stays associated', async () => {
        const address = await subject.arrange.address({ associated: true });
        expect(await codeOf(gw().releaseAddress(ref(address.allocationId), dryRun))).toBe('InvalidIPAddress.InUse');
        expect(await codeOf(gw().releaseAddress(ref(address.allocationId)))).toBe('InvalidIPAddress.InUse');
        await expect(gw().describeAddress(ref(address.allocationId))).resolves.toMatchObject({ associationId: expect.any(String) });
      });

      test('allocate: a new address that describe finds; a dry run answers DryRunOperation', async () => {
        const scope = { accountId: subject.accountId, region: subject.region };
        expect(await codeOf(gw().allocateAddress(scope, dryRun))).toBe('DryRunOperation');
        const address = await gw().allocateAddress(scope);
        expect(address.publicIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        await expect(gw().describeAddress(ref(address.allocationId))).resolves.toMatchObject({ allocationId: address.allocationId, publicIp: address.publicIp });
      });

      test("allocate with tags: describe shows them, beside the client token's; a dry run answers DryRunOperation", async () => {
        const scope = { accountId: subject.accountId, region: subject.region };
        const tags = { team: 'a', 'optex:managed-by': 'contract' };
        expect(await codeOf(gw().allocateAddress({ ...scope, tags }, dryRun))).toBe('DryRunOperation');
        const address = await gw().allocateAddress({ ...scope, tags }, { clientToken: 'contract-eip-tags' });
        const described = await gw().describeAddress(ref(address.allocationId));
        expect(described?.tags).toEqual({ ...tags, 'optex:client-token': 'contract-eip-tags' });
        await expect(gw().findAddressByClientToken(scope, 'contract-eip-tags')).resolves.toMatchObject({ allocationId: address.allocationId });
      });

      // Real calls only, as for volumes and snapshots.
      test("allocate with more than EC2's 50 tags per resource, the client token's tag counted, is TagLimitExceeded; 50 with it are accepted", async () => {
        const scope = { accountId: subject.accountId, region: subject.region };
        const tags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`contract-${String(i).padStart(2, '0')}`, `v${i}`]));
        expect(await codeOf(gw().allocateAddress({ ...scope, tags: tags(50) }, { clientToken: 'contract-eip-51' }))).toBe('TagLimitExceeded');
        const address = await gw().allocateAddress({ ...scope, tags: tags(49) }, { clientToken: 'contract-eip-50' });
        expect((await gw().describeAddress(ref(address.allocationId)))?.tags).toEqual({ ...tags(49), 'optex:client-token': 'contract-eip-50' });
      });
    });

    describe('reserved instances', () => {
      test('describes an offering: instance type and upfront price', async () => {
        const offering = await subject.arrange.offering();
        await expect(gw().describeReservedInstancesOffering(ref(offering.offeringId))).resolves.toMatchObject({
          offeringId: offering.offeringId,
          instanceType: offering.instanceType,
          fixedPrice: offering.fixedPrice,
        });
      });

      test('a purchase whose total upfront price exceeds LimitPrice is LimitPriceExceeded, dry run or not', async () => {
        const offering = await subject.arrange.offering();
        const request = { accountId: subject.accountId, region: subject.region, offeringId: offering.offeringId, instanceCount: 2, limitPrice: offering.fixedPrice * 2 - 0.01 };
        expect(await codeOf(gw().purchaseReservedInstancesOffering(request, dryRun))).toBe('LimitPriceExceeded');
        expect(await codeOf(gw().purchaseReservedInstancesOffering(request))).toBe('LimitPriceExceeded');
      });

      if (capabilities.reservedInstancesPurchase === true) {
        test('[reservedInstancesPurchase] a purchase within LimitPrice returns the reservation; a dry run answers DryRunOperation', async () => {
          const offering = await subject.arrange.offering();
          const request = { accountId: subject.accountId, region: subject.region, offeringId: offering.offeringId, instanceCount: 2, limitPrice: offering.fixedPrice * 2 };
          expect(await codeOf(gw().purchaseReservedInstancesOffering(request, dryRun))).toBe('DryRunOperation');
          const { reservedInstancesId } = await gw().purchaseReservedInstancesOffering(request);
          expect(reservedInstancesId).toEqual(expect.any(String));
        });
      }
    });
  });
}
