// Benchmark of optex's EC2 request budget: prints figures, asserts nothing.
//
//   npm run -s bench:budget -- [--steps 2000] [--scale 4] [--customer-share 0.5] [--guard both|on|off] [--json]
//
// One simulated account-region that throttles as EC2 does (the fleet file's `apiLimits`: AWS's default figures × scale,
// so that 2,000 mutating steps take minutes rather than the quarter of an hour AWS's 5 tokens a second would), and
// `optex run` (the embedded engine, as `run` wires it: optex's budget = the account's figures less the customer's
// share) of `--steps` gp2 → gp3 modifications — one ModifyVolume each, plus their describes. From the fleet's call log:
// the mutating calls made, the throttles seen (RequestLimitExceeded), and the share of the budget optex allowed itself
// that it used: mutating calls / (optex's burst + optex's refill × the time from the first to the last mutating call).
// By default the same run twice: with optex's budget (the guard), then without it (policy `apiBudget.enabled: false`),
// which shows the throttles the guard avoids.
// The temp directory is removed after the run; kept, its path printed, after a failure.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AWS_EC2_BUCKETS, EC2_BUCKETS, NO_BLAST_RADIUS, optexFigures, type BucketFigures, type Ec2Bucket } from '@optex/domain';
import { silentLogger } from '@optex/ports';
import { SimulatedFleet } from '@optex/cloud';
import { intakeLimitsFromEnv, openAdapters, processUntilQuiescent, readInput } from '@optex/runtime';
import { inScratchDir } from './support/scratch-dir';

class UsageError extends Error {}

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

interface Args {
  readonly steps: number;
  readonly scale: number;
  readonly customerShare: number;
  readonly guards: readonly boolean[];
  readonly json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  let steps = 2000;
  let scale = 4;
  let customerShare = 0.5;
  let json = false;
  let guards = [true, false];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => Number(argv[++i]);
    if (arg === '--json') json = true;
    else if (arg === '--steps') steps = value();
    else if (arg === '--scale') scale = value();
    else if (arg === '--customer-share') customerShare = value();
    else if (arg === '--guard') {
      const v = argv[++i];
      if (v !== 'on' && v !== 'off' && v !== 'both') throw new UsageError('--guard: expected on, off or both');
      guards = v === 'both' ? [true, false] : [v === 'on'];
    }
    else throw new UsageError(`unknown argument ${JSON.stringify(arg)} (expected --steps N, --scale X, --customer-share S, --guard on|off|both, --json)`);
  }
  if (!Number.isInteger(steps) || steps < 1) throw new UsageError('--steps needs a positive whole number');
  if (!(scale > 0)) throw new UsageError('--scale needs a positive number');
  if (!(customerShare >= 0 && customerShare <= 0.95)) throw new UsageError('--customer-share must be between 0 and 0.95');
  return { steps, scale, customerShare, guards, json };
}

const volumeId = (i: number) => `vol-${i.toString(16).padStart(17, '0')}`;

interface RunFigures {
  readonly guard: boolean;
  readonly wallMs: number;
  readonly byStatus: Record<string, number>;
  readonly mutatingCalls: number;
  readonly otherCalls: number;
  readonly throttles: number;
  readonly windowS: number;
  readonly allowedTokens: number;
  readonly budgetUsedPct: number;
}

