import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NO_BLAST_RADIUS, defaultPolicy, defaultPriceBook, parsePolicy, type OptimizationView, type Policy } from '@optex/domain';
import { silentLogger } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { InMemoryBus } from '@optex/messaging';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics } from '@optex/engine';
import { recordApproval } from '@optex/approval';
import { processUntilQuiescent, type RunReport } from './processing';
import { inputRecord } from './input';

// The realized savings of the examples and of a fixture, against a hand computation from the price book
// (libs/domain/src/price-book: us-east-1 = the design's figures; eu-west-1 is not in the book).

jest.setTimeout(60_000);

const examples = join(__dirname, '..', '..', '..', 'examples');
const readJson = (name: string): unknown => JSON.parse(readFileSync(join(examples, name), 'utf8'));

/**
 * Every recommendation approved automatically, so that every one the fleet allows is carried out and validated; and no
 * blast radius: the fleet's faults fail seven of the examples, and with the default error threshold (5 per batch) a
 * batch that happened to gather five of them (batches are cut by a wall-clock window) halted before the rest ran.
 */
const approveAll: Policy = (() => {
  const p = parsePolicy({ version: 'spec-approve-all', approval: { autoApprove: { maxLevel: 'CRITICAL', maxMonthlySavings: 1_000_000 } }, blastRadius: NO_BLAST_RADIUS });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return p.value;
})();

async function runAll(fleetFile: unknown, records: readonly unknown[], policy: Policy) {
  const store = SqliteEventStore.open(':memory:');
  const fleet = SimulatedFleet.fromFleet(fleetFile, { clock: { now: () => new Date() }, latencyMs: 0 });
  const go = async (input?: readonly unknown[]): Promise<RunReport> => {
    const bus = new InMemoryBus();
    try {
      return await processUntilQuiescent(
        { store, bus, ec2: fleet, metricsSource: fleet, identity: fleet, priceBook: defaultPriceBook, policy, clock: { now: () => new Date() }, logger: silentLogger, metrics: new OptexMetrics(), options: { stepBackoffMs: 1 } },
        { dryRun: false, ...(input ? { input: { records: input.map((r) => inputRecord(JSON.stringify(r))), deliveryPrefix: 'spec', name: 'spec' } } : {}) },
      );
    } finally {
      await bus.close();
    }
  };
  return { store, report: await go(records), resume: () => go() };
}

const realized = (rows: readonly OptimizationView[]) =>
  Object.fromEntries(rows.filter((o) => o.status === 'completed').map((o) => [o.recommendationId, o.unpriced !== null ? { unpriced: o.unpriced } : o.actualMonthlySavings]));

