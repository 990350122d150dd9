import type { STSClient } from '@aws-sdk/client-sts';
import { InfrastructureError } from '@optex/ports';
import { StsCloudIdentity } from './sts-cloud-identity';

/** A stand-in for STSClient: answers GetCallerIdentity from a queue, counts the calls. */
class FakeSts {
  calls = 0;
  constructor(private readonly answers: Array<() => unknown>) {}
  send = async (command: { constructor: { name: string } }) => {
    if (command.constructor.name !== 'GetCallerIdentityCommand') throw new Error(`fake STS: unexpected ${command.constructor.name}`);
    const answer = this.answers[this.calls++];
    if (!answer) throw new Error('fake STS: no more answers');
    return answer();
  };
  destroy = () => undefined;
}

const identity = (fake: FakeSts) => StsCloudIdentity.create({ client: () => fake as unknown as STSClient });
const sdkError = (code: string, status: number) => Object.assign(new Error(`${code} happened`), { name: code, $metadata: { httpStatusCode: status } });

describe('StsCloudIdentity', () => {
  it('asks GetCallerIdentity once and keeps the account', async () => {
    const fake = new FakeSts([() => ({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/optex', UserId: 'AIDA' })]);
    const sts = identity(fake);
    await expect(sts.credentialsAccountId()).resolves.toBe('123456789012');
    await expect(sts.credentialsAccountId()).resolves.toBe('123456789012');
    expect(fake.calls).toBe(1);
  });

  it('turns a failure into an InfrastructureError naming STS and the code, and asks again next time', async () => {
    const fake = new FakeSts([() => Promise.reject(sdkError('ExpiredToken', 403)), () => ({ Account: '123456789012' })]);
    const sts = identity(fake);
    const failure = sts.credentialsAccountId();
    await expect(failure).rejects.toBeInstanceOf(InfrastructureError);
    await expect(failure).rejects.toThrow(/STS GetCallerIdentity failed: ExpiredToken/);
    await expect(sts.credentialsAccountId()).resolves.toBe('123456789012');
    expect(fake.calls).toBe(2);
  });

  it('refuses an answer without a 12-digit account', async () => {
    await expect(identity(new FakeSts([() => ({})])).credentialsAccountId()).rejects.toThrow(/not 12 digits: undefined/);
    await expect(identity(new FakeSts([() => ({ Account: 'abc' })])).credentialsAccountId()).rejects.toThrow(/not 12 digits: "abc"/);
  });
});
