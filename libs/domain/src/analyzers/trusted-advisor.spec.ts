import { analyzerFixture, outcomes, schemaErrorsOf } from './analyzers.spec-helpers';
import { translateTrustedAdvisor } from './trusted-advisor';

const account = { accountId: '123456789012' };
const lowUtilization = analyzerFixture('ta-low-utilization-ec2.json') as { checks: { metadata: string[] }[]; result: { flaggedResources: { metadata: string[] }[] } };

describe('Trusted Advisor translation', () => {
  it.each([
    ['ta-low-utilization-ec2.json', {}, ['i-0fedcba9876543210 → stop-idle', 'i-0a1b2c3d4e5f60001 skipped suppressed']],
    ['ta-unassociated-eip.json', {}, ['203.0.113.25 skipped missing-field']],
    ['ta-unassociated-eip.json', { allocationIds: { '203.0.113.25': 'eipalloc-0123456789abcdef0' } }, ['eipalloc-0123456789abcdef0 → release-address']],
    ['ta-underutilized-ebs.json', {}, ['vol-0aaaabbbbcccc0001 → delete-volume', 'ta-res-1 skipped missing-field']],
  ])('round-trips %s (options %j): every flagged resource maps or is skipped with its reason', (file, options, expected) => {
    const t = translateTrustedAdvisor(analyzerFixture(file), { ...account, ...options });
    expect(outcomes(t)).toEqual(expected);
    expect(schemaErrorsOf(t)).toEqual([]);
  });

  it('reads the savings of the check column, the region of the zone, and the account from the flag', () => {
    const [rec] = translateTrustedAdvisor(lowUtilization, account).recommendations;
    expect(rec).toMatchObject({ source: 'aws-trusted-advisor', accountId: '123456789012', region: 'us-east-1', estimatedMonthlySavings: 60.74, resource: { type: 'ec2:instance', id: 'i-0fedcba9876543210' } });
    expect(translateTrustedAdvisor(lowUtilization).skipped[0]?.reason).toBe('accountId (Trusted Advisor does not say): missing (not in the item nor its ARN); pass --account');
  });

  it("takes the document's accountId (added by a sender: Trusted Advisor's responses name none) before the flag", () => {
    const [rec] = translateTrustedAdvisor({ ...lowUtilization, accountId: '111122223333' }, account).recommendations;
    expect(rec?.accountId).toBe('111122223333');
  });

  it('maps the metadata by the column list DescribeTrustedAdvisorChecks gives, whatever its order', () => {
    const columns = lowUtilization.checks[0]!.metadata;
    const swap = (list: readonly (string | null)[]) => [list[1], list[0], ...list.slice(2)];
    const reordered = {
      checks: [{ ...lowUtilization.checks[0], metadata: swap(columns) }],
      result: { ...lowUtilization.result, flaggedResources: lowUtilization.result.flaggedResources.map((r) => ({ ...r, metadata: swap(r.metadata) })) },
    };
    expect(outcomes(translateTrustedAdvisor(reordered, account))).toEqual(outcomes(translateTrustedAdvisor(lowUtilization, account)));
  });

  it('skips every flagged resource of a check optex does not act on', () => {
    const other = { result: { checkId: 'Ti39halfu8', flaggedResources: [{ status: 'warning', resourceId: 'r1', metadata: ['us-east-1', 'db-1'] }] } };
    expect(translateTrustedAdvisor(other, account).skipped).toEqual([{ itemRef: 'r1', code: 'unsupported-action', reason: 'checkId: Ti39halfu8 is not a cost check optex acts on (Qch7DwouX1, Z4AUBRNSmz, DAvU99Dc4C)' }]);
  });

  it.each([
    [{ isSuppressed: 'no' }, 'flaggedResources[0].isSuppressed: Invalid input: expected boolean, received string'],
    [{ metadata: [7] }, 'flaggedResources[0].metadata.0: Invalid input: expected string, received number'],
  ])('skips a flagged resource with a field of the wrong type (invalid-item, %j), naming the field', (change, reason) => {
    const [first] = lowUtilization.result.flaggedResources;
    const doc = { ...lowUtilization, result: { ...lowUtilization.result, flaggedResources: [{ ...first, ...change }] } };
    expect(translateTrustedAdvisor(doc, account).skipped).toEqual([{ itemRef: 'flaggedResources[0]', code: 'invalid-item', reason }]);
    const notAnObject = { ...lowUtilization, result: { ...lowUtilization.result, flaggedResources: ['i-0fedcba9876543210'] } };
    expect(translateTrustedAdvisor(notAnObject, account).skipped[0]?.reason).toBe('flaggedResources[0]: Invalid input: expected object, received string');
  });

  it('skips (no-saving) a resource whose estimated savings are negative, naming the column, never importing it at 0', () => {
    const [first] = lowUtilization.result.flaggedResources;
    const negative = { ...first, metadata: first!.metadata.map((v, k) => (k === 4 ? '-$12.00' : v)) };
    const doc = { ...lowUtilization, result: { ...lowUtilization.result, flaggedResources: [negative] } };
    expect(translateTrustedAdvisor(doc, account)).toEqual({
      recommendations: [],
      skipped: [{ itemRef: 'i-0fedcba9876543210', code: 'no-saving', reason: 'metadata "Estimated Monthly Savings": -12, the change costs more than it saves' }],
    });
  });
});
