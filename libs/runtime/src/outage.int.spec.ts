import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPriceBook, parsePolicy, type Policy } from '@optex/domain';
import { silentLogger, type Delivery, type EventStore } from '@optex/ports';
import { EsdbEventStore } from '@optex/event-store';
import { InMemoryBus } from '@optex/messaging';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics, SERVICE_GROUPS } from '@optex/engine';
import { startEsdbEmulator, type EsdbEmulator } from '@optex/testing';
import { processUntilQuiescent, type RunReport } from './processing';
import { inputRecord } from './input';
import { deadLetterTopicOf } from './engine-app';

// Finding 4 of issue 7: an event-store outage in the middle of executions is waited out. The store is the EventStoreDB
// adapter against the emulator (libs/testing), stopped for a few seconds while executions are under way and started
// again on the same port and data file, as a restarted node would be; or made to refuse access for a few seconds, as a
// node answers a user whose ACLs were taken away until an operator restores them.

jest.setTimeout(120_000);

const ACCOUNT = '123456789012';
const policy: Policy = (() => {
  const p = parsePolicy({ version: 'outage-auto', approval: { autoApprove: { maxLevel: 'CRITICAL', maxMonthlySavings: 1_000_000 } } });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return p.value;
})();

const INSTANCES = 8;
const fleetFile = {
  instances: Array.from({ length: INSTANCES }, (_, i) => ({ id: `i-outage${i}`, accountId: ACCOUNT, region: 'us-east-1', instanceType: 'm5.xlarge', state: 'running', cpuP95: 20 })),
  volumes: Array.from({ length: INSTANCES }, (_, i) => ({ id: `vol-outage${i}`, accountId: ACCOUNT, region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' })),
};
const records = [
  ...fleetFile.instances.map((i, n) => ({
    recommendationId: `rs-${n}`,
    source: 'outage-spec',
    accountId: ACCOUNT,
    region: 'us-east-1',
    resource: { type: 'ec2:instance', id: i.id },
    action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' },
    estimatedMonthlySavings: 70.08,
    currency: 'USD',
  })),
  ...fleetFile.volumes.map((v, n) => ({
    recommendationId: `gp3-${n}`,
    source: 'outage-spec',
    accountId: ACCOUNT,
    region: 'us-east-1',
    resource: { type: 'ec2:volume', id: v.id },
    action: { type: 'modify-volume', targetVolumeType: 'gp3' },
    estimatedMonthlySavings: 2,
    currency: 'USD',
  })),
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MUTATING = new Set(['stopInstance', 'startInstance', 'modifyInstanceType', 'modifyVolume']);

describe('an event-store outage in the middle of executions (embedded engine on the EventStoreDB adapter)', () => {
  let dir: string;
  let emulator: EsdbEmulator | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'optex-outage-'));
  });
  afterAll(async () => {
    await emulator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['stopped, then started again on the same port and data file', 'restart'],
    ['refusing access (an ACL: an AccessRefusedError, not transient), then allowing it again', 'deny'],
  ] as const)('is waited out (the store %s): every optimization ends terminal, each mutating call is made once, nothing is dead-lettered', async (_name, kind) => {
    const dataFile = join(dir, `esdb-${kind}.jsonl`);
    emulator = await startEsdbEmulator({ dataFile });
    const port = emulator.port;
    const store: EventStore = EsdbEventStore.connect(emulator.url);
    // Slow enough calls that executions are under way when the store goes away.
    const fleet = SimulatedFleet.fromFleet(fleetFile, { latencyMs: 150 });
    const bus = new InMemoryBus({ maxRetryBackoffMs: 500 });
    const dead: Delivery[] = [];

    const outage = { started: 0, ended: 0, callsBefore: 0 };
    const chaos = (async () => {
      // Stop the store once several mutating calls went out (executions mid-way), for 4 s.
      while (fleet.calls().filter((c) => MUTATING.has(c.operation)).length < 6) await sleep(20);
      outage.callsBefore = fleet.calls().length;
      outage.started = Date.now();
      if (kind === 'deny') {
        emulator!.denyAccess(true);
        await sleep(4000);
        emulator!.denyAccess(false);
      } else {
        await emulator!.stop();
        await sleep(4000);
        emulator = await startEsdbEmulator({ port, dataFile });
      }
      outage.ended = Date.now();
    })();

    let report: RunReport;
    try {
      report = await processUntilQuiescent(
        { store, bus, ec2: fleet, metricsSource: fleet, identity: fleet, priceBook: defaultPriceBook, policy, clock: { now: () => new Date() }, logger: silentLogger, metrics: new OptexMetrics(), options: { stepBackoffMs: 20, maxParallel: 8 } },
        { dryRun: false, input: { records: records.map((r) => inputRecord(JSON.stringify(r))), deliveryPrefix: 'outage', name: 'outage' } },
      );
      await chaos;
      for (const group of Object.values(SERVICE_GROUPS)) {
        await bus.subscribe({ groupId: `dlq-reader-${group}`, topics: [deadLetterTopicOf(group)] }, async (d) => {
          dead.push(d);
          return { kind: 'ack' };
        });
      }
      await bus.idle();
    } finally {
      await bus.close();
      await store.close();
      await emulator?.stop();
      emulator = undefined;
    }

    expect(outage.ended).toBeGreaterThan(outage.started); // the outage happened during the run
    expect(outage.callsBefore).toBeLessThan(fleet.calls().length); // and work went on after it
    expect(dead.map((d) => d.headers['x-optex-dlq-reason'])).toEqual([]);
    const statuses = report.optimizations.map((o) => `${o.recommendationId}:${o.status}`).sort();
    expect(statuses).toEqual(records.map((r) => `${r.recommendationId}:completed`).sort());
    // Each change made exactly once: one type change per instance, one modification per volume.
    const mutating = fleet.calls().filter((c) => !c.dryRun && c.result === 'ok' && MUTATING.has(c.operation));
    const perResourceOp = new Map<string, number>();
    for (const c of mutating) perResourceOp.set(`${c.operation} ${c.resourceId}`, (perResourceOp.get(`${c.operation} ${c.resourceId}`) ?? 0) + 1);
    expect([...perResourceOp.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(perResourceOp.size).toBe(INSTANCES * 3 + INSTANCES);
    for (const i of fleetFile.instances) expect((await fleet.describeInstance({ accountId: ACCOUNT, region: 'us-east-1', id: i.id }))).toMatchObject({ instanceType: 'm5.large', state: 'running' });
  });
});
