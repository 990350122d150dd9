import { apiHarness, policy, rightsize, type ApiHarness } from './__fixtures__/api-harness';
import { openApiResponseCheck } from './__fixtures__/openapi-check';

jest.setTimeout(60_000);

// One execution per batch: approving two optimizations and resuming halts their batch, so continuing it can succeed.
const oneExecutionPerBatch = { ...policy, blastRadius: { ...policy.blastRadius, perBatch: { maxExecutions: 1, maxPct: null } } };

let h: ApiHarness;
beforeAll(async () => {
  h = await apiHarness({ policy: oneExecutionPerBatch });
});
afterAll(() => h?.close());

describe('the OpenAPI document describes every answer of the API (each response a spec receives is checked against it)', () => {
  it('every operation, called to success and to its refusals: each status is listed for its operation and each body matches its schema', async () => {
    const reader = await h.jwt({ sub: 'auditor', roles: ['reader'] });
    const alice = await h.jwt({ sub: '00u-alice', email: 'Alice@ACME.example' });
    const carol = await h.jwt({ sub: 'carol@acme.example', roles: ['approver', 'operator'] });
    const expectStatus = async (call: Promise<{ status: number; body: unknown }>, status: number) => expect((await call).status).toBe(status);

    await expectStatus(h.call('GET', '/health'), 200);
    await expectStatus(h.call('GET', '/api/v1/optimizations'), 401);
    await expectStatus(h.call('GET', '/api/v1/optimizations?status=awaiting-approval', { token: reader }), 200);
    await expectStatus(h.call('GET', '/api/v1/optimizations?risk=PURPLE', { token: reader }), 400);
    await expectStatus(h.call('GET', '/api/v1/optimizations/rec-medium', { token: reader }), 200);
    await expectStatus(h.call('GET', '/api/v1/optimizations/no-such-thing', { token: reader }), 404);
    await expectStatus(h.call('GET', `/api/v1/optimizations/rec-medium/state?at=${encodeURIComponent(new Date().toISOString())}`, { token: reader }), 200);
    await expectStatus(h.call('GET', '/api/v1/optimizations/rec-medium/state?at=2001-01-01T00:00:00Z', { token: reader }), 200);
    await expectStatus(h.call('GET', '/api/v1/optimizations/rec-medium/state?at=1', { token: reader }), 400);
    await expectStatus(h.call('GET', '/api/v1/optimizations/rec-medium/history', { token: reader }), 200);

    await expectStatus(h.call('POST', '/api/v1/optimizations/rec-medium/approve', { token: reader, body: {} }), 403);
    await expectStatus(h.call('POST', '/api/v1/optimizations/rec-medium/approve', { token: alice, raw: 'yes', contentType: 'text/plain' }), 415);
    await expectStatus(h.call('POST', '/api/v1/optimizations/rec-medium/approve', { token: alice, body: { by: 'mallory' } }), 400);
    await expectStatus(h.call('POST', '/api/v1/optimizations/rec-medium/approve', { token: alice, body: { reason: 'fine' } }), 200);
    await expectStatus(h.call('POST', '/api/v1/optimizations/rec-medium/approve', { token: alice, body: {} }), 409);
    await expectStatus(h.call('POST', '/api/v1/optimizations/rec-other/approve', { token: alice, body: {} }), 200);
    await expectStatus(h.call('POST', '/api/v1/optimizations/rec-critical/deny', { token: carol, body: {} }), 400);
    await expectStatus(h.call('POST', '/api/v1/optimizations/rec-critical/deny', { token: carol, body: { reason: 'not now' } }), 200);
    await expectStatus(h.call('POST', '/api/v1/optimizations/rec-critical/deny', { token: carol, body: { reason: 'again' } }), 409);
    await expectStatus(h.call('POST', '/api/v1/optimizations/rec-critical/retry-rollback', { token: carol, body: { reason: 'again' } }), 409);
    await expectStatus(h.call('POST', '/api/v1/optimizations/rec-critical/resolve', { token: carol, body: { note: 'checked' } }), 409);

    // The two approved run in one batch, one execution at a time: the batch halts on its limit after the first.
    const resumed = await h.resume();
    expect(resumed.optimizations.filter((o) => o.status === 'completed')).toHaveLength(1);
    const halted = [];
    for await (const e of h.store.readAll()) if (e.type === 'BatchHalted') halted.push((e.data as { batchId: string }).batchId);
    expect(halted).toHaveLength(1);
    const batch = `/api/v1/execution/batches/${halted[0]}/continue`;
    await expectStatus(h.call('POST', batch, { token: carol, body: {} }), 400);
    await expectStatus(h.call('POST', '/api/v1/execution/batches/no-such-batch/continue', { token: carol, body: { reason: 'go' } }), 404);
    await expectStatus(h.call('POST', batch, { token: carol, body: { reason: 'the first went well' } }), 200);
    await expectStatus(h.call('POST', batch, { token: carol, body: { reason: 'again' } }), 409);
    const waiting = resumed.optimizations.find((o) => o.status !== 'completed' && o.status !== 'denied')!;
    await expectStatus(h.call('POST', `/api/v1/optimizations/${waiting.optimizationId}/cancel`, { token: carol, body: { reason: 'changed our mind' } }), 200);

    await expectStatus(h.call('GET', '/api/v1/execution', { token: reader }), 200);
    await expectStatus(h.call('POST', '/api/v1/execution/pause', { token: carol, body: {} }), 400);
    await expectStatus(h.call('POST', '/api/v1/execution/resume', { token: carol, body: { reason: 'nothing to lift' } }), 409);
    await expectStatus(h.call('POST', '/api/v1/execution/pause', { token: carol, body: { reason: 'incident' } }), 200);
    await expectStatus(h.call('GET', '/api/v1/execution', { token: reader }), 200);
    await expectStatus(h.call('POST', '/api/v1/execution/pause', { token: carol, body: { reason: 'again' } }), 409);
    await expectStatus(h.call('POST', '/api/v1/execution/resume', { token: carol, body: { reason: 'over' } }), 200);

    await expectStatus(h.call('GET', '/api/v1/metrics', { token: reader }), 200);
    await expectStatus(h.call('GET', '/api/v1/savings?by=action', { token: reader }), 200);
    await expectStatus(h.call('GET', '/api/v1/savings?by=colour', { token: reader }), 400);
    await expectStatus(h.call('GET', '/metrics', { token: reader }), 200);

    const submitter = h.apiToken;
    await expectStatus(h.call('POST', '/api/v1/recommendations', { raw: '[]' }), 401);
    await expectStatus(h.call('POST', '/api/v1/recommendations', { token: submitter, raw: JSON.stringify([rightsize('rec-new', 'i-01')]) }), 202);
    await expectStatus(h.call('POST', '/api/v1/recommendations', { token: submitter, raw: JSON.stringify([rightsize('rec-new-2', 'i-02'), { recommendationId: 'bad' }]) }), 207);
    await expectStatus(h.call('POST', '/api/v1/recommendations', { token: submitter, raw: JSON.stringify([{ recommendationId: 'bad' }]) }), 400);
    await expectStatus(h.call('POST', '/api/v1/recommendations', { token: submitter, raw: '[' }), 400);

    // Every operation answered at least once with success — but retry-rollback and resolve, whose success needs a
    // rollback that failed (their 200 is the same Decision the other decisions answer, from the same code).
    const succeeded = new Set([...h.responses.seen].filter((s) => / 2\d\d$/.test(s)).map((s) => s.replace(/ \d+$/, '')));
    const answered = new Set([...h.responses.seen].map((s) => s.replace(/ \d+$/, '')));
    expect(h.responses.operations.filter((o) => !answered.has(o))).toEqual([]);
    expect(h.responses.operations.filter((o) => !succeeded.has(o))).toEqual(['POST /api/v1/optimizations/{id}/retry-rollback', 'POST /api/v1/optimizations/{id}/resolve']);
  });
});

