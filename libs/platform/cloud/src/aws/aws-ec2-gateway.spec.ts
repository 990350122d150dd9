import type { EC2Client } from '@aws-sdk/client-ec2';
import { Ec2Error } from '@optex/ports';
import type { ResourceRef } from '@optex/ports';
import { AwsEc2Gateway } from './aws-ec2-gateway';
import type { AwsEc2GatewayOptions } from './aws-ec2-gateway';
import { describeAwsFailure } from './aws-errors';

type Handler = (input: Record<string, unknown>, signal: AbortSignal | undefined) => unknown;

/** A stand-in for EC2Client: answers each command by name, records every call. */
class FakeEc2 {
  readonly calls: { command: string; input: Record<string, unknown> }[] = [];
  constructor(private readonly handlers: Record<string, Handler>) {}
  send = async (command: { constructor: { name: string }; input: Record<string, unknown> }, options?: { abortSignal?: AbortSignal }) => {
    const name = command.constructor.name.replace(/Command$/, '');
    this.calls.push({ command: name, input: command.input });
    const handler = this.handlers[name];
    if (!handler) throw new Error(`fake EC2: no handler for ${name}`);
    return handler(command.input, options?.abortSignal);
  };
  destroy = () => undefined;
  count(command: string): number {
    return this.calls.filter((c) => c.command === command).length;
  }
}

const sdkError = (code: string, status = 400, message = `${code} happened`) =>
  Object.assign(new Error(message), { name: code, Code: code, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });

const ref = (id: string, region = 'us-east-1'): ResourceRef => ({ accountId: '123456789012', region, id });

function gateway(fakes: FakeEc2 | Record<string, FakeEc2>, options: AwsEc2GatewayOptions = {}): AwsEc2Gateway {
  return AwsEc2Gateway.create({
    retry: { maxRetries: 3, initialDelayMs: 1, maxDelayMs: 2 },
    ...options,
    clientFor: (region) => {
      const fake = fakes instanceof FakeEc2 ? fakes : fakes[region];
      if (!fake) throw new Error(`no fake for ${region}`);
      return fake as unknown as EC2Client;
    },
  });
}

const instance = (state: string, type = 't3.large') => ({
  Reservations: [{ Instances: [{ InstanceId: 'i-1', InstanceType: type, State: { Name: state }, Tags: [{ Key: 'env', Value: 'prod' }], Placement: { AvailabilityZone: 'us-east-1a' } }] }],
});

async function rejection(promise: Promise<unknown>): Promise<Ec2Error> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(Ec2Error);
    return error as Ec2Error;
  }
  throw new Error('expected a rejection');
}

describe('describeAwsFailure (SDK error translation)', () => {
  it('takes the AWS code from the error and keeps 4xx codes non-transient', () => {
    expect(describeAwsFailure(sdkError('IncorrectInstanceState'))).toMatchObject({ code: 'IncorrectInstanceState', transient: false, throttling: false });
  });
  it('marks throttling codes transient and throttling', () => {
    expect(describeAwsFailure(sdkError('RequestLimitExceeded', 503))).toMatchObject({ code: 'RequestLimitExceeded', transient: true, throttling: true });
    expect(describeAwsFailure(sdkError('ThrottlingException'))).toMatchObject({ transient: true, throttling: true });
  });
  it('names a code-less 5xx (an HTML error page) after its HTTP status', () => {
    const bare = Object.assign(new Error('XML parse error'), { $metadata: { httpStatusCode: 500 } });
    expect(describeAwsFailure(bare)).toMatchObject({ code: 'InternalError', transient: true, httpStatus: 500 });
    const unavailable = Object.assign(new Error('down'), { $metadata: { httpStatusCode: 503 } });
    expect(describeAwsFailure(unavailable)).toMatchObject({ code: 'ServiceUnavailable', transient: true });
  });
  it('treats connection failures as transient NetworkError', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', $metadata: { attempts: 1 } });
    expect(describeAwsFailure(refused)).toMatchObject({ code: 'NetworkError', transient: true, throttling: false });
  });
});

