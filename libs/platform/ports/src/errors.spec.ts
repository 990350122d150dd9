import { CAPACITY_EC2_CODES, InfrastructureError, TRANSIENT_EC2_CODES, ec2Error, ec2Refusal, isCapacityShortage, isOutage } from './errors';

describe('ec2Refusal', () => {
  it("is EC2's code and message for a refusal retrying would not change", () => {
    expect(ec2Refusal(ec2Error('UnauthorizedOperation', 'You are not authorized'))).toEqual({ code: 'UnauthorizedOperation', message: 'You are not authorized' });
  });

  it.each([
    ['throttling', ec2Error('RequestLimitExceeded', 'slow down')],
    ['an outage', new InfrastructureError('store down')],
    ['a bug', new TypeError('x is undefined')],
  ])('is nothing for %s (retried, or not EC2 saying no)', (_what, error) => {
    expect(ec2Refusal(error)).toBeUndefined();
  });
});

describe('outage or not: which transient EC2 errors are waited out', () => {
  it.each(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'ServiceUnavailable', 'Unavailable', 'InternalError', 'InternalFailure', 'RequestTimeout'])(
    '%s (EC2 unavailable) is transient and an outage: waited out for as long as it takes',
    (code) => {
      const error = ec2Error(code, 'x');
      expect(error.transient).toBe(true);
      expect(isOutage(error)).toBe(true);
      expect(isCapacityShortage(error)).toBe(false);
    },
  );

  it.each(['InsufficientInstanceCapacity', 'InsufficientAddressCapacity', 'InsufficientCapacity', 'InsufficientHostCapacity', 'InsufficientReservedInstanceCapacity', 'InsufficientVolumeCapacity'])(
    '%s (EC2 up, short of capacity) is transient — retried within the step — but not an outage: the step then fails and is rolled back',
    (code) => {
      const error = ec2Error(code, 'x');
      expect(error.transient).toBe(true);
      expect(isCapacityShortage(error)).toBe(true);
      expect(isOutage(error)).toBe(false);
      expect(CAPACITY_EC2_CODES.has(code) && TRANSIENT_EC2_CODES.has(code)).toBe(true);
      // Not a refusal either: a retry may succeed, so pre-validation does not fail on it as it does on a refusal.
      expect(ec2Refusal(error)).toBeUndefined();
    },
  );

  it.each(['InsufficientFreeAddressesInSubnet', 'AddressLimitExceeded', 'VolumeLimitExceeded', 'InstanceLimitExceeded', 'VcpuLimitExceeded', 'TagLimitExceeded', 'IncorrectInstanceState'])(
    '%s (a limit or a rule: retrying changes nothing until someone acts) is a rejection: neither transient nor an outage',
    (code) => {
      const error = ec2Error(code, 'x');
      expect(error.transient).toBe(false);
      expect(isOutage(error)).toBe(false);
      expect(ec2Refusal(error)).toEqual({ code, message: 'x' });
    },
  );

  it('an infrastructure error is an outage; a bug is not', () => {
    expect(isOutage(new InfrastructureError('store down'))).toBe(true);
    expect(isOutage(new TypeError('x is undefined'))).toBe(false);
  });
});
