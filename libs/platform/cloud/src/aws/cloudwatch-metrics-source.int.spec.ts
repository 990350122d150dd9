import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { InfrastructureError } from '@optex/ports';
import type { ResourceRef } from '@optex/ports';
import type { PerformanceFigures } from '@optex/domain';
import { metricsSourceContract, recordSdkCommands, repoRoot, sentButNotCovered, shouldRunMotoTests, startMoto } from '@optex/testing';
import type { MotoServer } from '@optex/testing';
import { CloudWatchMetricsSource } from './cloudwatch-metrics-source';

// moto serves CloudWatch on the same endpoint as EC2. What moto 5.2.1 does with GetMetricData, measured here:
// Maximum/Average/... work; percentiles (`p95`) answer HTTP 500 (a TypeError inside moto), so the p95 path is
// covered by the unit spec with a fake client and here through `cpuStatistic: 'Maximum'`.
const describeMoto = shouldRunMotoTests() ? describe : describe.skip;
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

describeMoto('CloudWatchMetricsSource against moto', () => {
  jest.setTimeout(60_000);
  let moto: MotoServer | undefined;
  let endpoint: string;
  let cw: CloudWatchClient;
  const sources: CloudWatchMetricsSource[] = [];
  /** What the sources sent, checked against deploy/iam/optex-policy.json at the end. */
  const sent = new Set<string>();
  const now = new Date();
  const window = { from: new Date(now.getTime() - 3600_000), to: new Date(now.getTime() + 60_000) };
  const ref = (id: string): ResourceRef => ({ accountId: '123456789012', region: 'us-east-1', id });
  const source = (cpuStatistic?: string) => {
    const created = CloudWatchMetricsSource.create({
      endpoint,
      credentials,
      cpuStatistic,
      retry: { maxRetries: 0 },
      clientFor: (region) => recordSdkCommands(new CloudWatchClient({ region, endpoint, credentials, maxAttempts: 1 }), 'cloudwatch', sent),
    });
    sources.push(created);
    return created;
  };

  async function put(instanceId: string, metricName: string, values: number[]): Promise<void> {
    await cw.send(
      new PutMetricDataCommand({
        Namespace: 'AWS/EC2',
        MetricData: values.map((value, i) => ({
          MetricName: metricName,
          Dimensions: [{ Name: 'InstanceId', Value: instanceId }],
          Value: value,
          Timestamp: new Date(now.getTime() - (i + 1) * 60_000),
        })),
      }),
    );
  }

  beforeAll(async () => {
    const external = process.env['OPTEX_TEST_EC2_ENDPOINT'];
    if (external) {
      endpoint = external;
    } else {
      moto = await startMoto();
      endpoint = moto.endpoint;
    }
    cw = new CloudWatchClient({ region: 'us-east-1', endpoint, credentials, maxAttempts: 1 });
  });

  afterAll(async () => {
    for (const s of sources) s.destroy();
    cw?.destroy();
    await moto?.stop();
  });

  it('reads CPUUtilization of one instance only, and "no data" as undefined', async () => {
    await put('i-cw-busy', 'CPUUtilization', [12, 91, 40]);
    await put('i-cw-other', 'CPUUtilization', [99]);
    await expect(source('Maximum').cpuP95(ref('i-cw-busy'), window)).resolves.toBe(91);
    await expect(source('Maximum').cpuP95(ref('i-cw-silent'), window)).resolves.toBeUndefined();
  });

  it('maps StatusCheckFailed Maximum: 0 → passed, 1 → failed, nothing → unknown', async () => {
    await put('i-cw-healthy', 'StatusCheckFailed', [0, 0]);
    await put('i-cw-sick', 'StatusCheckFailed', [0, 1]);
    await expect(source().statusChecksPassed(ref('i-cw-healthy'), window)).resolves.toBe(true);
    await expect(source().statusChecksPassed(ref('i-cw-sick'), window)).resolves.toBe(false);
    await expect(source().statusChecksPassed(ref('i-cw-silent'), window)).resolves.toBeUndefined();
  });

  it('documents the moto gap: the p95 statistic gets HTTP 500, surfaced as InfrastructureError', async () => {
    await put('i-cw-p95', 'CPUUtilization', [50]);
    const error = await source().cpuP95(ref('i-cw-p95'), window).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as Error).message).toMatch(/InternalError: HTTP 500/);
  });

  it('sent only what deploy/iam/optex-policy.json grants (and the code scan finds)', () => {
    expect([...sent]).toEqual(['cloudwatch:GetMetricData']);
    expect(sentButNotCovered(sent, repoRoot())).toEqual([]);
  });
});

