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
    // 500 GiB gp2 at 50 a month → gp3 at 40 plus the 250 MiB/s the executor keeps (125 above the baseline × 0.04 = 5).
    expect(modify.recommendations[0]).toMatchObject({ action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 5, resource: { tags: { env: 'staging' } } });
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

  describe('savings by the price book, provisioned IOPS and throughput included', () => {
    const gp2 = { VolumeId: 'vol-0123456789abcdef1', AvailabilityZone: 'us-east-1a', VolumeType: 'gp2', Size: 500, Iops: 1500 };
    const policy = (action: object) => ({ policy: { name: 'ebs-tune', resource: 'aws.ebs', actions: [action] }, config: { account_id: '123456789012' } });

    it('skips (no-saving) a modify to gp3 whose iops-percent costs more than the storage saves, naming both costs', () => {
      // gp2 500 GiB: 50; gp3 500 GiB: 40 + (15000 − 3000) × 0.005 + (250 − 125) × 0.04 (gp2's throughput kept) = 105.
      const t = translateCustodian([gp2], policy({ type: 'modify', 'volume-type': 'gp3', 'iops-percent': 1000 }));
      expect(t.recommendations).toEqual([]);
      expect(t.skipped).toEqual([
        { itemRef: 'vol-0123456789abcdef1', code: 'no-saving', reason: 'estimatedMonthlySavings: -55 by the price book (50 a month now, 105 after modify-volume), the change costs more than it saves' },
      ]);
    });

    it('prices a modify without figures at what the executor sets: the volume’s IOPS and throughput kept, at least the gp3 baseline', () => {
      const small = { ...gp2, Size: 100, Iops: 300 }; // gp2 100 GiB (10): 300 IOPS, 128 MiB/s → gp3 8 + 3000 IOPS + 128 MiB/s (3 × 0.04)
      expect(translateCustodian([small], policy({ type: 'modify', 'volume-type': 'gp3' })).recommendations[0]?.estimatedMonthlySavings).toBe(1.88);
      const io1 = { ...gp2, VolumeType: 'io1', Size: 100, Iops: 5000 }; // 12.5 + 325 → gp3 8 + 2000 × 0.005 (IOPS kept) = 18
      expect(translateCustodian([io1], policy({ type: 'modify', 'volume-type': 'gp3' })).recommendations[0]?.estimatedMonthlySavings).toBe(319.5);
    });

    describe("modify as Custodian's schema has it (volume-type, shrink, size-percent, iops-percent; c7n/resources/ebs.py ModifyVolume)", () => {
      const modify = (params: object) => translateCustodian([gp2], policy({ type: 'modify', 'volume-type': 'gp3', ...params }));

      it('reads no iops or throughput (not in the schema, Custodian refuses such a policy): the executor keeps the volume’s performance', () => {
        expect(modify({ iops: 16000, throughput: 1000 }).recommendations.map((r) => r.action)).toEqual([{ type: 'modify-volume', targetVolumeType: 'gp3' }]);
      });

      it('skips (unsupported-action) a size-percent other than 100, naming it: optex does not resize volumes', () => {
        expect(modify({ 'size-percent': 200 }).skipped).toEqual([
          {
            itemRef: 'vol-0123456789abcdef1',
            code: 'unsupported-action',
            reason: "policy.actions[modify].size-percent: 200 changes the volume's size (500 GiB now); optex changes a volume's type, IOPS and throughput, not its size",
          },
        ]);
        expect(modify({ 'size-percent': 100 }).recommendations.map((r) => r.action)).toEqual([{ type: 'modify-volume', targetVolumeType: 'gp3' }]);
      });

      it("sets iops-percent of the record's Iops as Custodian does: truncated, at least 3,000 on gp3 and 100 on io1/io2, none on other types", () => {
        expect(modify({ 'iops-percent': 250 }).recommendations.map((r) => r.action)).toEqual([{ type: 'modify-volume', targetVolumeType: 'gp3', iops: 3750 }]);
        expect(modify({ 'iops-percent': 50 }).recommendations.map((r) => r.action)).toEqual([{ type: 'modify-volume', targetVolumeType: 'gp3', iops: 3000 }]);
        const io1 = { ...gp2, VolumeType: 'io1', Size: 100, Iops: 1001 };
        const toIo2 = (percent: number) => translateCustodian([io1], policy({ type: 'modify', 'volume-type': 'io2', 'iops-percent': percent })).recommendations.map((r) => r.action);
        expect(toIo2(50)).toEqual([{ type: 'modify-volume', targetVolumeType: 'io2', iops: 500 }]); // int(500.5)
        expect(toIo2(5)).toEqual([{ type: 'modify-volume', targetVolumeType: 'io2', iops: 100 }]); // int(50.05), at least 100
        const toSt1 = translateCustodian([{ ...gp2, Size: 1000 }], policy({ type: 'modify', 'volume-type': 'st1', 'iops-percent': 200 }));
        expect(toSt1.recommendations.map((r) => r.action)).toEqual([{ type: 'modify-volume', targetVolumeType: 'st1' }]);
      });

      it('skips (missing-field) an iops-percent on a record without Iops, naming it', () => {
        const { Iops: _, ...noIops } = gp2;
        expect(translateCustodian([noIops], policy({ type: 'modify', 'volume-type': 'gp3', 'iops-percent': 200 })).skipped).toEqual([
          { itemRef: 'vol-0123456789abcdef1', code: 'missing-field', reason: "Iops: missing (policy.actions[modify].iops-percent is a percentage of the volume's current IOPS)" },
        ]);
      });
    });

    it('counts the provisioned IOPS and throughput a deletion stops paying for (io1 IOPS at 0.065, gp3 above its baseline), net of the backup snapshot', () => {
      const delete_ = { ...policy({ type: 'delete' }) };
      const io1 = { ...gp2, VolumeType: 'io1', Size: 100, Iops: 5000 }; // 12.5 + 5000 × 0.065 − 100 × 0.05
      const gp3 = { ...gp2, VolumeId: 'vol-0123456789abcdef2', VolumeType: 'gp3', Size: 100, Iops: 6000, Throughput: 250 }; // 8 + 15 + 5 − 5
      expect(translateCustodian([io1, gp3], delete_).recommendations.map((r) => r.estimatedMonthlySavings)).toEqual([332.5, 23]);
    });

    it('skips (no-saving) a resize to a dearer type; savings the book cannot price stay 0 and are imported', () => {
      const instance = { InstanceId: 'i-0a1b2c3d4e5f60789', InstanceType: 'm5.large', Placement: { AvailabilityZone: 'us-east-1a' } };
      const resize = { policy: { name: 'grow', resource: 'aws.ec2', actions: [{ type: 'resize', default: 'm5.xlarge' }] }, config: { account_id: '123456789012' } };
      expect(translateCustodian([instance], resize).skipped.map((s) => [s.code, s.reason])).toEqual([
        ['no-saving', 'estimatedMonthlySavings: -70.08 by the price book (70.08 a month now, 140.16 after rightsize), the change costs more than it saves'],
      ]);
      const unpriced = { ...gp2, VolumeType: 'io1', Iops: undefined }; // an io1 volume without its IOPS: unpriced
      expect(translateCustodian([unpriced], policy({ type: 'delete' })).recommendations.map((r) => r.estimatedMonthlySavings)).toEqual([0]);
    });
  });

  describe('resize as Custodian resolves it (c7n/resources/ec2.py Resize)', () => {
    const stopped = { InstanceId: 'i-0a1b2c3d4e5f60789', InstanceType: 'm5.xlarge', Placement: { AvailabilityZone: 'us-east-1a' }, State: { Code: 80, Name: 'stopped' } };
    const running = { ...stopped, State: { Code: 16, Name: 'running' } };
    const annotation = { actionType: 'Rightsize', currentResourceSummary: 'm5.xlarge', recommendedResourceSummary: 'm5.large', estimatedMonthlySavings: 30.5, currencyCode: 'USD' };
    const annotated = (record: object, note: object = annotation) => ({ ...record, 'c7n:cost_optimize': note });
    const resize = (params: object = {}) => ({ policy: { name: 'rightsize', resource: 'aws.ec2', actions: [{ type: 'resize', ...params }] }, config: { account_id: '123456789012' } });
    const targets = (t: ReturnType<typeof translateCustodian>) => t.recommendations.map((r) => [r.action, r.estimatedMonthlySavings]);

    it("takes the target from the cost-optimization filter's annotation (a Rightsize) before type-map and default, its USD savings as the estimate", () => {
      const t = translateCustodian([annotated(stopped)], resize({ 'type-map': { 'm5.xlarge': 'c5.large' }, default: 't3.large' }));
      expect(targets(t)).toEqual([[{ type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, 30.5]]);
      expect(t.recommendations[0]?.recommendationId).toBe('arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60789#rightsize/resize:m5.large');
      expect(schemaErrorsOf(t)).toEqual([]);
    });

    it('resizes by the annotation alone: no type-map entry and no default is no missing field', () => {
      expect(targets(translateCustodian([annotated(stopped)], resize()))).toEqual([[{ type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, 30.5]]);
    });

    it('prices by the book when the annotation gives no USD savings; ignores an annotation that is not a Rightsize', () => {
      const cny = { ...annotation, currencyCode: 'CNY', estimatedMonthlySavings: 200 };
      expect(targets(translateCustodian([annotated(stopped, cny)], resize()))).toEqual([[{ type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, 70.08]]);
      const stop = { ...annotation, actionType: 'Stop', recommendedResourceSummary: 'm5.xlarge' };
      expect(targets(translateCustodian([annotated(stopped, stop)], resize({ default: 'm5.large' })))).toEqual([[{ type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, 70.08]]);
      expect(translateCustodian([annotated(stopped, stop)], resize()).skipped.map((s) => s.code)).toEqual(['missing-field']);
    });

    it("skips (no-saving) an annotation whose savings are negative, naming the field; a target that is the instance's type, as Custodian does nothing", () => {
      const dearer = { ...annotation, estimatedMonthlySavings: -5 };
      expect(translateCustodian([annotated(stopped, dearer)], resize()).skipped).toEqual([
        { itemRef: 'i-0a1b2c3d4e5f60789', code: 'no-saving', reason: 'c7n:cost_optimize.estimatedMonthlySavings: -5, the change costs more than it saves' },
      ]);
      expect(translateCustodian([stopped], resize({ default: 'm5.xlarge' })).skipped).toEqual([
        { itemRef: 'i-0a1b2c3d4e5f60789', code: 'no-saving', reason: 'policy.actions[resize].default: m5.xlarge, the type it has' },
      ]);
    });

    it('skips (unsupported-action) a running instance unless the action has restart: true, as Custodian leaves it alone', () => {
      expect(translateCustodian([running], resize({ default: 'm5.large' })).skipped).toEqual([
        {
          itemRef: 'i-0a1b2c3d4e5f60789',
          code: 'unsupported-action',
          reason: 'policy.actions[resize].restart: not true and State.Name is running; Custodian resizes a running instance only with restart: true (it stops and starts it)',
        },
      ]);
      expect(translateCustodian([annotated(running)], resize({ restart: false })).skipped.map((s) => s.code)).toEqual(['unsupported-action']);
      expect(translateCustodian([stopped, { ...stopped, State: undefined }], resize({ default: 'm5.large' })).recommendations).toHaveLength(2);
      expect(targets(translateCustodian([annotated(running)], resize({ restart: true })))).toEqual([[{ type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, 30.5]]);
    });
  });

  it("keys on Custodian's name of the action whichever spelling --action used: one recommendation per volume and action", () => {
    const ids = ['delete', 'delete-volume'].map((action) => translateCustodian(unattached, unattachedMetadata, { action }).recommendations.map((r) => r.recommendationId));
    expect(ids).toEqual([
      ['arn:aws:ec2:eu-west-1:123456789012:volume/vol-0aaaabbbbccccdddd#ebs-unattached/delete'],
      ['arn:aws:ec2:eu-west-1:123456789012:volume/vol-0aaaabbbbccccdddd#ebs-unattached/delete'],
    ]);
    const eip = translateCustodian(analyzerFixture('c7n-eip-unassociated.resources.json'), undefined, { action: 'release-address', accountId: '123456789012' });
    expect(eip.recommendations[0]?.recommendationId).toBe('arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-0123456789abcdef0#release');
  });
});
