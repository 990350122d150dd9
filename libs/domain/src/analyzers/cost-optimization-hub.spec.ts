import { analyzerFixture, outcomes, schemaErrorsOf } from './analyzers.spec-helpers';
import { COH_SOURCE, translateCostOptimizationHub } from './cost-optimization-hub';

const rightsize = analyzerFixture('coh-get-recommendation-ec2-rightsize.json') as Record<string, unknown>;

describe('Cost Optimization Hub translation', () => {
  it('round-trips the ListRecommendations fixture: every item maps or is skipped with its reason', () => {
    const given = analyzerFixture('coh-list-recommendations.json') as { items: unknown[] };
    const t = translateCostOptimizationHub(given);
    expect(t.recommendations.length + t.skipped.length).toBe(given.items.length);
    expect(outcomes(t)).toEqual([
      'vol-0aaaabbbbccccdddd → delete-volume',
      'i-0a1b2c3d4e5f60789 → rightsize',
      'i-0fedcba9876543210 → stop-idle',
      'arn:aws:ec2:eu-west-1:123456789012:volume/vol-0123456789abcdef0 skipped missing-field',
      '123456789012-us-east-1-ec2-ri-m5 skipped missing-field',
      'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60790 skipped unsupported-action',
      '123456789012 skipped unsupported-action',
      'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1a2b3c4d-0000-0000-0000-000000000000:autoScalingGroupName/web-asg skipped unsupported-action',
      'arn:aws:lambda:us-east-1:123456789012:function:orders-fn skipped unsupported-resource-type',
      'arn:aws:ec2:cn-north-1:123456789012:instance/i-0a1b2c3d4e5f60791 skipped unsupported-currency',
    ]);
    expect(schemaErrorsOf(t)).toEqual([]);
  });

  it.each([
    ['coh-get-recommendation-ec2-rightsize.json', { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }],
    ['coh-get-recommendation-ec2-stop.json', { type: 'stop-idle' }],
    ['coh-get-recommendation-ebs-upgrade.json', { type: 'modify-volume', targetVolumeType: 'gp3', iops: 3000, throughput: 125 }],
    ['coh-get-recommendation-ebs-delete.json', { type: 'delete-volume', snapshotFirst: true }],
  ])('given the GetRecommendation document %s, when translated, then it is one valid recommendation with action %j', (file, action) => {
    const t = translateCostOptimizationHub(analyzerFixture(file));
    expect(t.skipped).toEqual([]);
    expect(t.recommendations.map((r) => r.action)).toEqual([action]);
    expect(schemaErrorsOf(t)).toEqual([]);
  });

  it('keys the recommendation on the resource ARN and the action, not on the 24-hour recommendationId', () => {
    const [first] = translateCostOptimizationHub(rightsize).recommendations;
    const [again] = translateCostOptimizationHub({ ...rightsize, recommendationId: 'another-id-a-day-later' }).recommendations;
    expect(first).toMatchObject({
      recommendationId: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60789#Rightsize:m5.large',
      source: COH_SOURCE,
      accountId: '123456789012',
      region: 'us-east-1',
      resource: { type: 'ec2:instance', id: 'i-0a1b2c3d4e5f60789', tags: { env: 'staging' }, monthlyCost: 70.08 },
      estimatedMonthlySavings: 35.04,
      currency: 'USD',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    expect(again?.recommendationId).toBe(first?.recommendationId);
  });

  it('takes account and region from the ARN, then from the flags, when the item leaves them out', () => {
    const { accountId: _a, region: _r, ...bare } = rightsize;
    expect(translateCostOptimizationHub(bare).recommendations[0]).toMatchObject({ accountId: '123456789012', region: 'us-east-1' });
    const noArn = { ...bare, resourceArn: undefined };
    expect(translateCostOptimizationHub(noArn).skipped[0]?.reason).toBe('accountId: missing (not in the item nor its ARN); pass --account');
    expect(translateCostOptimizationHub(noArn, { accountId: '111122223333', region: 'eu-west-1' }).recommendations[0]).toMatchObject({ accountId: '111122223333', region: 'eu-west-1' });
  });

  it.each([
    ['PurchaseSavingsPlans', 'unsupported-action', 'actionType: PurchaseSavingsPlans is not an action optex executes'],
    ['ScaleIn', 'unsupported-action', 'actionType: ScaleIn is not an action optex executes'],
    ['MigrateToGraviton', 'unsupported-action', 'actionType: MigrateToGraviton needs an arm64 build of the workload; optex changes instance types only'],
  ])('given actionType %s, then the item is skipped (%s) with the reason', (actionType, code, reason) => {
    expect(translateCostOptimizationHub({ ...rightsize, actionType })).toEqual({
      recommendations: [],
      skipped: [{ itemRef: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60789', code, reason }],
    });
  });

  it.each([
    [{ currencyCode: 'CNY' }, 'unsupported-currency', "currencyCode: CNY, optex's savings are in USD"],
    [{ currencyCode: undefined }, 'missing-field', 'currencyCode: missing'],
    [{ estimatedMonthlySavings: undefined }, 'missing-field', 'estimatedMonthlySavings: missing'],
    [{ actionType: undefined }, 'missing-field', 'actionType: missing'],
    [{ currentResourceType: 'RdsDbInstance' }, 'unsupported-resource-type', 'currentResourceType: RdsDbInstance — optex does not Rightsize this resource type'],
    [{ recommendedResourceDetails: undefined, recommendedResourceSummary: 'm5.xlarge', currentResourceSummary: 'm5.xlarge', currentResourceDetails: undefined }, 'no-saving', 'recommendedResourceDetails.ec2Instance.configuration.instance.type: m5.xlarge, the type it has'],
    [{ estimatedMonthlySavings: 'a lot' }, 'invalid-item', 'estimatedMonthlySavings: Invalid input: expected number, received string'],
  ])('given %j, then the item is skipped (%s) naming the field', (change, code, reason) => {
    const t = translateCostOptimizationHub({ items: [{ ...rightsize, ...change }] });
    expect(t.recommendations).toEqual([]);
    expect(t.skipped.map((s) => [s.code, s.reason])).toEqual([[code, reason]]);
  });

  it('reads the instance types from the summaries of a ListRecommendations item', () => {
    const { currentResourceDetails: _c, recommendedResourceDetails: _r, ...item } = rightsize;
    const t = translateCostOptimizationHub({ items: [{ ...item, currentResourceSummary: 'm5.xlarge', recommendedResourceSummary: 'm5.large' }] });
    expect(t.recommendations[0]?.action).toEqual({ type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' });
  });

  it('skips (no-saving) an item whose estimated savings are negative, never importing it at 0; zero savings are imported', () => {
    const t = translateCostOptimizationHub({ items: [{ ...rightsize, estimatedMonthlySavings: -12.5 }] });
    expect(t.recommendations).toEqual([]);
    expect(t.skipped).toEqual([
      { itemRef: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60789', code: 'no-saving', reason: 'estimatedMonthlySavings: -12.5, the change costs more than it saves' },
    ]);
    expect(translateCostOptimizationHub({ ...rightsize, estimatedMonthlySavings: 0 }).recommendations.map((r) => r.estimatedMonthlySavings)).toEqual([0]);
  });

  it('takes the resource id from a resourceId that is the ARN ("the same as the ARN, if available"), and places the item by it', () => {
    const arn = 'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60789';
    const { accountId: _a, region: _r, resourceArn: _n, ...bare } = rightsize;
    for (const item of [{ ...rightsize, resourceId: arn }, { ...bare, resourceId: arn }]) {
      const t = translateCostOptimizationHub(item);
      expect(t.recommendations[0]).toMatchObject({ recommendationId: `${arn}#Rightsize:m5.large`, accountId: '123456789012', region: 'us-east-1', resource: { id: 'i-0a1b2c3d4e5f60789' } });
      expect(schemaErrorsOf(t)).toEqual([]);
    }
  });

  it('skips (unsupported-action) an EBS Upgrade whose recommended size is not the current one, as Compute Optimizer’s', () => {
    const upgrade = analyzerFixture('coh-get-recommendation-ebs-upgrade.json') as { recommendedResourceDetails: { ebsVolume: { configuration: { storage: object } } } };
    const configuration = upgrade.recommendedResourceDetails.ebsVolume.configuration;
    const bigger = { ...upgrade, recommendedResourceDetails: { ebsVolume: { configuration: { ...configuration, storage: { type: 'gp3', sizeInGb: 300 } } } } };
    expect(translateCostOptimizationHub(bigger)).toEqual({
      recommendations: [],
      skipped: [
        {
          itemRef: 'arn:aws:ec2:eu-west-1:123456789012:volume/vol-0123456789abcdef0',
          code: 'unsupported-action',
          reason: "recommendedResourceDetails.ebsVolume.configuration.storage.sizeInGb: 300 GiB (now 200); optex changes a volume's type, IOPS and throughput, not its size",
        },
      ],
    });
  });

  describe('alternatives for one resource (includeAllRecommendations)', () => {
    const stop = analyzerFixture('coh-get-recommendation-ec2-stop.json') as Record<string, unknown>;
    const arn = 'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60789';
    const stopSame = { ...stop, resourceId: 'i-0a1b2c3d4e5f60789', resourceArn: arn, accountId: '123456789012', region: 'us-east-1', estimatedMonthlySavings: 70.08 };

    it('keeps the one with the highest estimated savings and skips the other (competing-recommendation) naming the one kept, whatever the order', () => {
      for (const items of [
        [rightsize, stopSame],
        [stopSame, rightsize],
      ]) {
        const t = translateCostOptimizationHub({ items });
        expect(t.recommendations.map((r) => r.recommendationId)).toEqual([`${arn}#Stop`]);
        expect(t.skipped).toEqual([
          {
            itemRef: arn,
            code: 'competing-recommendation',
            reason: `recommendationId: ${arn}#Rightsize:m5.large (rightsize, 35.04 a month) competes with ${arn}#Stop (stop-idle, 70.08 a month) for ec2:instance i-0a1b2c3d4e5f60789; one recommendation per resource is kept, the one with the highest estimated savings`,
          },
        ]);
      }
    });

    it('breaks a tie by the smaller recommendationId, and leaves other resources alone', () => {
      const tie = { ...stopSame, estimatedMonthlySavings: 35.04 };
      for (const items of [
        [rightsize, tie],
        [tie, rightsize],
      ]) {
        expect(translateCostOptimizationHub({ items }).recommendations.map((r) => r.recommendationId)).toEqual([`${arn}#Rightsize:m5.large`]);
      }
      const t = translateCostOptimizationHub(analyzerFixture('coh-list-recommendations.json'));
      expect(t.skipped.filter((s) => s.code === 'competing-recommendation')).toEqual([]);
    });
  });

  it('says a ListRecommendations page with a nextToken is partial (one page of several); a null or absent nextToken is not', () => {
    expect(translateCostOptimizationHub({ items: [rightsize], nextToken: 'abc' }).partial).toEqual({ nextToken: 'abc' });
    expect(translateCostOptimizationHub({ items: [rightsize], NextToken: 'eyJ' }).partial).toEqual({ nextToken: 'eyJ' });
    expect(translateCostOptimizationHub(analyzerFixture('coh-list-recommendations.json')).partial).toBeUndefined();
    expect(translateCostOptimizationHub(rightsize).partial).toBeUndefined();
  });
});
