import type { CloudWatchClient, MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { InfrastructureError } from '@optex/ports';
import type { ResourceRef } from '@optex/ports';
import { CloudWatchMetricsSource, periodFor } from './cloudwatch-metrics-source';
import type { CloudWatchMetricsSourceOptions } from './cloudwatch-metrics-source';

type Answer = { MetricDataResults: MetricDataResult[]; NextToken?: string } | Error;

/** A stand-in for CloudWatchClient that plays back answers to GetMetricData in order. */
class FakeCloudWatch {
  readonly inputs: Record<string, unknown>[] = [];
  constructor(private readonly answers: Answer[]) {}
  send = async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    expect(command.constructor.name).toBe('GetMetricDataCommand');
    this.inputs.push(command.input);
    const answer = this.answers.shift();
    if (answer === undefined) throw new Error('fake CloudWatch: no more answers');
    if (answer instanceof Error) throw answer;
    return answer;
  };
  destroy = () => undefined;
}

const ref: ResourceRef = { accountId: '123456789012', region: 'us-east-1', id: 'i-0abc' };
const now = new Date('2030-06-01T12:00:00Z');
const window = { from: new Date('2030-06-01T10:00:00Z'), to: new Date('2030-06-01T11:00:00Z') };
const result = (values: number[], extra: Partial<MetricDataResult> = {}): MetricDataResult => ({
  Id: 'm',
  StatusCode: 'Complete',
  Values: values,
  Timestamps: values.map(() => window.from),
  ...extra,
});

function source(fake: FakeCloudWatch, options: CloudWatchMetricsSourceOptions = {}): CloudWatchMetricsSource {
  return CloudWatchMetricsSource.create({
    clock: { now: () => now },
    retry: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 1 },
    ...options,
    clientFor: () => fake as unknown as CloudWatchClient,
  });
}

describe('CloudWatchMetricsSource.cpuP95', () => {
  it('is undefined (unknown), never 0, when there is no datapoint', async () => {
    const fake = new FakeCloudWatch([{ MetricDataResults: [result([])] }]);
    await expect(source(fake).cpuP95(ref, window)).resolves.toBeUndefined();
  });

  it('asks AWS/EC2 CPUUtilization p95 for the instance over the window as one period', async () => {
    const fake = new FakeCloudWatch([{ MetricDataResults: [result([42.5])] }]);
    await expect(source(fake).cpuP95(ref, window)).resolves.toBe(42.5);
    expect(fake.inputs[0]).toMatchObject({
      StartTime: window.from,
      EndTime: window.to,
      MetricDataQueries: [
        {
          MetricStat: {
            Metric: { Namespace: 'AWS/EC2', MetricName: 'CPUUtilization', Dimensions: [{ Name: 'InstanceId', Value: 'i-0abc' }] },
            Period: 3600,
            Stat: 'p95',
          },
        },
      ],
    });
  });

  it('keeps the highest value when the answer is split over periods and pages', async () => {
    const fake = new FakeCloudWatch([
      { MetricDataResults: [result([10, 71])], NextToken: 'page-2' },
      { MetricDataResults: [result([55])] },
    ]);
    await expect(source(fake).cpuP95(ref, window)).resolves.toBe(71);
    expect(fake.inputs[1]).toMatchObject({ NextToken: 'page-2' });
  });

  it('uses the configured statistic', async () => {
    const fake = new FakeCloudWatch([{ MetricDataResults: [result([9])] }]);
    await source(fake, { cpuStatistic: 'Maximum' }).cpuP95(ref, window);
    expect(fake.inputs[0]).toMatchObject({ MetricDataQueries: [{ MetricStat: { Stat: 'Maximum' } }] });
  });
});

describe('CloudWatchMetricsSource.statusChecksPassed', () => {
  it.each([
    [[0, 0, 0], true],
    [[0, 1, 0], false],
    [[], undefined],
  ])('maps StatusCheckFailed Maximum %j to %s', async (values, expected) => {
    const fake = new FakeCloudWatch([{ MetricDataResults: [result(values)] }]);
    await expect(source(fake).statusChecksPassed(ref, window)).resolves.toBe(expected);
    expect(fake.inputs[0]).toMatchObject({ MetricDataQueries: [{ MetricStat: { Metric: { MetricName: 'StatusCheckFailed' }, Stat: 'Maximum' } }] });
  });
});

describe('CloudWatchMetricsSource failures', () => {
  const sdkError = (code: string, status: number) => Object.assign(new Error(`${code}!`), { name: code, $metadata: { httpStatusCode: status } });

  it('retries throttling, then answers', async () => {
    const fake = new FakeCloudWatch([sdkError('Throttling', 400), sdkError('Throttling', 400), { MetricDataResults: [result([0])] }]);
    await expect(source(fake).statusChecksPassed(ref, window)).resolves.toBe(true);
    expect(fake.inputs).toHaveLength(3);
  });

  it('reports a rejection as InfrastructureError with the CloudWatch code, without retrying', async () => {
    const fake = new FakeCloudWatch([sdkError('AccessDenied', 403)]);
    const error = await source(fake).cpuP95(ref, window).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as Error).message).toMatch(/AccessDenied/);
    expect(fake.inputs).toHaveLength(1);
  });

  it('reports a Forbidden partial result instead of calling it "no data"', async () => {
    const fake = new FakeCloudWatch([{ MetricDataResults: [result([], { StatusCode: 'Forbidden' })] }]);
    await expect(source(fake).cpuP95(ref, window)).rejects.toThrow(/status Forbidden/);
  });

  it('names the bad window field', async () => {
    const fake = new FakeCloudWatch([]);
    await expect(source(fake).cpuP95(ref, { from: window.to, to: window.from })).rejects.toThrow(/window\.from .* must be before window\.to/);
    await expect(source(fake).cpuP95(ref, { from: new Date('nope'), to: window.to })).rejects.toThrow(/window\.from must be a valid Date/);
    expect(fake.inputs).toHaveLength(0);
  });
});

describe('periodFor', () => {
  it('covers the window with a multiple of what CloudWatch accepts for data that old', () => {
    expect(periodFor(new Date('2030-06-01T11:59:30Z'), now, now)).toBe(60);
    expect(periodFor(new Date('2030-06-01T10:00:00Z'), new Date('2030-06-01T10:01:30Z'), now)).toBe(120);
    expect(periodFor(new Date('2030-05-10T00:00:00Z'), new Date('2030-05-10T00:07:00Z'), now)).toBe(600); // > 15 days old: 300 s unit
    expect(periodFor(new Date('2030-03-01T00:00:00Z'), new Date('2030-03-01T01:30:00Z'), now)).toBe(7200); // > 63 days old: 3600 s unit
  });
});