describe('realized savings of examples/recommendations.json on examples/fleet.json, by hand from the price book', () => {
  it('nets every charge the change adds and reports what the book cannot price', async () => {
    const { store, report } = await runAll(readJson('fleet.json'), readJson('recommendations.json') as unknown[], approveAll);
    try {
      expect(realized(report.optimizations)).toEqual({
        // gp2 500 GiB (1,500 IOPS, 250 MiB/s) → gp3 keeping 250 MiB/s: 50 − (40 + 125 × 0.04) = 5
        'co-ebs-2026-11-0001': 5,
        // gp2 1,000 GiB → gp3 3,000 IOPS / 250 MiB/s: 100 − (80 + 5) = 15
        'co-ebs-2026-11-0002': 15,
        // io1 400 GiB, 6,000 IOPS → gp3 6,000 IOPS / 250 MiB/s: (50 + 6000 × 0.065) − (32 + 3000 × 0.005 + 125 × 0.04) = 440 − 52 = 388
        'co-ebs-2026-11-0003': 388,
        // gp2 2,000 GiB (6,000 IOPS, 250 MiB/s) → gp3 keeping both: 200 − (160 + 15 + 5) = 20, not 40
        'co-ebs-2026-11-0004': 20,
        // gp2 300 GiB (900 IOPS, 250 MiB/s) → gp3 keeping 250 MiB/s: eu-west-1 has no gp3 throughput figure, so unpriced,
        // never priced with us-east-1's 0.04
        'co-ebs-2026-11-0005': { unpriced: ['gp3 throughput above 125 MiB/s in eu-west-1'] },
        // gp2 800 GiB (2,400 IOPS, 250 MiB/s) → gp3 3,000 IOPS / 250 MiB/s: 80 − (64 + 5) = 11
        'finops-ebs-gp3-0007': 11,
        // m5.large 70.08 on demand − 0.06 × 730 reserved, × 4
        'finops-ri-2026-11-001': 105.12,
        // c5.xlarge 124.10 − (526 / 12 + 0.05 × 730), × 2
        'finops-ri-2026-11-002': 87.53,
        // eu-west-1 m5.xlarge 0.214 × 730 = 156.22 − 0.128 × 730 = 93.44 reserved, × 2 = 62.78 × 2
        'finops-ri-2026-11-003': 125.56,
        // m5.4xlarge 560.64 − 0.48 × 730, × 10
        'finops-ri-2026-11-005': 2102.4,
        // m5.xlarge 140.16 − m5.large 70.08
        'co-ec2-2026-11-0001': 70.08,
        // m5.12xlarge 1681.92 − m5.4xlarge 560.64
        'co-ec2-2026-11-0005': 1121.28,
        // t3.large running 0.0832 × 730 = 60.736, stopped 0
        'custodian-ec2-idle-0001': 60.74,
        // eu-west-1 r5.large running 0.141 × 730 = 102.93, stopped 0
        'co-ec2-idle-2026-11-0002': 102.93,
        // gp2 100 GiB 10 − the backup snapshot kept, 100 × 0.05 = 5
        'custodian-ebs-unattached-0001': 5,
        // 250 GiB × 0.05
        'custodian-snapshot-old-0001': 12.5,
        // 0.005 × 730
        'custodian-eip-unused-0001': 3.65,
        // m5.xlarge running 0.192 × 730, stopped 0 (sent without tags: CRITICAL from the live tags; this policy approves everything)
        'custodian-ec2-idle-0003': 140.16,
      });
      // co-ec2-2026-11-0003 and -0006 are rolled back by the fleet's faults (examples/README.md): they realize nothing.
      const total = 5 + 15 + 388 + 20 + 11 + 105.12 + 87.53 + 125.56 + 2102.4 + 70.08 + 1121.28 + 60.74 + 102.93 + 5 + 12.5 + 3.65 + 140.16;
      expect(report.summary).toMatchObject({ realizedMonthlySavings: Math.round(total * 100) / 100, realizedCount: 17, unpriced: 1 });
    } finally {
      await store.close();
    }
  });
});

