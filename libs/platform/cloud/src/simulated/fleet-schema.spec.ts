import { FleetFileError, parseFleetFile, validateFleet } from './fleet-schema';
import { fixtureFleet } from './fleet.fixture';

function issuesOf(value: unknown): string[] {
  try {
    validateFleet(value, 'fleet.json');
  } catch (error) {
    if (error instanceof FleetFileError) return error.issues.map((i) => `${i.path}: ${i.message}`);
    throw error;
  }
  throw new Error('expected the fleet to be rejected');
}

const volume = { id: 'vol-1', accountId: '111122223333', region: 'us-east-1', volumeType: 'gp2', sizeGiB: 8, state: 'available' };

describe('fleet file schema', () => {
  it('accepts the fixture and an empty fleet (every list defaults to empty)', () => {
    expect(validateFleet(fixtureFleet(), 'f').instances).toHaveLength(6);
    expect(validateFleet({}, 'f')).toEqual({ instances: [], volumes: [], addresses: [], snapshots: [], reservedInstanceOfferings: [], faults: [] });
  });

  it('names the file and the field of a wrong type', () => {
    const value = { volumes: [volume, { ...volume, id: 'vol-2' }, { ...volume, id: 'vol-3', sizeGiB: 'big' }] };
    expect(() => validateFleet(value, 'examples/fleet.json')).toThrow('examples/fleet.json: volumes[2].sizeGiB: expected number, received string');
  });

  it('reports every problem, each with its path', () => {
    const issues = issuesOf({
      instances: [{ id: 'i-1', accountId: '1234', region: 'us-east-1', instanceType: 'large', state: 'asleep', colour: 'red' }],
      volumes: [{ ...volume, attachedTo: 'i-1' }],
      faults: [{ resourceId: 'i-1', operation: 'RebootInstances', error: 'Oops!', times: -1 }],
      extra: true,
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        'instances[0].accountId: expected a 12-digit AWS account id',
        'instances[0].instanceType: expected an instance type such as m5.large',
        expect.stringMatching(/^instances\[0\]\.state: Invalid option/),
        'instances[0].colour: unknown field',
        'volumes[0].state: expected "in-use" for a volume attached to i-1',
        expect.stringMatching(/^faults\[0\]\.operation: expected an Ec2Gateway method \(describeInstance, stopInstance/),
        'faults[0].error: expected an AWS error code such as RequestLimitExceeded',
        expect.stringMatching(/^faults\[0\]\.times: /),
        'extra: unknown field',
      ]),
    );
    expect(issues).toHaveLength(9);
  });

  it('requires the instance of an in-use volume and unique ids', () => {
    expect(issuesOf({ volumes: [{ ...volume, state: 'in-use' }] })).toEqual(['volumes[0].attachedTo: expected the instance id of an "in-use" volume']);
    expect(issuesOf({ volumes: [volume, { ...volume, id: 'vol-2' }, { ...volume }] })).toEqual(['volumes[2].id: duplicate id vol-1 (also at index 0)']);
  });

  it('accepts EC2 API action names in faults, and the optional fields', () => {
    const fleet = validateFleet(
      {
        instances: [{ id: 'i-1', accountId: '111122223333', region: 'eu-west-1', instanceType: 'm5.large', state: 'running', statusChecksPassed: false, availabilityZone: 'eu-west-1b' }],
        volumes: [{ ...volume, tags: { a: 'b' }, modificationState: 'optimizing', lastModificationStartedAt: '2026-11-26T08:00:00Z', availabilityZone: 'us-east-1d' }],
        snapshots: [{ id: 's', accountId: '111122223333', region: 'us-east-1', sizeGiB: 8, state: 'pending', volumeId: 'vol-1', tags: {} }],
        faults: [{ resourceId: 'i-1', operation: 'StopInstances', error: 'InvalidIPAddress.InUse', times: 1, message: 'm' }],
        dryRunUnauthorized: true,
      },
      'f',
    );
    expect(fleet.faults[0]!.operation).toBe('StopInstances');
  });

  it('takes the instance types not offered per region or zone, naming a bad location or type by its path', () => {
    const fleet = validateFleet({ instanceTypesNotOffered: { 'us-east-1': ['m7g.large'], 'us-east-1b': ['c5.2xlarge', 'm5.large'] } }, 'f');
    expect(fleet.instanceTypesNotOffered).toEqual({ 'us-east-1': ['m7g.large'], 'us-east-1b': ['c5.2xlarge', 'm5.large'] });
    expect(issuesOf({ instanceTypesNotOffered: { 'us-east-1': ['m7g.large', 'huge'], moon: ['m5.large'] } })).toEqual([
      'instanceTypesNotOffered.us-east-1[1]: expected an instance type such as m5.large',
      'instanceTypesNotOffered.moon: expected a region such as us-east-1 or a zone such as us-east-1a',
    ]);
  });

  it('reads a file that starts with a byte order mark as one without it', () => {
    const text = JSON.stringify({ volumes: [volume] });
    expect(parseFleetFile(`\uFEFF${text}`, 'bom.json')).toEqual(parseFleetFile(text, 'plain.json'));
    expect(parseFleetFile(`\uFEFF${text}`, 'bom.json').volumes.map((v) => v.id)).toEqual(['vol-1']);
  });

  it('reports text that is not JSON with the file name', () => {
    expect(() => parseFleetFile('{"instances": [', 'broken.json')).toThrow(/^broken\.json: not valid JSON/);
    expect(() => parseFleetFile('[]', 'array.json')).toThrow('array.json: expected object, received array');
  });
});
