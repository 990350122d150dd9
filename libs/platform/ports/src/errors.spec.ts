import { CAPACITY_EC2_CODES, Ec2Error, InfrastructureError, TRANSIENT_EC2_CODES, ec2Error, ec2Refusal, isCapacityShortage, isIncorrectState, isOutage, isThrottling } from './errors';

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

describe('throttling: EC2 refused the request for its rate, so it was not carried out', () => {
  it.each(['RequestLimitExceeded', 'Throttling', 'ThrottlingException'])('%s is a throttle, an outage', (code) => {
    expect(isThrottling(ec2Error(code, 'x'))).toBe(true);
    expect(isOutage(ec2Error(code, 'x'))).toBe(true);
  });

  it.each(['InternalError', 'ServiceUnavailable', 'Unavailable', 'RequestTimeout', 'InsufficientInstanceCapacity', 'IncorrectInstanceState'])('%s is not (whether it took effect may be unknown, or it is no outage)', (code) => {
    expect(isThrottling(ec2Error(code, 'x'))).toBe(false);
  });

  it('a throttling code whose outcome is marked unknown is not, nor is anything but an Ec2Error', () => {
    expect(isThrottling(new Ec2Error('RequestLimitExceeded', 'x', false, { outcomeUnknown: true }))).toBe(false);
    expect(isThrottling(new InfrastructureError('RequestLimitExceeded'))).toBe(false);
  });
});

describe('incorrect state: the instance is not (yet) in the state the call needs', () => {
  it.each(['IncorrectInstanceState', 'IncorrectState'])('%s is one, and a refusal: neither transient nor an outage', (code) => {
    const error = ec2Error(code, 'x');
    expect(isIncorrectState(error)).toBe(true);
    expect(error.transient).toBe(false);
    expect(isOutage(error)).toBe(false);
  });

  it('other codes are not', () => {
    expect(isIncorrectState(ec2Error('InvalidInstanceID.NotFound', 'x'))).toBe(false);
    expect(isIncorrectState(new TypeError('IncorrectInstanceState'))).toBe(false);
  });
});