describe('realized savings of a fixture: gp3 with extra IOPS/throughput, io1 → gp3, another region, an unpriced type, an upsize', () => {
  const ACCOUNT = '123456789012';
  const fleet = {
    instances: [
      { id: 'i-0000000000000e001', accountId: ACCOUNT, region: 'eu-central-1', instanceType: 't4g.small', state: 'running' },
      { id: 'i-0000000000000e002', accountId: ACCOUNT, region: 'us-east-1', instanceType: 'm5.large', state: 'running', cpuP95: 20 },
      { id: 'i-0000000000000e003', accountId: ACCOUNT, region: 'us-east-1', instanceType: 'm5.large', state: 'running', cpuP95: 20 },
    ],
    volumes: [
      { id: 'vol-00000000000000e01', accountId: ACCOUNT, region: 'us-east-1', volumeType: 'gp3', sizeGiB: 1000, iops: 3000, throughput: 125, state: 'in-use', attachedTo: 'i-0000000000000e002' },
      { id: 'vol-00000000000000e02', accountId: ACCOUNT, region: 'us-east-1', volumeType: 'io1', sizeGiB: 500, iops: 4000, state: 'in-use', attachedTo: 'i-0000000000000e002' },
      { id: 'vol-00000000000000e03', accountId: ACCOUNT, region: 'ap-northeast-1', volumeType: 'gp2', sizeGiB: 100, state: 'in-use', attachedTo: 'i-0000000000000e009' },
    ],
    addresses: [],
    snapshots: [],
    reservedInstanceOfferings: [],
    faults: [],
  };
  const rec = (id: string, region: string, resource: Record<string, unknown>, action: Record<string, unknown>, estimatedMonthlySavings: number) => ({
    recommendationId: id,
    source: 'spec',
    accountId: ACCOUNT,
    region,
    resource,
    action,
    estimatedMonthlySavings,
    currency: 'USD',
  });
  const records = [
    // gp3 1,000 GiB at the baseline → gp3 with 5,000 IOPS and 500 MiB/s: costs 2000 × 0.005 + 375 × 0.04 = 25 more
    rec('fx-gp3-extra', 'us-east-1', { type: 'ec2:volume', id: 'vol-00000000000000e01' }, { type: 'modify-volume', targetVolumeType: 'gp3', iops: 5000, throughput: 500 }, 0),
    // io1 500 GiB, 4,000 IOPS → gp3 4,000 IOPS (125 MiB/s): (62.5 + 260) − (40 + 1000 × 0.005) = 277.5
    rec('fx-io1-gp3', 'us-east-1', { type: 'ec2:volume', id: 'vol-00000000000000e02' }, { type: 'modify-volume', targetVolumeType: 'gp3' }, 270),
    // ap-northeast-1 gp2 100 GiB (300 IOPS, 128 MiB/s) → gp3 3,000 IOPS, 128 MiB/s: 12 − (9.6 + 3 × 0.048) = 2.256
    rec('fx-tokyo-gp3', 'ap-northeast-1', { type: 'ec2:volume', id: 'vol-00000000000000e03' }, { type: 'modify-volume', targetVolumeType: 'gp3' }, 2),
    // eu-central-1 knows t4g.small (0.0192) but not t4g.micro: unpriced
    rec('fx-unpriced-type', 'eu-central-1', { type: 'ec2:instance', id: 'i-0000000000000e001' }, { type: 'rightsize', currentInstanceType: 't4g.small', targetInstanceType: 't4g.micro' }, 7),
    // m5.large → m5.xlarge costs 70.08 more: flagged, waits for a person whatever the auto-approval policy says
    rec('fx-upsize', 'us-east-1', { type: 'ec2:instance', id: 'i-0000000000000e003' }, { type: 'rightsize', currentInstanceType: 'm5.large', targetInstanceType: 'm5.xlarge' }, 0),
  ];

  it('prices each from the book by hand, marks the unpriced one, and holds the two that add to the bill for a person (the upsize, and the extra IOPS on the volume as it is)', async () => {
    const { store, report, resume } = await runAll(fleet, records, approveAll);
    try {
      expect(realized(report.optimizations)).toEqual({
        'fx-io1-gp3': 277.5,
        'fx-tokyo-gp3': 2.26,
        'fx-unpriced-type': { unpriced: ['instance type t4g.micro in eu-central-1'] },
      });
      const upsize = report.optimizations.find((o) => o.recommendationId === 'fx-upsize')!;
      expect(upsize).toMatchObject({ status: 'awaiting-approval', approval: 'pending', risk: 'HIGH' });
      const extra = report.optimizations.find((o) => o.recommendationId === 'fx-gp3-extra')!;
      expect(extra).toMatchObject({ status: 'awaiting-approval', approval: 'pending' });
      for (const { optimizationId } of [upsize, extra]) await recordApproval(store, { optimizationId, by: 'alice', now: new Date() });
      const after = await resume();
      expect(realized(after.optimizations)).toMatchObject({ 'fx-upsize': -70.08, 'fx-gp3-extra': -25 });
    } finally {
      await store.close();
    }
  });

  it('under the default policy too, the upsize is not approved automatically', async () => {
    const { store, report } = await runAll(fleet, [records[4]], defaultPolicy);
    try {
      expect(report.optimizations[0]).toMatchObject({ status: 'awaiting-approval', risk: 'HIGH' });
    } finally {
      await store.close();
    }
  });
});