describe('AwsEc2Gateway with a fake client', () => {
  it('retries RequestLimitExceeded: two throttled calls, then the third answers', async () => {
    let n = 0;
    const fake = new FakeEc2({
      DescribeInstances: () => {
        n += 1;
        if (n <= 2) throw sdkError('RequestLimitExceeded', 503);
        return instance('running');
      },
    });
    const info = await gateway(fake).describeInstance(ref('i-1'));
    expect(info).toEqual({ id: 'i-1', instanceType: 't3.large', state: 'running', tags: { env: 'prod' }, availabilityZone: 'us-east-1a' });
    expect(fake.count('DescribeInstances')).toBe(3);
  });

  it('gives up after maxRetries and reports the last transient error', async () => {
    const fake = new FakeEc2({ DescribeInstances: () => { throw sdkError('RequestLimitExceeded', 503); } });
    const error = await rejection(gateway(fake, { retry: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 1 } }).describeInstance(ref('i-1')));
    expect(error.awsCode).toBe('RequestLimitExceeded');
    expect(error.transient).toBe(true);
    expect(fake.count('DescribeInstances')).toBe(3);
  });

  it('does not retry a non-transient error', async () => {
    const fake = new FakeEc2({ DescribeInstances: () => { throw sdkError('AuthFailure', 401); } });
    const error = await rejection(gateway(fake).describeInstance(ref('i-1')));
    expect(error.awsCode).toBe('AuthFailure');
    expect(error.transient).toBe(false);
    expect(fake.count('DescribeInstances')).toBe(1);
  });

  it('resolves describe* to undefined on a NotFound code', async () => {
    const fake = new FakeEc2({
      DescribeInstances: () => { throw sdkError('InvalidInstanceID.NotFound'); },
      DescribeVolumes: () => { throw sdkError('InvalidVolume.NotFound'); },
      DescribeSnapshots: () => { throw sdkError('InvalidSnapshot.NotFound'); },
      DescribeAddresses: () => { throw sdkError('InvalidAllocationID.NotFound'); },
      DescribeReservedInstancesOfferings: () => ({ ReservedInstancesOfferings: [] }),
    });
    const gw = gateway(fake);
    await expect(gw.describeInstance(ref('i-x'))).resolves.toBeUndefined();
    await expect(gw.describeVolume(ref('vol-x'))).resolves.toBeUndefined();
    await expect(gw.describeSnapshot(ref('snap-x'))).resolves.toBeUndefined();
    await expect(gw.describeAddress(ref('eipalloc-x'))).resolves.toBeUndefined();
    await expect(gw.describeReservedInstancesOffering(ref('off-x'))).resolves.toBeUndefined();
  });

  it('asks DescribeVolumes and DescribeVolumesModifications at once; the second counts only for a volume that exists', async () => {
    let modificationsAsked!: () => void;
    const asked = new Promise<void>((resolve) => (modificationsAsked = resolve));
    const volume = { VolumeId: 'vol-1', VolumeType: 'gp2', Size: 8, State: 'available', AvailabilityZone: 'us-east-1a', Attachments: [] };
    const fake = new FakeEc2({
      // Answers only once the modifications are asked too: a gateway that waits for this answer first never gets it.
      DescribeVolumes: async () => {
        await Promise.race([asked, new Promise((_, reject) => setTimeout(() => reject(sdkError('AuthFailure', 401, 'DescribeVolumesModifications was not asked meanwhile')), 500))]);
        return { Volumes: [volume] };
      },
      DescribeVolumesModifications: () => {
        modificationsAsked();
        return { VolumesModifications: [{ VolumeId: 'vol-1', ModificationState: 'optimizing', StartTime: new Date('2026-12-05T10:00:00Z') }] };
      },
    });
    await expect(gateway(fake).describeVolume(ref('vol-1'))).resolves.toMatchObject({ id: 'vol-1', volumeType: 'gp2', modificationState: 'optimizing' });

    const denied = () => {
      throw sdkError('UnauthorizedOperation', 403);
    };
    const failing = new FakeEc2({ DescribeVolumes: () => ({ Volumes: [volume] }), DescribeVolumesModifications: denied });
    expect((await rejection(gateway(failing).describeVolume(ref('vol-1')))).awsCode).toBe('UnauthorizedOperation');
    const gone = new FakeEc2({ DescribeVolumes: () => ({ Volumes: [] }), DescribeVolumesModifications: denied });
    await expect(gateway(gone).describeVolume(ref('vol-1'))).resolves.toBeUndefined();
  });

  it('asks DescribeInstanceTypeOfferings for the type at the zone, or in the region without one: offered when it is listed there', async () => {
    const fake = new FakeEc2({
      DescribeInstanceTypeOfferings: (input) => {
        const filters = input['Filters'] as { Name: string; Values: string[] }[];
        const [type, location] = ['instance-type', 'location'].map((name) => filters.find((f) => f.Name === name)!.Values[0]!);
        return { InstanceTypeOfferings: type === 'm5.large' ? [{ InstanceType: type, LocationType: input['LocationType'], Location: location }] : [] };
      },
    });
    const gw = gateway(fake);
    const scope = { accountId: '123456789012', region: 'us-east-1' };
    await expect(gw.describeInstanceTypeOffering(scope, 'm5.large', 'us-east-1b')).resolves.toEqual({ instanceType: 'm5.large', location: 'us-east-1b' });
    await expect(gw.describeInstanceTypeOffering(scope, 'm5.large')).resolves.toEqual({ instanceType: 'm5.large', location: 'us-east-1' });
    await expect(gw.describeInstanceTypeOffering(scope, 'm7g.large', 'us-east-1b')).resolves.toBeUndefined();
    expect(fake.calls.map((c) => c.input)).toEqual([
      { LocationType: 'availability-zone', Filters: [{ Name: 'instance-type', Values: ['m5.large'] }, { Name: 'location', Values: ['us-east-1b'] }] },
      { LocationType: 'region', Filters: [{ Name: 'instance-type', Values: ['m5.large'] }, { Name: 'location', Values: ['us-east-1'] }] },
      { LocationType: 'availability-zone', Filters: [{ Name: 'instance-type', Values: ['m7g.large'] }, { Name: 'location', Values: ['us-east-1b'] }] },
    ]);
  });

  it('opens the breaker of one account+region after consecutive transient failures, then half-opens after the cool-down', async () => {
    let failing = true;
    const east = new FakeEc2({
      DescribeInstances: () => {
        if (failing) throw sdkError('InternalError', 500);
        return instance('running');
      },
    });
    const west = new FakeEc2({ DescribeInstances: () => instance('stopped') });
    const gw = gateway({ 'us-east-1': east, 'eu-west-1': west }, {
      retry: { maxRetries: 0 },
      breaker: { consecutiveFailures: 3, halfOpenAfterMs: 80 },
    });
    for (let i = 0; i < 3; i++) expect((await rejection(gw.describeInstance(ref('i-1')))).awsCode).toBe('InternalError');
    const open = await rejection(gw.describeInstance(ref('i-1')));
    expect(open.awsCode).toBe('CircuitOpen');
    expect(open.transient).toBe(true);
    expect(east.count('DescribeInstances')).toBe(3); // the open circuit did not reach the client
    // another region (another breaker) is unaffected
    await expect(gw.describeInstance(ref('i-1', 'eu-west-1'))).resolves.toMatchObject({ state: 'stopped' });
    // another account in the same region has its own breaker too
    await expect(gw.describeInstance({ ...ref('i-1'), accountId: '210987654321' })).rejects.toMatchObject({ awsCode: 'InternalError' });

    await new Promise((r) => setTimeout(r, 100));
    failing = false;
    await expect(gw.describeInstance(ref('i-1'))).resolves.toMatchObject({ state: 'running' }); // trial call closes it
    await expect(gw.describeInstance(ref('i-1'))).resolves.toMatchObject({ state: 'running' });
  });

  it('tells onCircuitOpened once when a breaker opens, with its key, its settings and the failure that opened it', async () => {
    const fake = new FakeEc2({ DescribeInstances: () => { throw sdkError('InternalError', 500); } });
    const opened: { key: string; consecutiveFailures: number; halfOpenAfterMs: number; lastError: unknown }[] = [];
    const gw = gateway(fake, { retry: { maxRetries: 0 }, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 }, onCircuitOpened: (o) => opened.push(o) });
    await rejection(gw.describeInstance(ref('i-1')));
    expect(opened).toEqual([]);
    await rejection(gw.describeInstance(ref('i-1')));
    for (let i = 0; i < 3; i++) expect((await rejection(gw.describeInstance(ref('i-1')))).awsCode).toBe('CircuitOpen');
    expect(opened).toEqual([{ key: '123456789012/us-east-1', consecutiveFailures: 2, halfOpenAfterMs: 60_000, lastError: expect.objectContaining({ awsCode: 'InternalError' }) }]);
  });

  it('does not count rejections (4xx business codes) towards the breaker', async () => {
    const fake = new FakeEc2({ DescribeInstances: () => { throw sdkError('UnauthorizedOperation', 403); } });
    const gw = gateway(fake, { retry: { maxRetries: 0 }, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 } });
    for (let i = 0; i < 4; i++) expect((await rejection(gw.describeInstance(ref('i-1')))).awsCode).toBe('UnauthorizedOperation');
    expect(fake.count('DescribeInstances')).toBe(4);
  });

  it('a capacity shortage (InsufficientInstanceCapacity, a 500): transient, not retried here, not counted by the breaker — the step runner retries it, then fails the step', async () => {
    const fake = new FakeEc2({ StartInstances: () => { throw sdkError('InsufficientInstanceCapacity', 500, 'We currently do not have sufficient r5.large capacity'); } });
    const gw = gateway(fake, { retry: { maxRetries: 3, initialDelayMs: 1, maxDelayMs: 1 }, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 } });
    for (let i = 0; i < 4; i++) {
      const error = await rejection(gw.startInstance(ref('i-1')));
      expect(error).toMatchObject({ awsCode: 'InsufficientInstanceCapacity', transient: true, outcomeUnknown: false });
    }
    // One call per attempt (no retries of the adapter's own), and the breaker never opened (no CircuitOpen).
    expect(fake.count('StartInstances')).toBe(4);
  });

  it('a capacity shortage on a call without idempotency token is a refusal, not an unknown outcome', async () => {
    const fake = new FakeEc2({ AllocateAddress: () => { throw sdkError('InsufficientAddressCapacity', 500); } });
    const error = await rejection(gateway(fake).allocateAddress({ accountId: '123456789012', region: 'us-east-1' }));
    expect(error).toMatchObject({ awsCode: 'InsufficientAddressCapacity', transient: true, outcomeUnknown: false });
    expect(error.message).not.toMatch(/outcome unknown/);
    expect(fake.count('AllocateAddress')).toBe(1);
  });

  it('times out each attempt, aborts the request and retries it', async () => {
    const signals: AbortSignal[] = [];
    const fake = new FakeEc2({
      DescribeInstances: (_input, signal) => {
        signals.push(signal!);
        return new Promise(() => undefined); // never answers
      },
    });
    const error = await rejection(gateway(fake, { callTimeoutMs: 30, retry: { maxRetries: 1, initialDelayMs: 1, maxDelayMs: 1 } }).describeInstance(ref('i-1')));
    expect(error.awsCode).toBe('RequestTimeout');
    expect(error.transient).toBe(true);
    expect(fake.count('DescribeInstances')).toBe(2);
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  it('retries a call without idempotency token on throttling only, and reports a 5xx of it as an unknown outcome', async () => {
    let n = 0;
    const throttledThenOk = new FakeEc2({
      AllocateAddress: () => {
        n += 1;
        if (n <= 2) throw sdkError('RequestLimitExceeded', 503);
        return { AllocationId: 'eipalloc-1', PublicIp: '54.0.0.1' };
      },
    });
    await expect(gateway(throttledThenOk).allocateAddress({ accountId: '123456789012', region: 'us-east-1' })).resolves.toEqual({
      allocationId: 'eipalloc-1',
      publicIp: '54.0.0.1',
    });
    expect(throttledThenOk.count('AllocateAddress')).toBe(3);

    const failing = new FakeEc2({ PurchaseReservedInstancesOffering: () => { throw sdkError('InternalError', 500); } });
    const error = await rejection(
      gateway(failing).purchaseReservedInstancesOffering({ accountId: '123456789012', region: 'us-east-1', offeringId: 'off-1', instanceCount: 1 }),
    );
    expect(failing.count('PurchaseReservedInstancesOffering')).toBe(1);
    expect(error.awsCode).toBe('InternalError');
    expect(error.transient).toBe(false);
    expect(error.outcomeUnknown).toBe(true);
    expect(error.message).toMatch(/outcome unknown/);
  });

  it('treats a NotFound on the retry of a delete as done', async () => {
    let n = 0;
    const fake = new FakeEc2({
      DescribeVolumes: () => ({ Volumes: [{ VolumeId: 'vol-1', State: 'available', Attachments: [] }] }),
      DescribeVolumesModifications: () => ({ VolumesModifications: [] }),
      DeleteVolume: () => {
        n += 1;
        if (n === 1) throw sdkError('InternalError', 500);
        throw sdkError('InvalidVolume.NotFound');
      },
    });
    await expect(gateway(fake).deleteVolume(ref('vol-1'))).resolves.toBeUndefined();
    expect(fake.count('DeleteVolume')).toBe(2);
  });

  describe('dry run', () => {
    it('sends DryRun=true without checking state, and surfaces DryRunOperation', async () => {
      const fake = new FakeEc2({
        ModifyInstanceAttribute: (input) => {
          expect(input).toMatchObject({ DryRun: true, InstanceId: 'i-1', InstanceType: { Value: 't3.small' } });
          throw sdkError('DryRunOperation', 412, 'Request would have succeeded, but DryRun flag is set.');
        },
      });
      const error = await rejection(gateway(fake).modifyInstanceType(ref('i-1'), 't3.small', { dryRun: true }));
      expect(error.awsCode).toBe('DryRunOperation');
      expect(fake.count('DescribeInstances')).toBe(0);
    });

    it('surfaces UnauthorizedOperation', async () => {
      const fake = new FakeEc2({ StopInstances: () => { throw sdkError('UnauthorizedOperation', 403, 'You are not authorized to perform this operation.'); } });
      const error = await rejection(gateway(fake).stopInstance(ref('i-1'), { dryRun: true }));
      expect(error.awsCode).toBe('UnauthorizedOperation');
      expect(error.transient).toBe(false);
    });

    it('refuses to report success when the endpoint performed a dry-run call', async () => {
      const fake = new FakeEc2({ DeleteSnapshot: () => ({}) });
      expect((await rejection(gateway(fake).deleteSnapshot(ref('snap-1'), { dryRun: true }))).awsCode).toBe('DryRunIgnored');
    });

    it('never sends CreateReservedInstancesListing (no DryRun in the EC2 API)', async () => {
      const fake = new FakeEc2({});
      const request = { accountId: '123456789012', region: 'us-east-1', reservedInstancesId: 'ri-1', instanceCount: 1, price: 100 };
      expect((await rejection(gateway(fake).createReservedInstancesListing(request, { dryRun: true }))).awsCode).toBe('DryRunOperation');
      expect(fake.calls).toHaveLength(0);
    });
  });

  describe('EC2 enforces its rules; the adapter reports its refusal with its code', () => {
    it('sends an instance type change of a running instance without looking first, and passes IncorrectInstanceState on', async () => {
      const fake = new FakeEc2({ ModifyInstanceAttribute: () => { throw sdkError('IncorrectInstanceState'); } });
      const error = await rejection(gateway(fake).modifyInstanceType(ref('i-1'), 't3.small'));
      expect(error.awsCode).toBe('IncorrectInstanceState');
      expect(fake.calls.map((c) => c.command)).toEqual(['ModifyInstanceAttribute']);
    });

    it.each(['IncorrectModificationState', 'VolumeModificationRateExceeded'])('passes ModifyVolume\'s %s on, unchanged and not retried', async (code) => {
      const fake = new FakeEc2({ ModifyVolume: () => { throw sdkError(code); } });
      const error = await rejection(gateway(fake).modifyVolume(ref('vol-1'), { volumeType: 'gp3', iops: 3000, throughput: 125 }));
      expect(error).toMatchObject({ awsCode: code, transient: false });
      expect(fake.calls).toEqual([{ command: 'ModifyVolume', input: { VolumeId: 'vol-1', VolumeType: 'gp3', Iops: 3000, Throughput: 125, DryRun: undefined } }]);
    });

    it.each([
      ['deleteVolume', 'DeleteVolume', 'VolumeInUse'],
      ['deleteSnapshot', 'DeleteSnapshot', 'InvalidSnapshot.InUse'],
      ['releaseAddress', 'ReleaseAddress', 'InvalidIPAddress.InUse'],
    ] as const)('%s sends %s alone and passes %s on', async (method, command, code) => {
      const fake = new FakeEc2({ [command]: () => { throw sdkError(code); } });
      const error = await rejection(gateway(fake)[method](ref('x-1')));
      expect(error.awsCode).toBe(code);
      expect(fake.calls.map((c) => c.command)).toEqual([command]);
    });
  });

  describe('images using a snapshot', () => {
    it('asks DescribeImages with the block-device-mapping.snapshot-id filter by default', async () => {
      const fake = new FakeEc2({
        DescribeSnapshots: () => ({ Snapshots: [{ SnapshotId: 'snap-1', VolumeSize: 8, State: 'completed' }] }),
        DescribeImages: () => ({ Images: [{ ImageId: 'ami-1', BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-1' } }] }] }),
      });
      await expect(gateway(fake).describeSnapshot(ref('snap-1'))).resolves.toMatchObject({ usedByImages: ['ami-1'] });
      expect(fake.calls.find((c) => c.command === 'DescribeImages')!.input).toMatchObject({
        Owners: ['self'],
        Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: ['snap-1'] }],
      });
    });

    it('scans the own images page by page when told to', async () => {
      const fake = new FakeEc2({
        DescribeSnapshots: () => ({ Snapshots: [{ SnapshotId: 'snap-1', VolumeSize: 8, State: 'completed' }] }),
        DescribeImages: (input) =>
          input['NextToken'] === undefined
            ? { Images: [{ ImageId: 'ami-other', BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-2' } }] }], NextToken: 'p2' }
            : { Images: [{ ImageId: 'ami-2', BlockDeviceMappings: [{ Ebs: { SnapshotId: 'snap-1' } }] }] },
      });
      await expect(gateway(fake, { imageLookup: 'scan-own-images' }).describeSnapshot(ref('snap-1'))).resolves.toMatchObject({ usedByImages: ['ami-2'] });
      expect(fake.calls.filter((c) => c.command === 'DescribeImages').map((c) => c.input['Filters'])).toEqual([undefined, undefined]);
    });
  });

  it('describes an address with its tags when it has any', async () => {
    const fake = new FakeEc2({
      DescribeAddresses: (input) =>
        (input['AllocationIds'] as string[])[0] === 'eipalloc-tagged'
          ? { Addresses: [{ AllocationId: 'eipalloc-tagged', PublicIp: '203.0.113.1', Tags: [{ Key: 'optex:skip', Value: 'true' }] }] }
          : { Addresses: [{ AllocationId: 'eipalloc-bare', PublicIp: '203.0.113.2' }] },
    });
    await expect(gateway(fake).describeAddress(ref('eipalloc-tagged'))).resolves.toEqual({ allocationId: 'eipalloc-tagged', publicIp: '203.0.113.1', tags: { 'optex:skip': 'true' } });
    await expect(gateway(fake).describeAddress(ref('eipalloc-bare'))).resolves.toEqual({ allocationId: 'eipalloc-bare', publicIp: '203.0.113.2' });
  });

  it('refuses a ref of another account when the gateway knows its account', async () => {
    const fake = new FakeEc2({});
    const error = await rejection(gateway(fake, { accountId: '999999999999' }).describeInstance(ref('i-1')));
    expect(error.awsCode).toBe('AccountMismatch');
    expect(fake.calls).toHaveLength(0);
  });

  it('names the bad field of an invalid request without calling EC2', async () => {
    const fake = new FakeEc2({});
    const gw = gateway(fake);
    expect((await rejection(gw.modifyInstanceType(ref('i-1'), ''))).message).toMatch(/instanceType must be a non-empty string/);
    expect((await rejection(gw.modifyVolume(ref('vol-1'), { volumeType: 'gp3', iops: -1 }))).message).toMatch(/target\.iops/);
    const purchase = gw.purchaseReservedInstancesOffering({ accountId: '123456789012', region: 'us-east-1', offeringId: 'o', instanceCount: 0 });
    expect((await rejection(purchase)).message).toMatch(/instanceCount must be a positive integer/);
    expect((await rejection(gw.describeInstance({ accountId: '123456789012', region: '', id: 'i-1' }))).message).toMatch(/region/);
    expect(fake.calls).toHaveLength(0);
    expect(() => AwsEc2Gateway.create({ callTimeoutMs: 0 })).toThrow(/callTimeoutMs must be a positive number/);
    expect(() => AwsEc2Gateway.create({ retry: { maxRetries: 1.5 } })).toThrow(/retry\.maxRetries must be an integer/);
  });

  it('maps an instance waiter that runs out of time to WaiterTimeout', async () => {
    const fake = new FakeEc2({ DescribeInstances: () => instance('stopping') });
    const gw = gateway(fake, { waiter: { minDelaySeconds: 0.02, maxDelaySeconds: 0.05 } });
    const started = Date.now();
    const error = await rejection(gw.waitForInstanceState(ref('i-1'), 'stopped', 300));
    expect(error.awsCode).toBe('WaiterTimeout');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(fake.count('DescribeInstances')).toBeGreaterThan(1);
  });

  it('maps a waiter that reaches a failure state to IncorrectInstanceState', async () => {
    const fake = new FakeEc2({ DescribeInstances: () => instance('terminated') });
    const error = await rejection(gateway(fake, { waiter: { minDelaySeconds: 0.02, maxDelaySeconds: 0.05 } }).waitForInstanceState(ref('i-1'), 'stopped', 5_000));
    expect(error.awsCode).toBe('IncorrectInstanceState');
    expect(error.message).toMatch(/terminated/);
  });
});

describe('AwsEc2Gateway client tokens (fake client)', () => {
  const scope = { accountId: '123456789012', region: 'us-east-1' };

  it('tags what a creating call creates with the token, and sends it as ClientToken where EC2 takes one', async () => {
    const fake = new FakeEc2({
      CreateVolume: () => ({ VolumeId: 'vol-9' }),
      CreateSnapshot: () => ({ SnapshotId: 'snap-9' }),
      AllocateAddress: () => ({ AllocationId: 'eipalloc-9', PublicIp: '203.0.113.9' }),
      CreateReservedInstancesListing: () => ({ ReservedInstancesListings: [{ ReservedInstancesListingId: 'l-9' }] }),
    });
    const gw = gateway(fake);
    const tag = (token: string) => ({ Key: 'optex:client-token', Value: token });
    await gw.createVolume({ ...scope, availabilityZone: 'us-east-1a', volumeType: 'gp3', sizeGiB: 5, tags: { a: 'b' } }, { clientToken: 't-vol' });
    await gw.createSnapshot(ref('vol-1'), { description: 'd', tags: {} }, { clientToken: 't-snap' });
    await gw.allocateAddress(scope, { clientToken: 't-eip' });
    await gw.createReservedInstancesListing({ ...scope, reservedInstancesId: 'ri-1', instanceCount: 1, price: 10 }, { clientToken: 't-list' });
    const input = (command: string) => fake.calls.find((c) => c.command === command)!.input;
    expect(input('CreateVolume')).toMatchObject({ ClientToken: 't-vol', TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'a', Value: 'b' }, tag('t-vol')] }] });
    expect(input('CreateSnapshot')).toMatchObject({ TagSpecifications: [{ ResourceType: 'snapshot', Tags: [tag('t-snap')] }] });
    expect(input('AllocateAddress')).toMatchObject({ TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: [tag('t-eip')] }] });
    expect(input('CreateReservedInstancesListing')).toMatchObject({ ClientToken: 't-list' });
  });

  it('keeps one ClientToken across the retries of a call', async () => {
    let n = 0;
    const fake = new FakeEc2({
      CreateVolume: () => {
        if (++n < 3) throw sdkError('RequestLimitExceeded', 503);
        return { VolumeId: 'vol-9' };
      },
    });
    await gateway(fake).createVolume({ ...scope, availabilityZone: 'us-east-1a', volumeType: 'gp3', sizeGiB: 5 }, { clientToken: 't-1' });
    expect(fake.calls.map((c) => c.input['ClientToken'])).toEqual(['t-1', 't-1', 't-1']);
  });

  it("allocates an address with the caller's tags beside the client token's, in one elastic-ip TagSpecification; tags alone without a token", async () => {
    const fake = new FakeEc2({ AllocateAddress: () => ({ AllocationId: 'eipalloc-9', PublicIp: '203.0.113.9' }) });
    await gateway(fake).allocateAddress({ ...scope, publicIp: '203.0.113.9', tags: { team: 'a' } }, { clientToken: 't-eip' });
    await gateway(fake).allocateAddress({ ...scope, tags: { team: 'b' } });
    expect(fake.calls[0]!.input).toMatchObject({
      Address: '203.0.113.9',
      TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: [{ Key: 'team', Value: 'a' }, { Key: 'optex:client-token', Value: 't-eip' }] }],
    });
    expect(fake.calls[1]!.input['TagSpecifications']).toEqual([{ ResourceType: 'elastic-ip', Tags: [{ Key: 'team', Value: 'b' }] }]);
  });

  it('sends no client-token tag without a token', async () => {
    const fake = new FakeEc2({ AllocateAddress: () => ({ AllocationId: 'eipalloc-9', PublicIp: '203.0.113.9' }) });
    await gateway(fake).allocateAddress(scope);
    expect(fake.calls[0]!.input['TagSpecifications']).toBeUndefined();
  });

  it('looks snapshots, volumes and addresses up by the tag filter', async () => {
    const tags = [{ Key: 'optex:client-token', Value: 't-1' }];
    const fake = new FakeEc2({
      DescribeSnapshots: (input) =>
        input['SnapshotIds'] ? { Snapshots: [{ SnapshotId: 'snap-1', VolumeSize: 8, State: 'completed', Tags: tags }] } : { Snapshots: [{ SnapshotId: 'snap-1', Tags: tags }] },
      DescribeImages: () => ({ Images: [] }),
      DescribeVolumes: () => ({ Volumes: [] }),
      DescribeAddresses: () => ({ Addresses: [{ AllocationId: 'eipalloc-1', PublicIp: '203.0.113.1', Tags: tags }] }),
    });
    const gw = gateway(fake);
    await expect(gw.findSnapshotByClientToken(scope, 't-1')).resolves.toMatchObject({ id: 'snap-1', sizeGiB: 8 });
    await expect(gw.findVolumeByClientToken(scope, 't-1')).resolves.toBeUndefined();
    await expect(gw.findAddressByClientToken(scope, 't-1')).resolves.toEqual({ allocationId: 'eipalloc-1', publicIp: '203.0.113.1' });
    const filter = [{ Name: 'tag:optex:client-token', Values: ['t-1'] }];
    expect(fake.calls.find((c) => c.command === 'DescribeSnapshots')!.input).toEqual({ OwnerIds: ['self'], Filters: filter });
    expect(fake.calls.find((c) => c.command === 'DescribeVolumes')!.input).toEqual({ Filters: filter });
    expect(fake.calls.find((c) => c.command === 'DescribeAddresses')!.input).toEqual({ Filters: filter });
  });

  it('finds reservations of an instance type started at or after a time, newest first', async () => {
    const fake = new FakeEc2({
      DescribeReservedInstances: () => ({
        ReservedInstances: [
          { ReservedInstancesId: 'ri-old', InstanceType: 'm5.large', InstanceCount: 1, Start: new Date('2026-01-01T00:00:00Z'), State: 'active' },
          { ReservedInstancesId: 'ri-a', InstanceType: 'm5.large', InstanceCount: 2, Start: new Date('2026-03-01T00:00:00Z'), State: 'active' },
          { ReservedInstancesId: 'ri-b', InstanceType: 'm5.large', InstanceCount: 1, Start: new Date('2026-03-02T00:00:00Z'), State: 'payment-pending' },
        ],
      }),
    });
    const found = await gateway(fake).findReservedInstances(scope, { instanceType: 'm5.large', startedAtOrAfter: new Date('2026-03-01T00:00:00Z') });
    expect(found.map((r) => r.reservedInstancesId)).toEqual(['ri-b', 'ri-a']);
    expect(found[1]).toEqual({ reservedInstancesId: 'ri-a', instanceType: 'm5.large', instanceCount: 2, start: new Date('2026-03-01T00:00:00Z'), state: 'active' });
    expect(fake.calls[0]!.input).toEqual({ Filters: [{ Name: 'instance-type', Values: ['m5.large'] }] });
  });
});
