import { translateCustodian } from './custodian';
import { ec2Arn } from './translation';

describe('ec2Arn', () => {
  it.each([
    ['us-east-1', 'arn:aws:ec2:us-east-1:123456789012:volume/vol-1'],
    ['us-gov-west-1', 'arn:aws-us-gov:ec2:us-gov-west-1:123456789012:volume/vol-1'],
    ['cn-north-1', 'arn:aws-cn:ec2:cn-north-1:123456789012:volume/vol-1'],
    ['us-iso-east-1', 'arn:aws-iso:ec2:us-iso-east-1:123456789012:volume/vol-1'],
    ['us-isob-east-1', 'arn:aws-iso-b:ec2:us-isob-east-1:123456789012:volume/vol-1'],
  ])('names the partition of region %s', (region, arn) => {
    expect(ec2Arn(region, '123456789012', 'ec2:volume', 'vol-1')).toBe(arn);
  });

  it("keys a GovCloud resource on its partition's ARN", () => {
    const t = translateCustodian([{ VolumeId: 'vol-1', AvailabilityZone: 'us-gov-west-1a', VolumeType: 'gp2', Size: 10 }], undefined, { action: 'delete', accountId: '123456789012' });
    expect(t.recommendations.map((r) => r.recommendationId)).toEqual(['arn:aws-us-gov:ec2:us-gov-west-1:123456789012:volume/vol-1#delete']);
  });
});
