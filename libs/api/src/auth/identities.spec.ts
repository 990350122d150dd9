import { parseStoredEvent } from '@optex/domain';
import { apiHarness, rightsize, type ApiHarness } from '../__fixtures__/api-harness';

// Who an authenticated caller is when it decides: the roster matched exactly (no Unicode folding), unverified claims
// left out, the requester refused under any name the caller's credentials give, and the event saying how it came.

jest.setTimeout(60_000);

let h: ApiHarness;
beforeAll(async () => {
  h = await apiHarness({
    records: [rightsize('rec-critical', 'i-02', { env: 'prod', criticality: 'high' }), { ...rightsize('rec-asked', 'i-01'), requestedBy: 'asmith@acme.example' }],
  });
});
afterAll(() => h?.close());

const idOf = (recommendationId: string): string => h.first.optimizations.find((o) => o.recommendationId === recommendationId)!.optimizationId;
const approve = async (recommendationId: string, claims: Record<string, unknown>) => h.call('POST', `/api/v1/optimizations/${idOf(recommendationId)}/approve`, { token: await h.jwt(claims), body: {} });

describe('the roster and an authenticated caller', () => {
  it('a name that only Unicode folding makes a change-board member approves nothing, with or without an approver role', async () => {
    const before = await h.eventCount();
    for (const claims of [
      { sub: '00u-eve', preferred_username: 'Ｃａｒｏｌ@ａｃｍｅ.example' },
      { sub: 'ca\u00adrol@acme.example' },
      { sub: '00u-eve', email: 'carol\u200b@acme.example', roles: ['approver'] },
      { sub: 'ca\u00adrol@acme.example', roles: ['approver'] },
    ]) {
      const response = await approve('rec-critical', claims);
      expect({ claims, status: response.status }).toEqual({ claims, status: 403 });
    }
    expect(await h.eventCount()).toBe(before);
  });

  it('an e-mail the token marks unverified is not who the caller is; verified, it is, and the event records how the caller came', async () => {
    const before = await h.eventCount();
    expect((await approve('rec-critical', { sub: '00u-mallory', email: 'carol@acme.example', email_verified: false })).status).toBe(403);
    expect(await h.eventCount()).toBe(before);
    const granted = await approve('rec-critical', { sub: '00u-carol', email: 'carol@acme.example', email_verified: true });
    expect([granted.status, granted.body.by]).toEqual([200, 'carol@acme.example']);
    const last = (await h.store.readStream(`optimization-${idOf('rec-critical')}`)).at(-1)!;
    expect(parseStoredEvent(last)).toMatchObject({ type: 'ApprovalGranted', data: { by: 'carol@acme.example' } });
    expect(last.metadata).toMatchObject({ via: { channel: 'api', method: 'jwt', subject: '00u-carol' } });
  });

  it('the requester may not approve under another name its credentials give (its roster id differs from requestedBy)', async () => {
    const before = await h.eventCount();
    const response = await approve('rec-asked', { sub: '00u-alice', email: 'alice@acme.example', preferred_username: 'asmith@acme.example' });
    expect(response.status).toBe(403);
    expect(response.body.reason).toMatch(/requested .* and may not approve it/);
    expect(await h.eventCount()).toBe(before);
  });
});

describe('a recommendation id in the path', () => {
  it('names the real optimization when a dry-run preview of the same recommendation is in the store too', async () => {
    const preview = await h.preview([{ ...rightsize('rec-asked', 'i-01'), requestedBy: 'asmith@acme.example' }]);
    expect(preview.optimizations.map((o) => o.status)).toEqual(['dry-run-completed']);
    const shown = await h.call('GET', '/api/v1/optimizations/rec-asked', { token: await h.jwt({ sub: 'auditor', roles: ['reader'] }) });
    expect([shown.status, shown.body.state.optimizationId, shown.body.state.dryRun]).toEqual([200, idOf('rec-asked'), false]);
  });
});