/** One `optex run` of the workload in a fresh directory, with optex's budget on or off; figures from the fleet's call log. */
async function runOnce(args: Args, guard: boolean, limits: Record<Ec2Bucket, BucketFigures>, log: (line: string) => void): Promise<RunFigures> {
  const keeping = { keep: false, holds: "the run's store, fleet and input", report: (line: string) => process.stderr.write(`bench-budget: ${line}\n`) };
  return inScratchDir('bench-budget', keeping, async (dir) => {
    const fleetFile = join(dir, 'fleet.json');
    const input = join(dir, 'recommendations.ndjson');
    const policyFile = join(dir, 'policy.json');
    const lines: string[] = [];
    const volumes: unknown[] = [];
    for (let i = 0; i < args.steps; i++) {
      volumes.push({ id: volumeId(i), accountId: ACCOUNT, region: REGION, volumeType: 'gp2', sizeGiB: 100, state: 'in-use', attachedTo: 'i-0a1b2c3d4e5f60001', tags: { env: 'dev' } });
      lines.push(JSON.stringify({ recommendationId: `budget-${i}`, source: 'bench-budget', accountId: ACCOUNT, region: REGION, resource: { type: 'ec2:volume', id: volumeId(i), tags: { env: 'dev' }, monthlyCost: 10 }, action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 2, currency: 'USD' }));
    }
    writeFileSync(fleetFile, JSON.stringify({ volumes, apiLimits: limits }));
    writeFileSync(input, `${lines.join('\n')}\n`);
    writeFileSync(policyFile, JSON.stringify({ apiBudget: { enabled: guard, customerShare: args.customerShare }, blastRadius: NO_BLAST_RADIUS }));
    const optex = optexFigures({ enabled: true, customerShare: args.customerShare, buckets: {} }, 'mutating', limits);
    log(`  guard ${guard ? 'ON' : 'OFF'}: running ${args.steps.toLocaleString('en-US')} executions …`);
    const adapters = await openAdapters({ store: `sqlite:${join(dir, 'events.db')}`, bus: 'memory', cloud: `simulated:${fleetFile}`, policy: policyFile }, silentLogger, { maxParallel: 16 });
    const started = Date.now();
    let byStatus: Record<string, number>;
    try {
      const result = await processUntilQuiescent(adapters, { input: await readInput(input, intakeLimitsFromEnv()), dryRun: false, progress: (line) => log(`    ${line}`) });
      byStatus = result.summary.byStatus as Record<string, number>;
    } finally {
      await adapters.close();
    }
    const wallMs = Date.now() - started;
    const fleet = await SimulatedFleet.open({ fleetFile, statePath: join(dir, 'events.db.fleet.db') });
    const calls = fleet.calls();
    await fleet.close();
    const mutating = calls.filter((c) => c.operation === 'modifyVolume' && c.result === 'ok');
    const throttles = calls.filter((c) => c.result === 'RequestLimitExceeded').length;
    const times = mutating.map((c) => Date.parse(c.at));
    const windowS = (Math.max(...times) - Math.min(...times)) / 1000;
    const allowed = optex.capacity + optex.refillPerSecond * windowS;
    return {
      guard,
      wallMs,
      byStatus,
      mutatingCalls: mutating.length,
      otherCalls: calls.length - mutating.length,
      throttles,
      windowS,
      allowedTokens: Math.round(allowed),
      budgetUsedPct: Math.round((mutating.length / allowed) * 1000) / 10,
    };
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (line: string) => (args.json ? undefined : process.stderr.write(`${line}\n`));
  const limits = Object.fromEntries(EC2_BUCKETS.map((b) => [b, { capacity: AWS_EC2_BUCKETS[b].capacity * args.scale, refillPerSecond: AWS_EC2_BUCKETS[b].refillPerSecond * args.scale }])) as Record<Ec2Bucket, BucketFigures>;
  const optex = optexFigures({ enabled: true, customerShare: args.customerShare, buckets: {} }, 'mutating', limits);
  log(`bench:budget — ${args.steps.toLocaleString('en-US')} modify-volume executions against one simulated account-region (${ACCOUNT}/${REGION}), ${process.version}`);
  log(`  the account's mutating bucket: ${limits.mutating.capacity} tokens, +${limits.mutating.refillPerSecond}/s (AWS's × ${args.scale}); optex allows itself ${optex.capacity}, +${optex.refillPerSecond}/s (customer share ${args.customerShare * 100} %)`);
  const runs: RunFigures[] = [];
  for (const guard of args.guards) runs.push(await runOnce(args, guard, limits, log));
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ steps: args.steps, scale: args.scale, customerShare: args.customerShare, accountMutating: limits.mutating, optexMutating: optex, runs })}\n`);
    return;
  }
  const out = [''];
  for (const r of runs) {
    out.push(
      `  guard ${r.guard ? 'ON ' : 'OFF'}: ${(r.wallMs / 1000).toFixed(1)} s, ${Object.entries(r.byStatus).map(([k, v]) => `${k} ${v}`).join(', ')}; ModifyVolume ok ${r.mutatingCalls} over ${r.windowS.toFixed(1)} s, other calls ${r.otherCalls}, RequestLimitExceeded ${r.throttles}`,
      r.guard
        ? `             budget optex allowed itself over that window ${r.allowedTokens} tokens (${optex.capacity} + ${optex.refillPerSecond}/s × ${r.windowS.toFixed(1)} s); used ${r.mutatingCalls} = ${r.budgetUsedPct} % (target ≥ 90 %, 0 throttles: ${r.budgetUsedPct >= 90 && r.throttles === 0 ? 'met' : 'NOT met'})`
        : `             without the guard optex sends as fast as it works: ${r.throttles} calls throttled by the account's buckets`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-budget: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