// The MetricsSource contract (the simulated fleet meets the same one in the unit tier): figures are arranged as the
// instance and the CloudWatch agent publish them, one datapoint 5 minutes before the change and one 5 minutes after
// (network as the bytes of the 10-minute window the contract reads). Maximum stands in for p95 (moto's gap above).
if (shouldRunMotoTests()) {
  metricsSourceContract('CloudWatch through moto', async () => {
    const external = process.env['OPTEX_TEST_EC2_ENDPOINT'];
    const moto = external ? undefined : await startMoto();
    const endpoint = external ?? moto!.endpoint;
    const cw = new CloudWatchClient({ region: 'us-east-1', endpoint, credentials, maxAttempts: 1 });
    const sent = new Set<string>();
    const source = CloudWatchMetricsSource.create({
      endpoint,
      credentials,
      cpuStatistic: 'Maximum',
      retry: { maxRetries: 0 },
      clientFor: (region) => recordSdkCommands(new CloudWatchClient({ region, endpoint, credentials, maxAttempts: 1 }), 'cloudwatch', sent),
    });
    let counter = 0;
    const WINDOW_SECONDS = 600;
    const publish = async (id: string, figures: PerformanceFigures, at: Date) => {
      const datum = (namespace: string, name: string, value: number | undefined) => (value === undefined ? [] : [{ namespace, name, value }]);
      const data = [
        ...datum('AWS/EC2', 'CPUUtilization', figures.cpuP95),
        ...datum('CWAgent', 'mem_used_percent', figures.memoryUsedPct),
        ...datum('AWS/EC2', 'NetworkIn', figures.networkInBytesPerSec === undefined ? undefined : figures.networkInBytesPerSec * WINDOW_SECONDS),
        ...datum('AWS/EC2', 'NetworkOut', figures.networkOutBytesPerSec === undefined ? undefined : figures.networkOutBytesPerSec * WINDOW_SECONDS),
        ...datum('AWS/EC2', 'StatusCheckFailed', figures.statusChecksPassed === undefined ? undefined : figures.statusChecksPassed ? 0 : 1),
      ];
      for (const namespace of ['AWS/EC2', 'CWAgent']) {
        const mine = data.filter((d) => d.namespace === namespace);
        if (mine.length === 0) continue;
        await cw.send(
          new PutMetricDataCommand({
            Namespace: namespace,
            MetricData: mine.map((d) => ({ MetricName: d.name, Dimensions: [{ Name: 'InstanceId', Value: id }], Value: d.value, Timestamp: at })),
          }),
        );
      }
    };
    return {
      source,
      accountId: '123456789012',
      region: 'us-east-1',
      now: () => new Date(),
      instance: async ({ before, after, changedAt }) => {
        const id = `i-cwcontract${String(++counter).padStart(4, '0')}`;
        await publish(id, before, new Date(changedAt.getTime() - 5 * 60_000));
        await publish(id, after, new Date(changedAt.getTime() + 5 * 60_000));
        return id;
      },
      close: async () => {
        expect([...sent]).toEqual(['cloudwatch:GetMetricData']);
        source.destroy();
        cw.destroy();
        await moto?.stop();
      },
    };
  }, { testTimeoutMs: 60_000 });
}
