import { defaultPolicy } from '@optex/domain';
import type { EventStore } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { newApiToken, startApi, type RunningApi } from './index';

jest.setTimeout(30_000);

/**
 * `GET /live` is the API's liveness probe (deploy/k8s/api.yaml): it must answer while the store does not, or an outage of
 * the store would restart the API, which would not bring the store back. `GET /health` (readiness) follows the store.
 */
describe('the API: GET /live (liveness) and GET /health (readiness)', () => {
  const real = SqliteEventStore.open(':memory:');
  let storeDown = false;
  // The real store, but its reads fail while storeDown: what /health asks the store.
  const store = new Proxy(real, {
    get(target, property) {
      if (property === 'readStream' && storeDown) return () => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.7:2113'));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as EventStore;
  let api: RunningApi;
  beforeAll(async () => {
    const { sha256 } = newApiToken();
    api = await startApi({ store, policy: defaultPolicy, auth: { tokens: [{ name: 'ci', sha256, subject: 'ci-bot', roles: ['reader'] }] }, port: 0, notifications: false });
  });
  afterAll(async () => {
    await api?.close();
    await real.close();
  });
  const get = async (path: string) => {
    const response = await fetch(`${api.url}${path}`);
    return { status: response.status, body: (await response.json()) as unknown };
  };

  it('both answer 200 without credentials while the store answers', async () => {
    storeDown = false;
    expect(await get('/live')).toEqual({ status: 200, body: { status: 'ok' } });
    expect((await get('/health')).status).toBe(200);
  });

  it('while the store is unreachable /health fails and /live still answers 200', async () => {
    storeDown = true;
    try {
      expect((await get('/health')).status).toBeGreaterThanOrEqual(500);
      expect(await get('/live')).toEqual({ status: 200, body: { status: 'ok' } });
    } finally {
      storeDown = false;
    }
  });

  it('is a probe of the process, not an operation of the API: the OpenAPI document leaves it out', () => {
    expect(Object.keys(api.document.paths)).toContain('/health');
    expect(Object.keys(api.document.paths)).not.toContain('/live');
  });
});
