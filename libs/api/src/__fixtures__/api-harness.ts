// Test harness of the API specs (not exported): an in-memory SQLite store with optimizations the engine left waiting
// for approval, a local JWKS identity provider (keys generated per run, never committed) and a static API token.
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { defaultPriceBook, parsePolicy, type Policy } from '@optex/domain';
import { silentLogger, type EventStore } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { InMemoryBus } from '@optex/messaging';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics } from '@optex/engine';
import { inputRecord, processUntilQuiescent, type RunReport } from '@optex/runtime';
import { newApiToken, startApi, type RunningApi } from '../index';
import type { AuthConfig } from '../auth/auth-config';
import { openApiResponseCheck, type ResponseCheck } from './openapi-check';

export const ISSUER = 'https://idp.test.example';
export const AUDIENCE = 'optex-api';
export const ACCOUNT = '123456789012';

export const policy: Policy = (() => {
  const p = parsePolicy({
    version: 'api-spec',
    approval: {
      roster: [
        { id: 'alice@acme.example', aliases: ['alice'], authorities: ['team-lead'] },
        { id: 'carol@acme.example', authorities: ['change-board'] },
        { id: 'dan@acme.example', authorities: ['change-board'] },
      ],
    },
  });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return p.value;
})();

const instance = (id: string) => ({ id, accountId: ACCOUNT, region: 'us-east-1', instanceType: 'm5.xlarge', state: 'running', cpuP95: 20 });
export const rightsize = (recId: string, instanceId: string, tags?: Record<string, string>) => ({
  recommendationId: recId,
  source: 'api-spec',
  accountId: ACCOUNT,
  region: 'us-east-1',
  resource: { type: 'ec2:instance', id: instanceId, ...(tags ? { tags } : {}) },
  action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' },
  estimatedMonthlySavings: 70.08,
  currency: 'USD',
});

export interface ApiHarness {
  readonly api: RunningApi;
  readonly store: EventStore;
  readonly bus: InMemoryBus;
  readonly first: RunReport;
  /** The static API token (its hash only is in the auth config). */
  readonly apiToken: string;
  jwt(claims: JWTPayload, options?: { expiresIn?: string | number; audience?: string; issuer?: string; signWith?: 'ours' | 'stranger' }): Promise<string>;
  call(method: string, path: string, options?: { token?: string; body?: unknown; raw?: string; contentType?: string }): Promise<{ status: number; body: any; headers: Headers }>; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of the response, read by the specs
  /** What checks every response `call` receives against the served OpenAPI document (and which it has seen). */
  readonly responses: ResponseCheck;
  /** Number of events in the whole log (to check that a refused call appended nothing). */
  eventCount(): Promise<number>;
  resume(): Promise<RunReport>;
  /** A dry run of `records` into the same store (as `optex run --dry-run`): previews beside the real optimizations. */
  preview(records: readonly unknown[]): Promise<RunReport>;
  close(): Promise<void>;
}

/**
 * `policy`: the engine's and the API's (default {@link policy}); `apiPolicy`: the API's when it runs with another one
 * than the engine asked approval under (a roster changed since); `records`: what the first run ingests (default three
 * rightsizes, `first`).
 */
export async function apiHarness(options: { bus?: boolean; policy?: Policy; apiPolicy?: Policy; records?: readonly unknown[] } = {}): Promise<ApiHarness> {
  const chosen = options.policy ?? policy;
  const store = SqliteEventStore.open(':memory:');
  const fleet = SimulatedFleet.fromFleet({ instances: [instance('i-01'), instance('i-02'), instance('i-03')], volumes: [], addresses: [], snapshots: [], reservedInstanceOfferings: [], faults: [] }, { latencyMs: 0 });
  const run = async (records?: readonly unknown[], dryRun = false) => {
    const bus = new InMemoryBus();
    try {
      return await processUntilQuiescent(
        { store, bus, ec2: fleet, metricsSource: fleet, identity: fleet, priceBook: defaultPriceBook, policy: chosen, clock: { now: () => new Date() }, logger: silentLogger, metrics: new OptexMetrics(), options: { stepBackoffMs: 1 } },
        { dryRun, ...(records ? { input: { records: records.map((r) => inputRecord(JSON.stringify(r))), deliveryPrefix: dryRun ? 'dry-run:api-spec' : 'api-spec', name: 'spec' } } : {}) },
      );
    } finally {
      await bus.close();
    }
  };
  const first = await run([
    ...(options.records ?? [
      rightsize('rec-medium', 'i-01'),
      rightsize('rec-critical', 'i-02', { env: 'prod', criticality: 'high' }),
      rightsize('rec-other', 'i-03'),
    ]),
  ]);
  const ours = await generateKeyPair('ES256');
  const stranger = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(ours.publicKey)), kid: 'k1', alg: 'ES256' };
  const { token: apiToken, sha256 } = newApiToken();
  const auth: AuthConfig = {
    jwt: { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] }, clockToleranceSeconds: 5, algorithms: ['ES256'], subjectClaim: 'sub', nameClaims: ['email', 'preferred_username'], rolesClaim: 'roles' },
    tokens: [{ name: 'ci', sha256, subject: 'ci-bot', roles: ['reader', 'submitter'] }],
  };
  const bus = new InMemoryBus();
  const api = await startApi({ store, policy: options.apiPolicy ?? chosen, auth, ...(options.bus === false ? {} : { bus }), port: 0 });
  const responses = openApiResponseCheck(JSON.parse(JSON.stringify(api.document)) as Record<string, unknown>);
  return {
    api,
    store,
    bus,
    first,
    apiToken,
    responses,
    async jwt(claims, o = {}) {
      const key = o.signWith === 'stranger' ? stranger.privateKey : ours.privateKey;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(o.issuer ?? ISSUER)
        .setAudience(o.audience ?? AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(o.expiresIn ?? '5m')
        .sign(key);
    },
    async call(method, path, o = {}) {
      const headers: Record<string, string> = {};
      if (o.token) headers['authorization'] = `Bearer ${o.token}`;
      let body: string | undefined;
      if (o.raw !== undefined) {
        body = o.raw;
        headers['content-type'] = o.contentType ?? 'application/json';
      } else if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] = 'application/json';
      }
      const response = await fetch(`${api.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      responses(method, path, response.status, response.headers.get('content-type'), parsed);
      return { status: response.status, body: parsed, headers: response.headers };
    },
    async eventCount() {
      let n = 0;
      for await (const _ of store.readAll()) n++;
      return n;
    },
    resume: () => run(),
    preview: (records) => run(records, true),
    async close() {
      await api.close();
      await bus.close();
      await store.close();
      fleet.close();
    },
  };
}
