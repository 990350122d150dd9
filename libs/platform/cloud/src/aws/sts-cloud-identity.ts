import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { STSClientConfig } from '@aws-sdk/client-sts';
import { InfrastructureError } from '@optex/ports';
import type { CloudIdentity } from '@optex/ports';
import { describeAwsFailure } from './aws-errors';

/** Options of {@link StsCloudIdentity.create}. */
export interface StsCloudIdentityOptions {
  /** Endpoint override (e.g. moto, which serves STS on the same port as EC2); AWS's own when absent. */
  readonly endpoint?: string;
  /** Credentials; the SDK's default provider chain when absent (the same chain the EC2 and CloudWatch clients use). */
  readonly credentials?: STSClientConfig['credentials'];
  /** Region of the STS endpoint asked. @defaultValue `AWS_REGION`, else `us-east-1` */
  readonly region?: string;
  /** Creates the client. Tests inject fakes here. @defaultValue a new `STSClient({ region, endpoint, credentials })` */
  readonly client?: () => STSClient;
}

/**
 * {@link CloudIdentity} from STS `GetCallerIdentity`: the account the AWS credentials belong to. Asked once; the answer
 * is kept for the life of the process (credentials do not change account). A failed call is not kept: the next call
 * asks again. Failures (the SDK's own retries spent) become an `InfrastructureError` naming the STS code.
 */
export class StsCloudIdentity implements CloudIdentity {
  private answer: Promise<string> | undefined;
  private client: STSClient | undefined;

  private constructor(private readonly options: StsCloudIdentityOptions) {}

  static create(options: StsCloudIdentityOptions = {}): StsCloudIdentity {
    return new StsCloudIdentity(options);
  }

  credentialsAccountId(): Promise<string> {
    if (!this.answer) {
      this.answer = this.ask();
      this.answer.catch(() => (this.answer = undefined));
    }
    return this.answer;
  }

  /** Releases the client's HTTP resources. */
  destroy(): void {
    this.client?.destroy();
    this.client = undefined;
  }

  private async ask(): Promise<string> {
    this.client ??= this.options.client
      ? this.options.client()
      : new STSClient({ region: this.options.region ?? process.env['AWS_REGION'] ?? 'us-east-1', endpoint: this.options.endpoint, credentials: this.options.credentials });
    let account: string | undefined;
    try {
      account = (await this.client.send(new GetCallerIdentityCommand({}))).Account;
    } catch (error) {
      const failure = describeAwsFailure(error);
      throw new InfrastructureError(`cannot tell whose AWS credentials these are: STS GetCallerIdentity failed: ${failure.code}: ${failure.message}`, { cause: error });
    }
    if (account === undefined || !/^\d{12}$/.test(account)) {
      throw new InfrastructureError(`STS GetCallerIdentity answered an account that is not 12 digits: ${JSON.stringify(account)}`);
    }
    return account;
  }
}
