import { AWS_REGIONS, isKnownInstanceType, isKnownRegion } from './aws-catalog';
import { defaultPriceBook } from './pricing';

describe('the AWS catalogue shipped with the price book', () => {
  it('knows priced types and known families with valid sizes only', () => {
    expect(isKnownInstanceType('t3.micro')).toBe(true);
    expect(isKnownInstanceType('m6i.24xlarge')).toBe(true);
    expect(isKnownInstanceType('m7i-flex.2xlarge')).toBe(true);
    expect(isKnownInstanceType('c7i.metal-24xl')).toBe(true);
    // They fit family.size, and EC2 has neither.
    expect(isKnownInstanceType('m5.nano')).toBe(false);
    expect(isKnownInstanceType('t3.metal')).toBe(false);
    expect(isKnownInstanceType('c7g.metal-16xl')).toBe(false);
    expect(isKnownInstanceType('m5.huge')).toBe(false);
    expect(isKnownInstanceType('m5.0xlarge')).toBe(false);
    expect(isKnownInstanceType('m5.7xlarge')).toBe(false);
    expect(isKnownInstanceType('m5.large.x')).toBe(false);
    expect(isKnownInstanceType('zz9.large')).toBe(false);
    expect(isKnownInstanceType('toString')).toBe(false);
  });

  it('knows every priced instance type', () => {
    for (const type of Object.keys(defaultPriceBook.vcpus)) expect(isKnownInstanceType(type)).toBe(true);
  });

  it('knows real regions, not names that merely fit the pattern', () => {
    expect(isKnownRegion('us-east-1')).toBe(true);
    expect(isKnownRegion('ap-southeast-7')).toBe(true);
    expect(isKnownRegion('us-gov-west-1')).toBe(true);
    expect(isKnownRegion('xx-yy-1')).toBe(false);
    expect(isKnownRegion('us-east-9')).toBe(false);
  });

  it('lists every region of the price book, each once', () => {
    for (const region of Object.keys(defaultPriceBook.regions)) expect(isKnownRegion(region)).toBe(true);
    expect(new Set(AWS_REGIONS).size).toBe(AWS_REGIONS.length);
  });
});
