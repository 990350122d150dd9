// deploy/iam/optex-policy.json holds exactly the AWS actions optex's code uses (least privilege), with the opt-out tag
// denied on every changing action that acts on an existing resource. The action set comes from the code itself
// (iam-policy.ts); each check is also run on a deliberately wrong input, so none of them can pass vacuously.
import { join } from 'node:path';
import { defaultPolicy } from '@optex/domain';
import { OPTEX_POLICY_FILE, iamPolicyProblems, readOptexPolicy, sdkActionsInSource, sdkActionsOfCode, sentButNotCovered, type IamPolicy } from './iam-policy';

const root = join(__dirname, '../../../..');
const policy = readOptexPolicy(root);
const optOut = { key: defaultPolicy.scope.optOutTag.key, value: defaultPolicy.scope.optOutTag.value };
const called = new Set(sdkActionsOfCode(root).map((a) => a.action));
const clone = (): { -readonly [K in keyof IamPolicy]: any } => structuredClone(policy) as never; // eslint-disable-line @typescript-eslint/no-explicit-any -- free-form edits of the parsed file
const statement = (p: ReturnType<typeof clone>, sid: string) => p.Statement.find((s: { Sid?: string }) => s.Sid === sid);

describe(OPTEX_POLICY_FILE, () => {
  it('grants exactly what the code calls, and denies every change of a resource tagged with the default opt-out tag', () => {
    expect(iamPolicyProblems(policy, called, optOut)).toEqual([]);
  });

  it('is found from the code: the EC2 adapter, its waiters, CloudWatch and STS', () => {
    for (const action of ['ec2:ModifyVolume', 'ec2:DescribeInstances', 'ec2:DescribeSnapshots', 'ec2:PurchaseReservedInstancesOffering', 'cloudwatch:GetMetricData', 'sts:GetCallerIdentity']) {
      expect(called.has(action)).toBe(true);
    }
    const files = new Set(sdkActionsOfCode(root).map((a) => a.file));
    expect([...files].sort()).toEqual([
      'libs/platform/cloud/src/aws/aws-ec2-gateway.ts',
      'libs/platform/cloud/src/aws/cloudwatch-metrics-source.ts',
      'libs/platform/cloud/src/aws/sts-cloud-identity.ts',
    ]);
  });

  it('fails when the code calls an action the policy does not grant', () => {
    const withReboot = new Set([...called, ...sdkActionsInSource("import { RebootInstancesCommand } from '@aws-sdk/client-ec2';", 'new.ts').map((a) => a.action)]);
    expect(iamPolicyProblems(policy, withReboot, optOut)).toEqual([
      'ec2:RebootInstances: the code calls it and the policy does not grant it',
      'ec2:RebootInstances: changes an existing resource but the opt-out Deny does not name it',
    ]);
  });

  it('fails when the policy grants an action the code never calls, or a wildcard', () => {
    const p = clone();
    statement(p, 'ChangeTheFleet').Action.push('ec2:TerminateInstances', 'ec2:Reboot*');
    expect(iamPolicyProblems(p, called, optOut)).toEqual([
      'ec2:Reboot*: a wildcard grants more than optex calls; list the actions',
      'ec2:Reboot*: granted, but the code never calls it',
      'ec2:TerminateInstances: granted, but the code never calls it',
    ]);
  });

  it('fails when tagging is granted beyond what optex creates', () => {
    const p = clone();
    statement(p, 'TagOnlyWhatOptexCreates').Condition = {};
    expect(iamPolicyProblems(p, called, optOut)).toEqual([expect.stringMatching(/^ec2:CreateTags: must be granted only with "StringEquals": \{"ec2:CreateAction"/)]);
  });

  it('fails when the opt-out Deny misses a changing action, or is gone', () => {
    const p = clone();
    const deny = statement(p, 'NeverTouchOptedOutResources');
    deny.Action = deny.Action.filter((a: string) => a !== 'ec2:DeleteVolume');
    expect(iamPolicyProblems(p, called, optOut)).toEqual(['ec2:DeleteVolume: changes an existing resource but the opt-out Deny does not name it']);
    deny.Condition = { StringEquals: { 'aws:ResourceTag/other': 'true' } };
    expect(iamPolicyProblems(p, called, optOut)).toEqual(['no Deny statement with "StringEqualsIgnoreCase": {"aws:ResourceTag/optex:skip": "true"} on Resource "*"']);
  });

  it('checks what an adapter actually sent against the code scan and the policy', () => {
    expect(sentButNotCovered(new Set(['ec2:DescribeVolumes', 'sts:GetCallerIdentity']), root)).toEqual([]);
    expect(sentButNotCovered(new Set(['ec2:DescribeVolumes', 'ec2:DescribeTags']), root)).toEqual([
      'ec2:DescribeTags: sent, but the scan of the code\'s SDK imports did not find it',
      `ec2:DescribeTags: sent, but ${OPTEX_POLICY_FILE} does not grant it`,
    ]);
  });

  it('reads commands, paginators and waiters; skips type-only imports; refuses clients and waiters it does not know', () => {
    const source = [
      "import { EC2Client, StopInstancesCommand as Stop, paginateDescribeVolumes, waitUntilInstanceRunning, type Filter } from '@aws-sdk/client-ec2';",
      "import type { GetMetricDataCommandOutput } from '@aws-sdk/client-cloudwatch';",
    ].join('\n');
    expect(sdkActionsInSource(source, 'x.ts').map((a) => a.action)).toEqual(['ec2:StopInstances', 'ec2:DescribeVolumes', 'ec2:DescribeInstances']);
    expect(() => sdkActionsInSource("import { PutObjectCommand } from '@aws-sdk/client-s3';", 'x.ts')).toThrow(/@aws-sdk\/client-s3, an AWS SDK client the IAM policy check does not know/);
    expect(() => sdkActionsInSource("import { waitUntilVolumeAvailable } from '@aws-sdk/client-ec2';", 'x.ts')).toThrow(/waiter waitUntilVolumeAvailable/);
    expect(() => sdkActionsInSource("import * as ec2 from '@aws-sdk/client-ec2';", 'x.ts')).toThrow(/as a namespace/);
  });
});
