import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOPICS, silentLogger, type BusMessage } from '@optex/ports';
import { SimulatedFleet } from '@optex/cloud';
import { InMemoryBus } from '@optex/messaging';
import { main } from './program';
import { runFailure } from './commands';

// A message the services give up on (a handler failing on every delivery: a bug) leaves its optimization mid-way; run
// says so and exits 1, never 0 as if the work were done.

const dir = mkdtempSync(join(tmpdir(), 'optex-dead-letters-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => jest.restoreAllMocks());

const ACCOUNT = '123456789012';
const fleet = join(dir, 'fleet.json');
writeFileSync(fleet, JSON.stringify({ instances: [{ id: 'i-1', accountId: ACCOUNT, region: 'us-east-1', instanceType: 'm5.xlarge', state: 'running', cpuP95: 20 }] }));
const input = join(dir, 'recs.json');
writeFileSync(input, JSON.stringify([{ recommendationId: 'rs', source: 'spec', accountId: ACCOUNT, region: 'us-east-1', resource: { type: 'ec2:instance', id: 'i-1' }, action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, estimatedMonthlySavings: 70.08, currency: 'USD' }]));
const policy = join(dir, 'policy.json');
writeFileSync(policy, JSON.stringify({ version: 'auto', approval: { autoApprove: { maxLevel: 'CRITICAL', maxMonthlySavings: 1000000 } } }));

async function optex(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s), logger: silentLogger });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('run when the services gave up on a message', () => {
  it('reports it (text and --json), and exits 1', async () => {
    jest.spyOn(SimulatedFleet.prototype, 'performance').mockRejectedValue(new TypeError('a bug in the metrics source'));
    const text = await optex(['run', input, '--store', `sqlite:${join(dir, 'a', 'events.db')}`, '--cloud', `simulated:${fleet}`, '--policy', policy]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^1 message\(s\) failed in the services on every try and were set aside \(dead-lettered\)/m);
    expect(text.stdout).toMatch(/^ {2}optex-validator on [0-9a-f-]{36}: gave up after \d+ attempts: TypeError: a bug in the metrics source$/m);
    expect(text.stderr).toMatch(/^optex: internal error: the services gave up on 1 message\(s\), so their optimizations stopped mid-way \(the first: optex-validator on /);
    const json = await optex(['run', input, '--store', `sqlite:${join(dir, 'b', 'events.db')}`, '--cloud', `simulated:${fleet}`, '--policy', policy, '--json']);
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as { deadLettered: unknown[] }).deadLettered).toEqual([expect.objectContaining({ group: 'optex-validator', reason: expect.stringContaining('TypeError') })]);
  });

  it('a run where nothing was given up on exits 0 and says nothing of it', async () => {
    const result = await optex(['run', input, '--store', `sqlite:${join(dir, 'c', 'events.db')}`, '--cloud', `simulated:${fleet}`, '--policy', policy]);
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout).not.toMatch(/dead-lettered/);
  });
});

describe('run when an optimization stops mid-way with nothing to wait for (no dead letter)', () => {
  it('lists it (text and --json: stalled) and exits 1, never 0 as if the work were done', async () => {
    // A message lost on its way (a bug of the bus, say): the executor never hears that the rightsize was scheduled.
    const publish = InMemoryBus.prototype.publish;
    jest.spyOn(InMemoryBus.prototype, 'publish').mockImplementation(function (this: InMemoryBus, messages: readonly BusMessage[]) {
      return publish.call(this, messages.filter((m) => !(m.topic === TOPICS.executions && m.headers?.['ce_type'] === 'io.optex.ExecutionScheduled')));
    });
    const text = await optex(['run', input, '--store', `sqlite:${join(dir, 'd', 'events.db')}`, '--cloud', `simulated:${fleet}`, '--policy', policy]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^1 optimization\(s\) stopped mid-way with nothing recorded to wait for \(no approval, resource, time, batch or pause holds them/m);
    expect(text.stdout).toMatch(/^ {2}[0-9a-f-]{36}: scheduled$/m);
    expect(text.stderr).toMatch(/^optex: internal error: 1 optimization\(s\) stopped mid-way with nothing recorded to wait for \(the first: [0-9a-f-]{36}, scheduled\)/);
    const json = await optex(['run', input, '--store', `sqlite:${join(dir, 'e', 'events.db')}`, '--cloud', `simulated:${fleet}`, '--policy', policy, '--json']);
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as { stalled: unknown[] }).stalled).toEqual([{ optimizationId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'scheduled' }]);
    // Nothing lost any more: resume carries it on and exits 0.
    jest.restoreAllMocks();
    const resumed = await optex(['resume', '--store', `sqlite:${join(dir, 'e', 'events.db')}`, '--cloud', `simulated:${fleet}`, '--policy', policy, '--json']);
    expect(resumed.code).toBe(0);
    expect((JSON.parse(resumed.stdout) as { optimizations: { status: string }[]; stalled?: unknown }).optimizations.map((o) => o.status)).toEqual(['completed']);
  });

  it('what exits 1 after a finished run: a dead letter first, then stalled optimizations; neither: nothing', () => {
    const stalled = [{ optimizationId: 'o-1', status: 'executing' as const }];
    const deadLettered = [{ group: 'optex-executor', optimizationId: 'o-2', reason: 'TypeError: x' }];
    expect(runFailure({})).toBeUndefined();
    expect(runFailure({ stalled: [], deadLettered: [] })).toBeUndefined();
    expect(runFailure({ stalled })).toBe('optex: internal error: 1 optimization(s) stopped mid-way with nothing recorded to wait for (the first: o-1, executing); the report lists them (stalled); optex resume looks at them again');
    expect(runFailure({ stalled, deadLettered })).toMatch(/^optex: internal error: the services gave up on 1 message\(s\)/);
  });
});
