// Benchmark of the HTTP API on a large store: prints figures, asserts nothing.
//
//   npm run -s bench:api -- [--optimizations 10000] [--awaiting 500] [--requests 500] [--json]
//
// Runs the embedded engine once on two recommendations (a MEDIUM rightsize left waiting for approval, a LOW gp3
// conversion that completes) to get the exact events `optex run` records, then writes N optimizations into a SQLite
// store by copying those streams under new ids (`--awaiting` of them waiting for approval, the rest completed).
// Starts the API on 127.0.0.1 over that store, as `optex api` does, and times sequential requests (keep-alive, a JWT of
// a roster approver verified on every request) of: the approvals queue through the API (`GET /api/v1/optimizations
// ?status=awaiting-approval`), the console's queue page (`GET /console/approvals`), and `show` of random optimizations
// (`GET /api/v1/optimizations/{id}`). Also prints the time of the read model's first catch-up (the first request), and
// after a restart of the API from the checkpoint the first run left (`events.db.read-model.db`), the same time again.
// The temp directory is removed after the run; kept, its path printed, after a failure.
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startApi } from '@optex/api';
import { SimulatedFleet } from '@optex/cloud';
import { NO_BLAST_RADIUS, defaultPriceBook, parsePolicy, type Policy } from '@optex/domain';
import { OptexMetrics } from '@optex/engine';
import { createEventStore, SqliteEventStore } from '@optex/event-store';
import { InMemoryBus } from '@optex/messaging';
import { SqliteReadModelCheckpoints } from '@optex/projections';
import { silentLogger, type NewEvent } from '@optex/ports';
import { inputRecord, processUntilQuiescent } from '@optex/runtime';
import { percentile } from './support/percentile';
import { inScratchDir } from './support/scratch-dir';

/** A bad command line (exit code 2). */
class UsageError extends Error {}

