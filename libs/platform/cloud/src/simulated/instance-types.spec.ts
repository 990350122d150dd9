import { _InstanceType } from '@aws-sdk/client-ec2';
import { EC2_INSTANCE_TYPES } from '@optex/domain';
import { isKnownInstanceType, vcpusOf } from './instance-types';
import { normalizeOperation } from './operations';

describe('instance types', () => {
  it.each([
    ['t3.micro', 2], ['t3.small', 2], ['t3.medium', 2], ['t3.large', 2], ['t3.xlarge', 4],
    ['m5.large', 2], ['m5.xlarge', 4], ['m5.2xlarge', 8], ['m5.4xlarge', 16], ['m5.8xlarge', 32], ['m5.12xlarge', 48],
    ['c5.large', 2], ['c5.xlarge', 4], ['c5.2xlarge', 8], ['r5.large', 2], ['r5.xlarge', 4],
  ])('%s has %i vCPUs', (type, vcpus) => {
    expect(vcpusOf(type)).toBe(vcpus);
  });

  it('derives vCPUs from the size for other known families', () => {
    expect(vcpusOf('m6i.24xlarge')).toBe(96);
    expect(vcpusOf('m6g.medium')).toBe(1);
    expect(vcpusOf('t4g.nano')).toBe(2);
    expect(vcpusOf('m5.metal')).toBeUndefined();
    expect(vcpusOf('foo.large')).toBeUndefined();
  });

  it('knows real families and sizes only', () => {
    expect(isKnownInstanceType('c7g.16xlarge')).toBe(true);
    expect(isKnownInstanceType('m5.huge')).toBe(false);
    expect(isKnownInstanceType('m5.0xlarge')).toBe(false);
    expect(isKnownInstanceType('m5.large.x')).toBe(false);
  });

  it("the domain's list is the pinned AWS SDK's EC2 model (after an SDK upgrade: npm run -s build && node dist/scripts/export-instance-types.js)", () => {
    expect(EC2_INSTANCE_TYPES).toEqual([...new Set(Object.values(_InstanceType))].sort());
  });

  it('maps EC2 API action names to port methods', () => {
    expect(normalizeOperation('ModifyInstanceAttribute')).toBe('modifyInstanceType');
    expect(normalizeOperation('modifyVolume')).toBe('modifyVolume');
    expect(normalizeOperation('RebootInstances')).toBeUndefined();
  });
});
