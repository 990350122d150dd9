// Chaos on the production topology (issue 7): kills stack processes at random times while recommendations are
// processed and checks the invariants afterwards against the log and moto. Prints figures; exits 1 on a violation.
//
//   npm run -s chaos:stack -- [--recommendations 1000] [--kills 12] [--every 5000-20000] [--down 5000] [--seed N]
//                             [--timeout 3600000] [--one-executor] [--json] [--keep]
//
// Kills (SIGKILL): a service (restarted at once; the second executor too), Kafka or the ESDB emulator (started again
// after --down ms); the first three are one of each kind. Invariants: 0 lost (every recommendation is an optimization
// in the log), 0 stuck (every optimization terminal, or waiting for an operator with a reason), 0 mutating EC2 calls
// made twice for one volume (counted by a proxy in front of moto), moto as the log says, 0 dead letters.
// The working directory (every process's log and the emulator's data in stack/, moto's log and the policy in
// stack-chaos/) is removed after a run without a violation, and kept — its path printed — after a violation, a failure,
// or with `--keep`. Kafka's data directory is removed by `stack down` in every case.
import { join } from 'node:path';
import { runStackChaos, type ChaosReport } from '../apps/optex/src/stack/chaos';
import { inScratchDir } from './support/scratch-dir';

function parseArgs(argv: readonly string[]) {
  const args = { recommendations: 1000, kills: 12, every: [5000, 20000] as [number, number], down: 5000, seed: Date.now() % 100_000, timeout: 3_600_000, twoExecutors: true, json: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const int = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: expected a whole number, got ${JSON.stringify(v)}`);
      return n;
    };
    if (flag === '--recommendations') args.recommendations = int(value());
    else if (flag === '--kills') args.kills = int(value());
    else if (flag === '--every') {
      const [min, max] = value().split('-').map(int);
      if (min === undefined || max === undefined || max < min) throw new Error('--every: expected MIN-MAX milliseconds');
      args.every = [min, max];
    } else if (flag === '--down') args.down = int(value());
    else if (flag === '--seed') args.seed = int(value());
    else if (flag === '--timeout') args.timeout = int(value());
    else if (flag === '--one-executor') args.twoExecutors = false;
    else if (flag === '--json') args.json = true;
    else if (flag === '--keep') args.keep = true;
    else throw new Error(`unknown flag ${flag}`);
  }
  return args;
}

function figures(r: ChaosReport, seed: number): string {
  return [
    `seed ${seed}: ${r.recommendations} recommendations in ${(r.durationMs / 1000).toFixed(0)} s`,
    `kills ${r.kills.length} (services ${r.killsByKind.service}, Kafka ${r.killsByKind.kafka}, store ${r.killsByKind.store}); outages ${r.outages}`,
    `  ${r.kills.map((k) => `${k.component}@${(k.atMs / 1000).toFixed(0)}s${k.downMs ? `(${k.downMs / 1000}s down)` : ''}, ${k.pending} pending`).join('; ')}`,
    `statuses ${JSON.stringify(r.statuses)}`,
    `mutating calls ${JSON.stringify(r.calls)}${r.executionsByExecutor ? `; executions started per executor ${r.executionsByExecutor.join(' / ')}` : ''}`,
    `lost ${r.lost.length}, stuck ${r.stuck.length}, duplicated mutating calls ${r.duplicatedCalls.length}, cloud mismatches ${r.cloudMismatches.length}, dead letters ${r.deadLettered.length}`,
    ...r.explained.map((e) => `  explained: ${e.recommendationId} ${e.status}: ${e.why}`),
    ...r.stuck.map((s) => `  stuck: ${s.recommendationId} ${s.status}`),
    ...r.duplicatedCalls.map((d) => `  duplicated: ${d.action} ${d.resource} ×${d.times}`),
    ...r.cloudMismatches.map((m) => `  mismatch: ${m}`),
    ...r.deadLettered.map((m) => `  dead letter: ${m}`),
    `invariant violations: ${r.violations}`,
  ].join('\n');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const holds = "every process's log in stack/, moto's and the policy in stack-chaos/";
  const clean = await inScratchDir('chaos', { keep: args.keep, holds, succeeded: (ok: boolean) => ok, report: (line) => process.stderr.write(`chaos-stack: ${line}\n`) }, (root) => chaos(args, join(root, 'stack')));
  return clean ? 0 : 1;
}

/** Runs the chaos in `dir` and prints its report; true when no invariant was violated. */
async function chaos(args: ReturnType<typeof parseArgs>, dir: string): Promise<boolean> {
  const report = await runStackChaos({
    dir,
    recommendations: args.recommendations,
    kills: args.kills,
    killEveryMs: args.every,
    downMs: args.down,
    seed: args.seed,
    timeoutMs: args.timeout,
    twoExecutors: args.twoExecutors,
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(args.json ? `${JSON.stringify({ seed: args.seed, ...report })}\n` : `${figures(report, args.seed)}\n`);
  return report.violations === 0;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`chaos-stack: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 2;
  },
);
