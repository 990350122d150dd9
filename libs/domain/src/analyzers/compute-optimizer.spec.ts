import { analyzerFixture, outcomes, schemaErrorsOf } from './analyzers.spec-helpers';
import { translateComputeOptimizer } from './compute-optimizer';
import { AnalyzerFormatError } from './translation';

const instances = analyzerFixture('co-get-ec2-instance-recommendations.json') as { instanceRecommendations: Record<string, unknown>[] };
const instance = instances.instanceRecommendations[0]!;

describe('Compute Optimizer translation', () => {
  it.each([
    ['co-get-ec2-instance-recommendations.json', ['i-0a1b2c3d4e5f60789 → rightsize']],
    ['co-get-ebs-volume-recommendations.json', ['vol-0123456789abcdef0 → modify-volume']],
    [
      'co-get-idle-recommendations.json',
      ['i-0fedcba9876543210 → stop-idle', 'vol-0aaaabbbbccccdddd → delete-volume', 'arn:aws:ec2:us-east-1:123456789012:instance/i-0000000000000dead skipped analyzer-error'],
    ],
    [
      'co-export-ec2-instance.csv',
      [
        'i-0a1b2c3d4e5f60789 → rightsize',
        'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60790 skipped no-saving',
        'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60791 skipped unsupported-action',
        'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60792 skipped no-saving',
        'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60793 skipped analyzer-error',
      ],
    ],
    ['co-export-ebs-volume.csv', ['vol-0123456789abcdef1 → modify-volume', 'vol-0123456789abcdef3 → modify-volume', 'arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef2 skipped no-saving']],
  ])('round-trips %s: every item (and every error entry) maps or is skipped with its reason', (file, expected) => {
    const t = translateComputeOptimizer(analyzerFixture(file));
    expect(outcomes(t)).toEqual(expected);
    expect(t.skipped.every((s) => s.reason.length > 0)).toBe(true);
    expect(schemaErrorsOf(t)).toEqual([]);
  });

  it('takes the top-ranked option, its savings at public prices, and keys on the ARN and the target', () => {
    const shuffled = { instanceRecommendations: [{ ...instance, recommendationOptions: [...(instance['recommendationOptions'] as unknown[])].reverse() }] };
    expect(translateComputeOptimizer(shuffled).recommendations).toEqual([
      {
        recommendationId: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60789#rightsize:m5.large',
        source: 'aws-compute-optimizer',
        accountId: '123456789012',
        region: 'us-east-1',
        resource: { type: 'ec2:instance', id: 'i-0a1b2c3d4e5f60789', tags: { env: 'staging' } },
        action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' },
        estimatedMonthlySavings: 35.04,
        currency: 'USD',
        createdAt: '2026-01-01T00:00:00.000Z',
      },
    ]);
  });

  it('reads an export row the same as the API item it exports', () => {
    const fromApi = translateComputeOptimizer(instances).recommendations[0]!;
    const fromCsv = translateComputeOptimizer(analyzerFixture('co-export-ec2-instance.csv')).recommendations[0]!;
    const { resource: _a, ...api } = fromApi;
    const { resource: _b, ...csv } = fromCsv;
    expect(csv).toEqual(api);
  });

  it.each([
    [
      { finding: 'Optimized', recommendationOptions: [{ instanceType: 'm5.large', rank: 1, savingsOpportunity: { estimatedMonthlySavings: { currency: 'USD', value: 0 } } }] },
      'no-saving',
      'finding: Optimized, nothing to change',
    ],
    [{ finding: 'Optimized', recommendationOptions: [] }, 'no-saving', 'finding: Optimized, nothing to change (recommendationOptions[rank 1].instanceType: missing)'],
    [{ finding: 'Underprovisioned' }, 'no-saving', 'finding: Underprovisioned, a larger instance costs more'],
    [{ currentInstanceType: undefined }, 'missing-field', 'currentInstanceType: missing'],
    [{ recommendationOptions: [] }, 'missing-field', 'recommendationOptions[rank 1].instanceType: missing'],
    [
      { recommendationOptions: [{ instanceType: 'm5.large', rank: 1, savingsOpportunity: { estimatedMonthlySavings: { currency: 'CNY', value: 200 } } }] },
      'unsupported-currency',
      "recommendationOptions[rank 1].savingsOpportunity.estimatedMonthlySavings.currency: CNY, optex's savings are in USD",
    ],
    [{ recommendationOptions: [{ instanceType: 'm5.large', rank: 1 }] }, 'missing-field', 'recommendationOptions[rank 1].savingsOpportunity.estimatedMonthlySavings.value: missing'],
  ])('given an instance recommendation with %j, then it is skipped (%s) naming the field', (change, code, reason) => {
    const t = translateComputeOptimizer({ instanceRecommendations: [{ ...instance, ...change }] });
    expect(t.skipped.map((s) => [s.code, s.reason])).toEqual([[code, reason]]);
  });

  describe('platform differences (Hypervisor, NetworkInterface, StorageInterface, InstanceStoreAvailability, VirtualizationType, Architecture)', () => {
    const option = (instanceType: string, rank: number, platformDifferences: string[], value: number) => ({
      instanceType,
      rank,
      platformDifferences,
      savingsOpportunity: { estimatedMonthlySavings: { currency: 'USD', value } },
    });

    it('takes the best-ranked option without any: a move across one may not boot or may lose instance-store data', () => {
      const options = [option('m5n.large', 1, ['NetworkInterface'], 40), option('m5d.large', 2, ['InstanceStoreAvailability'], 38), option('m5a.large', 3, [], 36.5)];
      const t = translateComputeOptimizer({ instanceRecommendations: [{ ...instance, recommendationOptions: options }] });
      expect(t.recommendations.map((r) => [r.action, r.estimatedMonthlySavings])).toEqual([[{ type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5a.large' }, 36.5]]);
    });

    it('skips (unsupported-action) an item whose every option has one, naming each option and its differences', () => {
      const options = [option('m6i.large', 2, ['Hypervisor'], 30), option('m5n.large', 1, ['NetworkInterface', 'StorageInterface'], 40)];
      const t = translateComputeOptimizer({ instanceRecommendations: [{ ...instance, recommendationOptions: options }] });
      expect(t.recommendations).toEqual([]);
      expect(t.skipped.map((s) => [s.code, s.reason])).toEqual([
        [
          'unsupported-action',
          'recommendationOptions.platformDifferences: every option differs from the instance in platform (rank 1 m5n.large: NetworkInterface, StorageInterface; rank 2 m6i.large: Hypervisor); ' +
            'it may not boot there (architecture, hypervisor, virtualization type, ENA and NVMe drivers) or may lose instance-store data, which optex cannot check: it changes instance types only',
        ],
      ]);
    });
    it("reads an export's ranks 2 and 3 when it has their platformDifferences column (an option whose differences are unknown is not taken)", () => {
      const header = 'instanceArn,finding,currentInstanceType,recommendationOptions_1_instanceType,recommendationOptions_1_platformDifferences,recommendationOptions_1_estimatedMonthlySavings_currency,recommendationOptions_1_estimatedMonthlySavings_value,recommendationOptions_2_instanceType';
      const rest = 'recommendationOptions_2_estimatedMonthlySavings_currency,recommendationOptions_2_estimatedMonthlySavings_value';
      const arn = 'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60791';
      const withColumn = `${header},recommendationOptions_2_platformDifferences,${rest}\n${arn},OVER_PROVISIONED,m5.2xlarge,m7g.xlarge,Architecture,USD,154.03,m5.xlarge,,USD,140.16\n`;
      expect(translateComputeOptimizer(withColumn).recommendations.map((r) => [r.action, r.estimatedMonthlySavings])).toEqual([
        [{ type: 'rightsize', currentInstanceType: 'm5.2xlarge', targetInstanceType: 'm5.xlarge' }, 140.16],
      ]);
      const without = `${header},${rest}\n${arn},OVER_PROVISIONED,m5.2xlarge,m7g.xlarge,Architecture,USD,154.03,m5.xlarge,USD,140.16\n`;
      expect(translateComputeOptimizer(without).skipped.map((s) => s.code)).toEqual(['unsupported-action']);
    });
  });

  describe('Optimized findings may still save (a newer generation, gp2 → gp3)', () => {
    it('imports an Optimized instance whose best usable option saves in USD', () => {
      const optimized = { ...instance, finding: 'Optimized' };
      const t = translateComputeOptimizer({ instanceRecommendations: [optimized] });
      expect(t.recommendations.map((r) => [r.action, r.estimatedMonthlySavings])).toEqual([[{ type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, 35.04]]);
    });

    it('imports an Optimized volume whose top option saves; skips (no-saving) one that saves nothing', () => {
      const volumes = analyzerFixture('co-get-ebs-volume-recommendations.json') as { volumeRecommendations: { volumeRecommendationOptions: object[] }[] };
      const volume = { ...volumes.volumeRecommendations[0]!, finding: 'Optimized' };
      expect(outcomes(translateComputeOptimizer({ volumeRecommendations: [volume] }))).toEqual(['vol-0123456789abcdef0 → modify-volume']);
      const nothing = { ...volume, volumeRecommendationOptions: volume.volumeRecommendationOptions.map((o) => ({ ...o, savingsOpportunity: { estimatedMonthlySavings: { currency: 'USD', value: 0 } } })) };
      expect(translateComputeOptimizer({ volumeRecommendations: [nothing] }).skipped.map((s) => [s.code, s.reason])).toEqual([['no-saving', 'finding: Optimized, nothing to change']]);
    });
  });

  it('skips an idle resource optex does not act on, and a volume whose size would change', () => {
    const idle = { idleRecommendations: [{ resourceArn: 'arn:aws:rds:us-east-1:123456789012:db:orders', resourceId: 'orders', resourceType: 'RDSDBInstance', finding: 'Idle' }] };
    expect(translateComputeOptimizer(idle).skipped.map((s) => s.code)).toEqual(['unsupported-resource-type']);
    const volumes = analyzerFixture('co-get-ebs-volume-recommendations.json') as { volumeRecommendations: { volumeRecommendationOptions: { configuration: object }[] }[] };
    const volume = volumes.volumeRecommendations[0]!;
    const option = volume.volumeRecommendationOptions[0]!;
    const bigger = { ...volume, volumeRecommendationOptions: [{ ...option, configuration: { ...option.configuration, volumeSize: 300 } }] };
    expect(translateComputeOptimizer({ volumeRecommendations: [bigger] }).skipped[0]?.reason).toMatch(/^volumeRecommendationOptions\[rank 1\]\.configuration\.volumeSize: 300 GiB \(now 200\)/);
  });

  it('refuses a document that is none of its responses or exports', () => {
    expect(() => translateComputeOptimizer({ items: [] })).toThrow(AnalyzerFormatError);
    expect(() => translateComputeOptimizer('a,b\n1,2\n')).toThrow(/neither an instanceArn .* nor a volumeArn/);
  });

  describe('several responses merged into one document (jq -s add)', () => {
    const volumes = analyzerFixture('co-get-ebs-volume-recommendations.json') as object;
    const idle = analyzerFixture('co-get-idle-recommendations.json') as object;

    it('translates every list it holds, each item named by its list, and each errors entry once', () => {
      expect(outcomes(translateComputeOptimizer({ ...instances, ...volumes }))).toEqual(['i-0a1b2c3d4e5f60789 → rightsize', 'vol-0123456789abcdef0 → modify-volume']);
      const all = translateComputeOptimizer({ ...instances, ...volumes, ...idle });
      expect(outcomes(all)).toEqual([
        'i-0a1b2c3d4e5f60789 → rightsize',
        'vol-0123456789abcdef0 → modify-volume',
        'i-0fedcba9876543210 → stop-idle',
        'vol-0aaaabbbbccccdddd → delete-volume',
        'arn:aws:ec2:us-east-1:123456789012:instance/i-0000000000000dead skipped analyzer-error',
      ]);
      expect(schemaErrorsOf(all)).toEqual([]);
      const bad = { volumeRecommendations: [{}] };
      expect(translateComputeOptimizer({ ...instances, ...bad }).skipped.map((s) => s.itemRef)).toEqual(['volumeRecommendations[0]']);
    });

    it('keeps one recommendation per resource: an instance to rightsize and to stop as idle keeps the higher savings', () => {
      const arn = 'arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60789';
      const idleSame = { idleRecommendations: [{ ...(idle as { idleRecommendations: object[] }).idleRecommendations[0], resourceArn: arn, resourceId: 'i-0a1b2c3d4e5f60789' }] };
      const t = translateComputeOptimizer({ ...instances, ...idleSame });
      expect(t.recommendations.map((r) => r.recommendationId)).toEqual([`${arn}#stop-idle`]);
      expect(t.skipped.map((s) => [s.itemRef, s.code])).toEqual([[arn, 'competing-recommendation']]);
      expect(t.skipped[0]?.reason).toMatch(/^recommendationId: .*#rightsize:m5\.large \(rightsize, 35\.04 a month\) competes with .*#stop-idle \(stop-idle, 60\.74 a month\)/);
    });

    it('refuses a document whose list is not a list, naming it', () => {
      expect(() => translateComputeOptimizer({ ...instances, volumeRecommendations: 5 })).toThrow('not a Compute Optimizer document: volumeRecommendations is not a list');
    });
  });

  it.each([
    [{ savingsOpportunity: { estimatedMonthlySavings: { currency: 'USD', value: -20.5 } } }, 'recommendationOptions[rank 1].savingsOpportunity.estimatedMonthlySavings.value: -20.5, the change costs more than it saves'],
    [{ savingsOpportunityAfterDiscounts: { estimatedMonthlySavings: { currency: 'USD', value: -3 } } }, 'recommendationOptions[rank 1].savingsOpportunityAfterDiscounts.estimatedMonthlySavings.value: -3, the change costs more than it saves'],
  ])('skips (no-saving) a top option whose savings are negative (%j), naming the field, never importing it at 0', (savings, reason) => {
    const t = translateComputeOptimizer({ instanceRecommendations: [{ ...instance, recommendationOptions: [{ instanceType: 'm5.large', rank: 1, ...savings }] }] });
    expect(t.recommendations).toEqual([]);
    expect(t.skipped.map((s) => [s.code, s.reason])).toEqual([['no-saving', reason]]);
    const idle = { idleRecommendations: [{ resourceArn: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0fedcba9876543210', resourceType: 'EC2Instance', savingsOpportunity: { estimatedMonthlySavings: { currency: 'USD', value: -1 } } }] };
    expect(translateComputeOptimizer(idle).skipped.map((s) => s.reason)).toEqual(['savingsOpportunity.estimatedMonthlySavings.value: -1, the change costs more than it saves']);
    const zero = { instanceRecommendations: [{ ...instance, recommendationOptions: [{ instanceType: 'm5.large', rank: 1, savingsOpportunity: { estimatedMonthlySavings: { currency: 'USD', value: 0 } } }] }] };
    expect(translateComputeOptimizer(zero).recommendations.map((r) => r.estimatedMonthlySavings)).toEqual([0]);
  });

  it('names the missing ARN by its field: instanceArn, volumeArn, resourceArn', () => {
    const volumes = analyzerFixture('co-get-ebs-volume-recommendations.json') as { volumeRecommendations: object[] };
    const reasons = [
      { instanceRecommendations: [{ ...instance, instanceArn: undefined }] },
      { volumeRecommendations: [{ ...volumes.volumeRecommendations[0], volumeArn: undefined }] },
      { idleRecommendations: [{ resourceType: 'EC2Instance', accountId: '123456789012', savingsOpportunity: { estimatedMonthlySavings: { currency: 'USD', value: 1 } } }] },
    ].map((doc) => translateComputeOptimizer(doc, { region: 'us-east-1' }).skipped.map((s) => [s.code, s.reason]));
    expect(reasons).toEqual([[['missing-field', 'instanceArn: missing']], [['missing-field', 'volumeArn: missing']], [['missing-field', 'resourceArn: missing (and no resourceId)']]]);
  });

  it('says a response with a nextToken is partial (one page of several); the fixtures (nextToken null) are not', () => {
    expect(translateComputeOptimizer({ ...instances, nextToken: 'abc' }).partial).toEqual({ nextToken: 'abc' });
    expect(translateComputeOptimizer(instances).partial).toBeUndefined();
  });
});
