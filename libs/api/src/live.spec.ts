import { defaultPolicy } from '@optex/domain';
import { InfrastructureError, type EventStore } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { newApiToken, startApi, type RunningApi } from './index';
import { openApiResponseCheck, type ResponseCheck } from './__fixtures__/openapi-check';

jest.setTimeout(30_000);

/**
 * `GET /live` is the API's liveness probe (deploy/k8s/api.yaml): it must answer while the store does not, or an outage of
 * the store would restart the API, which would not bring the store back. `GET /health` (readiness) follows the store.
 */
describe('the API: GET /live (liveness) and GET /health (readiness)', () => {
  const real = SqliteEventStore.open(':memory:');
  // What the store's reads throw while set: an outage, as the adapters report one (InfrastructureError), or a bug.
  let failure: Error | undefined;
  const store = new Proxy(real, {
    get(target, property) {
      if (property === 'readStream' && failure) return () => Promise.reject(failure);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as EventStore;
  const outage = new InfrastructureError('EventStoreDB read of health-probe failed (unavailable): connect ECONNREFUSED 10.0.0.7:2113');
  const { token, sha256 } = newApiToken();
  let api: RunningApi;
  let responses: ResponseCheck;
  beforeAll(async () => {
    api = await startApi({ store, policy: defaultPolicy, auth: { tokens: [{ name: 'ci', sha256, subject: 'ci-bot', roles: ['reader'] }] }, port: 0, notifications: false });
    responses = openApiResponseCheck(JSON.parse(JSON.stringify(api.document)) as Record<string, unknown>);
  });
  afterAll(async () => {
    await api?.close();
    await real.close();
  });
  afterEach(() => {
    failure = undefined;
  });
  /** The answer, checked against the OpenAPI document the API serves (/live is left out of it). */
  const get = async (path: string, withToken = false) => {
    const response = await fetch(`${api.url}${path}`, withToken ? { headers: { authorization: `Bearer ${token}` } } : {});
    const body = (await response.json()) as unknown;
    responses('GET', path, response.status, response.headers.get('content-type'), body);
    return { status: response.status, body };
  };

  it('both answer 200 without credentials while the store answers', async () => {
    expect(await get('/live')).toEqual({ status: 200, body: { status: 'ok' } });
    expect((await get('/health')).status).toBe(200);
  });

  it('while the store is unreachable (an outage) /health answers 503 saying so, without the store’s own words to a caller without credentials, and /live still answers 200', async () => {
    failure = outage;
    expect(await get('/health')).toEqual({ status: 503, body: { statusCode: 503, error: 'Service Unavailable', reason: 'the event store or the bus is unreachable (an outage): try again later' } });
    expect(await get('/live')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('an outage is 503 on every route, not 500: an authenticated caller is told what failed', async () => {
    failure = outage;
    expect(await get('/api/v1/optimizations/00000000-0000-4000-8000-000000000000/history', true)).toEqual({
      status: 503,
      body: { statusCode: 503, error: 'Service Unavailable', reason: `the event store or the bus is unreachable (an outage): try again later (${outage.message})` },
    });
  });

  it('a failure of the store that is not an outage (a bug) stays 500', async () => {
    failure = new TypeError('cannot read properties of undefined');
    expect((await fetch(`${api.url}/health`)).status).toBe(500);
    expect((await fetch(`${api.url}/api/v1/optimizations/00000000-0000-4000-8000-000000000000/history`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(500);
  });

  it('is a probe of the process, not an operation of the API: the OpenAPI document leaves it out', () => {
    expect(Object.keys(api.document.paths)).toContain('/health');
    expect(Object.keys(api.document.paths)).not.toContain('/live');
  });
});
