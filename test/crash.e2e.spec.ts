import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, json, optex, tempDir } from './support/cli';

// Each cloud effect exactly once, proved from outside on the embedded default: optex is SIGKILLed (OPTEX_CRASH_AT)
// at step boundaries of a delete-volume, a release-address and a reservation purchase, then `resume` finishes the
// work; the simulated fleet's call log (`optex fleet --json`) shows every mutating EC2 call made exactly once.
//
// `npm test` runs the boundaries where a repeat would double an effect: right after each mutating call returned
// (`call:N`, outcome not yet recorded) and right after each intent was recorded (`event:ExecutionStepStarted:N`,
// call not yet made). `npm run chaos` (OPTEX_CRASH_SWEEP=full) adds every append to the optimization's stream.

jest.setTimeout(600_000);

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const FULL = process.env['OPTEX_CRASH_SWEEP'] === 'full';
const POLICY = { approval: { autoApprove: { enabled: true, maxLevel: 'CRITICAL', maxMonthlySavings: 100000 } } };

interface Case {
  readonly name: string;
  readonly fleet: Record<string, unknown>;
  readonly action: Record<string, unknown>;
  readonly resource: Record<string, unknown>;
  /** Mutating operations the plan makes, each exactly once. */
  readonly mutating: readonly string[];
}

const CASES: readonly Case[] = [
  {
    name: 'delete-volume',
    fleet: { volumes: [{ id: 'vol-crash', accountId: ACCOUNT, region: REGION, volumeType: 'gp2', sizeGiB: 50, state: 'available' }] },
    resource: { type: 'ec2:volume', id: 'vol-crash' },
    action: { type: 'delete-volume' },
    mutating: ['createSnapshot', 'deleteVolume'],
  },
  {
    name: 'release-address',
    fleet: { addresses: [{ allocationId: 'eipalloc-crash', accountId: ACCOUNT, region: REGION, publicIp: '203.0.113.77' }] },
    resource: { type: 'ec2:elastic-ip', id: 'eipalloc-crash' },
    action: { type: 'release-address' },
    mutating: ['releaseAddress'],
  },
  {
    name: 'purchase-reserved-instances',
    fleet: { reservedInstanceOfferings: [{ offeringId: 'ri-offering-crash', region: REGION, instanceType: 'm5.large', fixedPrice: 500, recurringHourly: 0, durationSeconds: 31536000 }] },
    resource: { type: 'ec2:reserved-instances', id: 'ri-crash' },
    action: { type: 'purchase-reserved-instances', offeringId: 'ri-offering-crash', instanceCount: 1, limitPrice: 1000 },
    mutating: ['purchaseReservedInstancesOffering'],
  },
];

interface Call {
  operation: string;
  dryRun: boolean;
  result: string;
}

beforeAll(() => ensureBuilt());

/** One trial: run with a crash point, then resume; what the log and the fleet say afterwards. */
async function trial(c: Case, crashAt: string): Promise<{ crashed: boolean; status: string; calls: Call[]; events: string[]; historyText: string }> {
  const dir = tempDir(`crash-${c.name}`);
  const fleetFile = join(dir, 'fleet.json');
  const input = join(dir, 'recommendations.json');
  const policy = join(dir, 'policy.json');
  writeFileSync(fleetFile, JSON.stringify(c.fleet));
  writeFileSync(policy, JSON.stringify(POLICY));
  const record = { recommendationId: `crash-${c.name}`, source: 'crash-e2e', accountId: ACCOUNT, region: REGION, resource: c.resource, action: c.action, estimatedMonthlySavings: 5, currency: 'USD' };
  writeFileSync(input, JSON.stringify([record]));
  const flags = ['--store', `sqlite:${join(dir, 'events.db')}`, '--cloud', `simulated:${fleetFile}`, '--policy', policy];

  const first = await optex(['run', input, ...flags, '--json'], { env: { OPTEX_CRASH_AT: crashAt } });
  const crashed = first.code === null;
  if (!crashed && first.code !== 0) throw new Error(`run exited ${first.code}: ${first.stderr}`);
  const resumed = await optex(['resume', ...flags, '--json']);
  if (resumed.code !== 0) throw new Error(`resume exited ${resumed.code}: ${resumed.stderr}`);
  const report = json<{ optimizations: { status: string }[] }>(resumed);
  const fleet = json<{ calls: Call[] }>(await optex(['fleet', ...flags.slice(0, 4), '--json']));
  const history = json<{ events: { type: string }[] }>(await optex(['history', `crash-${c.name}`, '--store', flags[1]!, '--json']));
  const historyText = (await optex(['history', `crash-${c.name}`, '--store', flags[1]!, '--wide'])).stdout; // every detail whole
  return { crashed, status: report.optimizations[0]?.status ?? 'missing', calls: fleet.calls, events: history.events.map((e) => e.type), historyText };
}

const made = (calls: readonly Call[], operation: string) => calls.filter((c) => c.operation === operation && !c.dryRun && c.result === 'ok').length;

/** The crash points of a sweep, in order; a sweep of one kind ends at the first point the run gets through alive. */
function* points(c: Case): Generator<string[]> {
  yield Array.from({ length: c.mutating.length }, (_, i) => `call:${i + 1}`);
  yield Array.from({ length: c.mutating.length }, (_, i) => `event:ExecutionStepStarted:${i + 1}`);
  if (FULL) yield Array.from({ length: 40 }, (_, i) => `append:${i + 1}`);
}

describe.each(CASES)('SIGKILL at the step boundaries of $name, then resume', (c) => {
  it('completes, or stops for an operator, with every mutating EC2 call made at most once and never twice', async () => {
    const outcomes: string[] = [];
    for (const sweep of points(c)) {
      for (const point of sweep) {
        const t = await trial(c, point);
        outcomes.push(`${point}: ${t.crashed ? 'killed' : 'not reached'} → ${t.status}`);
        const counts = c.mutating.map((op) => made(t.calls, op));
        if (t.status === 'completed') {
          // every effect happened, each exactly once
          expect({ point, counts }).toEqual({ point, counts: c.mutating.map(() => 1) });
          // killed right after the first call: its effect was found, recorded, and the history says so
          if (point === 'call:1') expect(t.historyText).toMatch(/0: \S+ \(found after a crash, not repeated\)/);
        } else {
          // EC2 could not tell whether a purchase went through: an operator decides, nothing is repeated
          expect({ point, status: t.status, events: t.events.slice(-1) }).toEqual({ point, status: 'reconciliation-needed', events: ['ReconciliationRequired'] });
          expect(c.name).toBe('purchase-reserved-instances');
          expect({ point, counts }).toEqual({ point, counts: c.mutating.map(() => 0) });
        }
        if (!t.crashed) break; // this run got past every boundary of its kind
      }
    }
    // the sweep reached the crash points it was meant to (a seam that never fires would prove nothing)
    expect(outcomes.filter((o) => o.includes('killed')).length).toBeGreaterThanOrEqual(2 * c.mutating.length);
    process.stderr.write(`${c.name}:\n  ${outcomes.join('\n  ')}\n`);
  });
});
