import { parsePolicy, type Policy } from '@optex/domain';
import { apiHarness, type ApiHarness } from './__fixtures__/api-harness';

jest.setTimeout(60_000);

const policyWith = (roster: readonly { id: string; authorities: string[] }[]): Policy => {
  const parsed = parsePolicy({ version: 'roster-in-force', approval: { roster, requiredApprovals: { CRITICAL: 1 } } });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
};

// Approval was asked under a roster naming Alice and Bob; Bob has been taken off it since, and the API runs with the
// roster as it is now. Bob still holds the approver role through his token's roles claim.
let h: ApiHarness;
beforeAll(async () => {
  const asked = policyWith([
    { id: 'alice@acme.example', authorities: ['change-board'] },
    { id: 'bob@acme.example', authorities: ['change-board'] },
  ]);
  h = await apiHarness({ policy: asked, apiPolicy: policyWith([{ id: 'alice@acme.example', authorities: ['change-board'] }]) });
});
afterAll(() => h?.close());

const idOf = (recommendationId: string): string => h.first.optimizations.find((o) => o.recommendationId === recommendationId)!.optimizationId;

describe('the API: decisions judged by the roster in force as well as the one the request recorded', () => {
  it('someone taken off the roster after approval was asked may not approve or deny (403 NOT_AUTHORIZED naming who may now); nothing appended', async () => {
    const bob = await h.jwt({ sub: 'bob@acme.example', roles: ['approver'] });
    const shown = await h.call('GET', `/api/v1/optimizations/${idOf('rec-medium')}`, { token: await h.jwt({ sub: 'auditor', roles: ['reader'] }) });
    expect(shown.body.state.approval.eligibleApprovers.map((e: { id: string }) => e.id)).toEqual(['alice@acme.example', 'bob@acme.example']);
    const before = await h.eventCount();
    for (const [action, body] of [['approve', {}], ['deny', { reason: 'no' }]] as const) {
      const response = await h.call('POST', `/api/v1/optimizations/${idOf('rec-medium')}/${action}`, { token: bob, body });
      expect({ action, status: response.status }).toEqual({ action, status: 403 });
      expect(response.body).toMatchObject({ error: 'NOT_AUTHORIZED' });
      expect(response.body.reason).toMatch(/bob@acme\.example may not decide .* the roster in force names alice@acme\.example$/);
    }
    expect(await h.eventCount()).toBe(before);
  });

  it('someone still on the roster approves as before', async () => {
    const alice = await h.jwt({ sub: 'alice@acme.example' });
    const response = await h.call('POST', `/api/v1/optimizations/${idOf('rec-medium')}/approve`, { token: alice });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ by: 'alice@acme.example', status: 'approved' });
  });
});