interface Args {
  readonly optimizations: number;
  readonly awaiting: number;
  readonly requests: number;
  readonly json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const numbers: Record<string, number> = { '--optimizations': 10_000, '--awaiting': 500, '--requests': 500 };
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') json = true;
    else if (arg in numbers) {
      const n = Number((argv[++i] ?? '').replace(/_/g, ''));
      if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${arg} needs a whole number ≥ 1`);
      numbers[arg] = n;
    } else throw new UsageError(`unknown argument ${JSON.stringify(arg)} (expected --optimizations N, --awaiting N, --requests N, --json)`);
  }
  const [optimizations, awaiting, requests] = [numbers['--optimizations']!, numbers['--awaiting']!, numbers['--requests']!];
  if (awaiting > optimizations) throw new UsageError('--awaiting must not exceed --optimizations');
  return { optimizations, awaiting, requests, json };
}

const ACCOUNT = '123456789012';
const policy: Policy = (() => {
  const p = parsePolicy({ version: 'bench-api', approval: { roster: [{ id: 'alice@acme.example', authorities: ['team-lead'] }] }, blastRadius: NO_BLAST_RADIUS });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return p.value;
})();

interface Template {
  readonly optimizationId: string;
  readonly recommendationId: string;
  readonly resourceId: string;
  readonly events: readonly { type: string; data: unknown; metadata?: Record<string, unknown> }[];
}

/** The streams `optex run` writes for a waiting rightsize and a completed gp3 conversion, from the real engine. */
async function templates(): Promise<{ waiting: Template; completed: Template }> {
  const store = SqliteEventStore.open(':memory:');
  const fleet = SimulatedFleet.fromFleet(
    {
      instances: [{ id: 'i-0bench0000000001', accountId: ACCOUNT, region: 'us-east-1', instanceType: 'm5.xlarge', state: 'running', cpuP95: 20 }],
      volumes: [{ id: 'vol-0bench000000001', accountId: ACCOUNT, region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' }],
      addresses: [],
      snapshots: [],
      reservedInstanceOfferings: [],
      faults: [],
    } as never,
    { latencyMs: 0 },
  );
  const records = [
    { recommendationId: 'tpl-waiting', source: 'bench', accountId: ACCOUNT, region: 'us-east-1', resource: { type: 'ec2:instance', id: 'i-0bench0000000001' }, action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, estimatedMonthlySavings: 70.08, currency: 'USD' },
    { recommendationId: 'tpl-completed', source: 'bench', accountId: ACCOUNT, region: 'us-east-1', resource: { type: 'ec2:volume', id: 'vol-0bench000000001' }, action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 2, currency: 'USD' },
  ];
  const bus = new InMemoryBus();
  try {
    const report = await processUntilQuiescent(
      { store, bus, ec2: fleet, metricsSource: fleet, identity: fleet, priceBook: defaultPriceBook, policy, clock: { now: () => new Date() }, logger: silentLogger, metrics: new OptexMetrics(), options: { stepBackoffMs: 1 } },
      { dryRun: false, input: { records: records.map((r) => inputRecord(JSON.stringify(r))), deliveryPrefix: 'bench', name: 'bench' } },
    );
    const of = async (recommendationId: string, status: string, resourceId: string): Promise<Template> => {
      const view = report.optimizations.find((o) => o.recommendationId === recommendationId);
      if (view?.status !== status) throw new Error(`template ${recommendationId}: expected ${status}, the engine left ${view?.status}`);
      const events = (await store.readStream(`optimization-${view.optimizationId}`)).map((e) => ({ type: e.type, data: e.data, ...(e.metadata ? { metadata: e.metadata } : {}) }));
      if (events.length === 0) throw new Error(`template ${recommendationId}: no stream optimization-${view.optimizationId}`);
      return { optimizationId: view.optimizationId, recommendationId, resourceId, events };
    };
    return { waiting: await of('tpl-waiting', 'awaiting-approval', 'i-0bench0000000001'), completed: await of('tpl-completed', 'completed', 'vol-0bench000000001') };
  } finally {
    await bus.close();
    await store.close();
    fleet.close();
  }
}

/** The template's events under a new optimization id, recommendation id and resource id (every occurrence replaced). */
function copy(t: Template, i: number): { optimizationId: string; events: NewEvent[] } {
  const optimizationId = randomUUID();
  const recommendationId = `bench-${i}`;
  const resourceId = `${t.resourceId.slice(0, t.resourceId.length - 8)}${i.toString(16).padStart(8, '0')}`;
  const text = JSON.stringify(t.events).split(t.optimizationId).join(optimizationId).split(t.recommendationId).join(recommendationId).split(t.resourceId).join(resourceId);
  const events = (JSON.parse(text) as Template['events']).map((e) => ({ id: randomUUID(), ...e }));
  return { optimizationId, events };
}

async function time(n: number, request: (i: number) => Promise<Response>): Promise<{ p50: number; p95: number; max: number; bytes: number }> {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const response = await request(i);
    const body = await response.arrayBuffer();
    ms.push(performance.now() - started);
    if (response.status !== 200) throw new Error(`${response.url}: ${response.status} ${Buffer.from(body).toString().slice(0, 300)}`);
    bytes = body.byteLength;
  }
  ms.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return { p50: round(percentile(ms, 50)), p95: round(percentile(ms, 95)), max: round(ms.at(-1)!), bytes };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (line: string) => (args.json ? undefined : console.log(line));
  await inScratchDir('bench-api', { keep: false, holds: 'the store and the keys', report: (line) => process.stderr.write(`bench-api: ${line}\n`) }, async (dir) => {
    const { waiting, completed } = await templates();
    const store = await createEventStore(`sqlite:${join(dir, 'events.db')}`);
    const ids: string[] = [];
    const every = Math.floor(args.optimizations / args.awaiting); // spread the waiting ones over the log
    const isWaiting = (k: number) => k % every === 0 && k / every < args.awaiting;
    let written = Date.now();
    for (let i = 0; i < args.optimizations; i += 200) {
      const wave: Promise<unknown>[] = [];
      for (let k = i; k < Math.min(i + 200, args.optimizations); k++) {
        const { optimizationId, events } = copy(isWaiting(k) ? waiting : completed, k);
        ids.push(optimizationId);
        wave.push(store.appendToStream(`optimization-${optimizationId}`, events, 'no_stream'));
      }
      await Promise.all(wave);
    }
    written = Date.now() - written;
    log(`store: ${args.optimizations.toLocaleString('en-US')} optimizations (${waiting.events.length} events each waiting, ${completed.events.length} completed) written in ${written} ms`);

    const idp = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(idp.publicKey)), kid: 'bench', alg: 'ES256' };
    const auth = { jwt: { issuer: 'https://idp.bench.example', audience: 'optex-api', jwks: { keys: [jwk] }, clockToleranceSeconds: 5, algorithms: ['ES256' as const], subjectClaim: 'sub', nameClaims: ['email'], rolesClaim: 'roles' }, tokens: [] };
    const token = await new SignJWT({ sub: '00u-alice', email: 'alice@acme.example', roles: ['reader'] }).setProtectedHeader({ alg: 'ES256', kid: 'bench' }).setIssuer(auth.jwt.issuer).setAudience(auth.jwt.audience).setIssuedAt().setExpirationTime('1h').sign(idp.privateKey);
    const checkpointPath = join(dir, 'events.db.read-model.db');
    /** Starts the API as `optex api` does (checkpoints next to the store) and times start → first queue answer. */
    const startTimed = async () => {
      const started = performance.now(); // the read model catches up (or restores its checkpoint) at start; the first request waits for it
      const checkpoints = SqliteReadModelCheckpoints.open(checkpointPath);
      const api = await startApi({ store, policy, auth, checkpoints, port: 0, host: '127.0.0.1', notifications: false });
      const first = await fetch(`${api.url}/api/v1/optimizations?status=awaiting-approval`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await first.json()) as { total?: number; optimizations?: unknown[] };
      return { api, checkpoints, ms: Math.round(performance.now() - started), awaiting: body.total ?? body.optimizations?.length };
    };
    const started = await startTimed();
    const { api, checkpoints } = started;
    const catchUpMs = started.ms;
    let restartMs: number | undefined;
    let firstClosed = false;
    try {
      const headers = { authorization: `Bearer ${token}` };
      log(`API start to the first queue answer, no checkpoint (the read model folds ${args.optimizations.toLocaleString('en-US')} optimizations' events): ${catchUpMs} ms; ${started.awaiting} awaiting approval`);
      const signIn = await fetch(`${api.url}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
      const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
      if (signIn.status !== 303 || !cookie) throw new Error(`console sign-in: ${signIn.status}`);

      const results = {
        queueApi: await time(args.requests, () => fetch(`${api.url}/api/v1/optimizations?status=awaiting-approval`, { headers })),
        queueConsole: await time(args.requests, () => fetch(`${api.url}/console/approvals`, { headers: { cookie } })),
        show: await time(args.requests, (i) => fetch(`${api.url}/api/v1/optimizations/${ids[(i * 7919) % ids.length]}`, { headers })),
      };
      firstClosed = true;
      await api.close(); // saves the read model's checkpoint
      await checkpoints.close();
      const restarted = await startTimed();
      restartMs = restarted.ms;
      await restarted.api.close();
      await restarted.checkpoints.close();
      const checkpointBytes = statSync(checkpointPath).size;
      log(`API restart to the first queue answer, from the checkpoint (${(checkpointBytes / 2 ** 20).toFixed(1)} MiB): ${restartMs} ms (${((100 * restartMs) / catchUpMs).toFixed(0)} % of the start without one); ${restarted.awaiting} awaiting approval`);
      if (args.json) console.log(JSON.stringify({ optimizations: args.optimizations, awaiting: args.awaiting, requests: args.requests, writtenMs: written, catchUpMs, restartFromCheckpointMs: restartMs, checkpointBytes, ...results }));
      else {
        log(`${args.requests} sequential requests each (keep-alive; ES256 JWT verified on every request):`);
        log('route                                              p50 ms   p95 ms   max ms   response bytes');
        const line = (name: string, r: { p50: number; p95: number; max: number; bytes: number }) => log(`${name.padEnd(50)} ${String(r.p50).padStart(6)}   ${String(r.p95).padStart(6)}   ${String(r.max).padStart(6)}   ${r.bytes}`);
        line('GET /api/v1/optimizations?status=awaiting-approval', results.queueApi);
        line('GET /console/approvals', results.queueConsole);
        line('GET /api/v1/optimizations/{id} (show)', results.show);
      }
    } finally {
      if (!firstClosed) {
        await api.close();
        await checkpoints.close();
      }
      await store.close();
    }
  });
}

main().catch((error: unknown) => {
  console.error(`bench-api: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
