import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SimulatedFleet } from './simulated-fleet';
import { ACCOUNT, ManualClock, REGION, fixtureFleet, ref } from './fleet.fixture';

const ec2 = (awsCode: string) => expect.objectContaining({ name: 'Ec2Error', awsCode });
const brief = (fleet: SimulatedFleet) => fleet.calls().map((c) => `${c.operation} ${c.resourceId} ${c.dryRun ? 'dry ' : ''}${c.result}`);

describe('SimulatedFleet call log', () => {
  it('answers a dry run that would succeed with DryRunOperation, made without a stack trace (it reports success), and leaves the stack trace limit as it was', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet());
    const limit = Error.stackTraceLimit;
    const error = (await sim.stopInstance(ref('i-running'), { dryRun: true }).catch((e: unknown) => e)) as Error;
    expect(error).toEqual(ec2('DryRunOperation'));
    expect(error.stack).toBe(`Ec2Error: ${error.message}`);
    expect(Error.stackTraceLimit).toBe(limit);
    const refused = (await sim.deleteVolume(ref('vol-nope'), { dryRun: true }).catch((e: unknown) => e)) as Error;
    expect(refused).toEqual(ec2('InvalidVolume.NotFound'));
    expect(refused.stack?.split('\n').length).toBeGreaterThan(1); // a refusal keeps its stack
  });

  it('records every call it answered: operation, resource, account, region, dry run, result, client token, time', async () => {
    const clock = new ManualClock();
    const sim = SimulatedFleet.fromFleet(fixtureFleet({ faults: [{ resourceId: 'i-stopped', operation: 'StartInstances', error: 'RequestLimitExceeded', times: 1 }] }), { clock });
    await sim.describeInstance(ref('i-running'));
    await expect(sim.stopInstance(ref('i-running'), { dryRun: true })).rejects.toEqual(ec2('DryRunOperation'));
    await sim.stopInstance(ref('i-running'));
    await expect(sim.startInstance(ref('i-stopped'))).rejects.toEqual(ec2('RequestLimitExceeded'));
    await sim.createSnapshot(ref('vol-gp2-500'), { description: 'd', tags: {} }, { clientToken: 'tok-1' });
    await expect(sim.deleteVolume(ref('vol-nope'))).rejects.toEqual(ec2('InvalidVolume.NotFound'));
    expect(brief(sim)).toEqual([
      'describeInstance i-running ok',
      'stopInstance i-running dry DryRunOperation',
      'stopInstance i-running ok',
      'startInstance i-stopped RequestLimitExceeded',
      'createSnapshot vol-gp2-500 ok',
      'deleteVolume vol-nope InvalidVolume.NotFound',
    ]);
    expect(sim.calls()[4]).toEqual({
      seq: 5,
      at: clock.now().toISOString(),
      operation: 'createSnapshot',
      resourceId: 'vol-gp2-500',
      accountId: ACCOUNT,
      region: REGION,
      dryRun: false,
      result: 'ok',
      clientToken: 'tok-1',
    });
  });

  describe('persisted', () => {
    let dir: string;
    let fleetFile: string;
    let statePath: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'optex-calls-'));
      fleetFile = join(dir, 'fleet.json');
      statePath = join(dir, 'events.db.fleet.db');
      writeFileSync(fleetFile, JSON.stringify(fixtureFleet()));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('keeps the log in the calls table, across opens and fleet objects, readable from outside', async () => {
      const one = await SimulatedFleet.open({ fleetFile, statePath });
      await one.releaseAddress(ref('eipalloc-free'));
      const two = await SimulatedFleet.open({ fleetFile, statePath });
      await expect(two.releaseAddress(ref('eipalloc-free'))).rejects.toEqual(ec2('InvalidAllocationID.NotFound'));
      await one.allocateAddress({ accountId: ACCOUNT, region: REGION }, { clientToken: 'tok-2' });
      const expected = ['releaseAddress eipalloc-free ok', 'releaseAddress eipalloc-free InvalidAllocationID.NotFound', 'allocateAddress * ok'];
      expect(brief(one)).toEqual(expected);
      expect(brief(await SimulatedFleet.open({ fleetFile, statePath }))).toEqual(expected);
      one.close();
      two.close();

      const db = new Database(statePath, { readonly: true });
      const mutating = db.prepare("SELECT operation, COUNT(*) AS n FROM calls WHERE result = 'ok' AND dry_run = 0 GROUP BY operation ORDER BY operation").all();
      expect(mutating).toEqual([
        { operation: 'allocateAddress', n: 1 },
        { operation: 'releaseAddress', n: 1 },
      ]);
      expect(db.prepare("SELECT client_token FROM calls WHERE operation = 'allocateAddress'").pluck().get()).toBe('tok-2');
      db.close();
    });
  });
});