describe('the response check itself', () => {
  const document = {
    paths: { '/things/{id}': { get: { responses: { '200': { content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } } } } } },
    components: {
      schemas: {
        Thing: { type: 'object', required: ['id', 'size', 'owner'], additionalProperties: false, properties: { id: { type: 'string' }, size: { type: 'integer', nullable: true }, owner: { allOf: [{ $ref: '#/components/schemas/Owner' }], nullable: true } } },
        Owner: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
      },
    },
  };

  it('passes a documented answer (null where the schema is nullable, the path as Express routes it) and ignores undocumented paths', () => {
    const check = openApiResponseCheck(document);
    check('GET', '/things/1', 200, 'application/json; charset=utf-8', { id: '1', size: null, owner: null });
    check('GET', '/Things/1/?x=1', 200, 'application/json', { id: '1', size: 3, owner: { name: 'ann' } });
    check('GET', '/console', 200, 'text/html', '<html>');
    expect([...check.seen]).toEqual(['GET /things/{id} 200']);
  });

  it('fails a status the operation does not list, a media type it does not describe, and a body off its schema', () => {
    const check = openApiResponseCheck(document);
    expect(() => check('GET', '/things/1', 404, 'application/json', { statusCode: 404 })).toThrow(/GET \/things\/\{id\} answered 404, which its OpenAPI document does not list \(it lists 200\)/);
    expect(() => check('GET', '/things/1', 200, 'text/html', '<p>')).toThrow(/answered text\/html, which its OpenAPI document does not describe/);
    expect(() => check('GET', '/things/1', 200, 'application/json', { id: '1', size: 'big', owner: null })).toThrow(/\/size must be integer,null/);
    expect(() => check('GET', '/things/1', 200, 'application/json', { id: '1', size: 1, owner: null, colour: 'red' })).toThrow(/must NOT have additional properties/);
    expect(() => check('GET', '/things/1', 200, 'application/json', { id: '1', size: 1, owner: {} })).toThrow(/must have required property 'name'/);
  });
});
