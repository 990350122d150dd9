import { analyzerFixture, outcomes, schemaErrorsOf } from './analyzers.spec-helpers';
import { translateCustodian } from './custodian';
import { AnalyzerFormatError } from './translation';

const unattached = analyzerFixture('c7n-ebs-unattached.resources.json');
const unattachedMetadata = analyzerFixture('c7n-ebs-unattached.metadata.json') as { policy: object };

describe('Cloud Custodian translation', () => {
  it.each([
    ['c7n-ebs-unattached', { action: 'delete-volume' }, ['vol-0aaaabbbbccccdddd → delete-volume']],
    ['c7n-ebs-gp2-to-gp3', {}, ['vol-0123456789abcdef1 → modify-volume', '[1] skipped missing-field']],
    ['c7n-ec2-idle-stop', {}, ['i-0fedcba9876543210 → stop-idle']],
  ])('round-trips %s with its metadata.json (options %j): every resource maps or is skipped with its reason', (name, options, expected) => {
    const t = translateCustodian(analyzerFixture(`${name}.resources.json`), analyzerFixture(`${name}.metadata.json`), options);
    expect(outcomes(t)).toEqual(expected);
    expect(schemaErrorsOf(t)).toEqual([]);
  });

  it('round-trips a resources.json without metadata: the resource type from the records, account and region from the flags', () => {
    const t = translateCustodian(analyzerFixture('c7n-eip-unassociated.resources.json'), undefined, { action: 'release', accountId: '123456789012' });
    expect(t.recommendations).toEqual([
      {
        recommendationId: 'arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-0123456789abcdef0#release',
        source: 'cloud-custodian',
        accountId: '123456789012',
        region: 'us-east-1',
        resource: { type: 'ec2:elastic-ip', id: 'eipalloc-0123456789abcdef0' },
        action: { type: 'release-address' },
        estimatedMonthlySavings: 3.65,
        currency: 'USD',
      },
    ]);
  });

  it("derives the action from the policy: modify's volume-type on ebs is modify-volume, stop on ec2 is stop-idle", () => {
    const modify = translateCustodian(analyzerFixture('c7n-ebs-gp2-to-gp3.resources.json'), analyzerFixture('c7n-ebs-gp2-to-gp3.metadata.json'));
    expect(modify.recommendations[0]).toMatchObject({ action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 10, resource: { tags: { env: 'staging' } } });
    const stop = translateCustodian(analyzerFixture('c7n-ec2-idle-stop.resources.json'), analyzerFixture('c7n-ec2-idle-stop.metadata.json'));
    expect(stop.recommendations[0]).toMatchObject({ action: { type: 'stop-idle' }, estimatedMonthlySavings: 60.74, region: 'us-east-1' });
  });

  it('refuses a report-only policy without --action, naming what to pass', () => {
    expect(() => translateCustodian(unattached, unattachedMetadata)).toThrow(AnalyzerFormatError);
    expect(() => translateCustodian(unattached, unattachedMetadata)).toThrow(/policy\.actions: the policy ebs-unattached has none .*--action/);
  });

  it.each([
    [{ action: 'release' }, 'unsupported-action', '--action: release does not apply to ebs resources (delete (delete-volume), modify (modify-volume))'],
    [{ action: 'modify-volume' }, 'missing-field', "policy.actions[modify].volume-type: missing (optex needs the policy's modify action to know the target type)"],
  ])('given %j on EBS volumes, then each is skipped (%s) with the reason', (options, code, reason) => {
    expect(translateCustodian(unattached, unattachedMetadata, options).skipped).toEqual([{ itemRef: 'vol-0aaaabbbbccccdddd', code, reason }]);
  });

  it('skips a volume whose target type is not one EC2 has (an analyzer typo), naming the field and the types', () => {
    const metadata = analyzerFixture('c7n-ebs-gp2-to-gp3.metadata.json') as { policy: { actions: unknown[] } };
    const typo = JSON.parse(JSON.stringify(metadata).replace('"volume-type":"gp3"', '"volume-type":"gp9"')) as object;
    expect(JSON.stringify(typo)).toContain('gp9');
    const t = translateCustodian(analyzerFixture('c7n-ebs-gp2-to-gp3.resources.json'), typo);
    expect(t.recommendations).toEqual([]);
    expect(t.skipped[0]).toEqual({ itemRef: 'vol-0123456789abcdef1', code: 'unsupported-action', reason: 'policy.actions[modify].volume-type: "gp9" is not an EBS volume type EC2 accepts (gp2, gp3, io1, io2, st1, sc1, standard)' });
  });

  it('skips every resource of a policy on a resource optex does not act on', () => {
    const t = translateCustodian([{ DBInstanceIdentifier: 'orders' }], { policy: { name: 'rds-idle', resource: 'aws.rds', actions: ['stop'] } });
    expect(t.skipped.map((s) => s.code)).toEqual(['unsupported-resource-type']);
  });
});
