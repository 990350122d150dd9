import { InfrastructureError, ec2Error, ec2Refusal } from './errors';

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
