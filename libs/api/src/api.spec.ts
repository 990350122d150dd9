import { request } from 'node:http';
import { HEADERS, InfrastructureError, TOPICS, submitterHeader } from '@optex/ports';
import { previewIdFor } from '@optex/domain';
import { apiHarness, rightsize, type ApiHarness } from './__fixtures__/api-harness';

jest.setTimeout(60_000);

let h: ApiHarness;
beforeAll(async () => {
  h = await apiHarness();
});
afterAll(() => h?.close());

const idOf = (recommendationId: string): string => h.first.optimizations.find((o) => o.recommendationId === recommendationId)!.optimizationId;
const alice = () => h.jwt({ sub: '00u-alice', email: 'Alice@ACME.example' });
const reader = () => h.jwt({ sub: 'auditor', roles: ['reader'] });

describe('the API: probes of every mutating route (nothing changes without the right credentials)', () => {
  const mutating: [string, string, unknown][] = [
    ['approve', 'rec-medium', {}],
    ['deny', 'rec-medium', { reason: 'no' }],
    ['cancel', 'rec-medium', { reason: 'no' }],
    ['retry-rollback', 'rec-medium', { reason: 'again' }],
    ['resolve', 'rec-medium', { note: 'checked' }],
  ];

  it.each(mutating)('%s: no token, a garbage header, an expired token, the wrong audience, the wrong issuer, a stranger’s key → 401 with a reason; nothing appended', async (action, rec, body) => {
    const before = await h.eventCount();
    const path = `/api/v1/optimizations/${idOf(rec)}/${action}`;
    const tokens: [string | undefined, RegExp][] = [
      [undefined, /no credentials/],
      ['not-a-jwt', /token rejected/],
      [await h.jwt({ sub: 'alice' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 }), /token rejected: expired/],
      [await h.jwt({ sub: 'alice' }, { audience: 'someone-else' }), /token rejected: claim aud/],
      [await h.jwt({ sub: 'alice' }, { issuer: 'https://evil.example' }), /token rejected: claim iss/],
      [await h.jwt({ sub: 'alice' }, { signWith: 'stranger' }), /token rejected: signature/],
      ['optex_not-a-real-token', /unknown API token/],
    ];
    for (const [token, reason] of tokens) {
      const response = await h.call('POST', path, { ...(token ? { token } : {}), body });
      expect({ token, status: response.status }).toEqual({ token, status: 401 });
      expect(response.body.reason).toMatch(reason);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="optex"');
    }
    expect(await h.eventCount()).toBe(before);
  });

  it.each(mutating)('%s: an authenticated caller without the role → 403 naming the role; nothing appended', async (action, rec, body) => {
    const before = await h.eventCount();
    const response = await h.call('POST', `/api/v1/optimizations/${idOf(rec)}/${action}`, { token: await reader(), body });
    expect(response.status).toBe(403);
    expect(response.body.reason).toMatch(/auditor holds reader; this needs the (approver|operator) role/);
    expect(await h.eventCount()).toBe(before);
  });

  it.each(mutating)('%s: a body that is not JSON (text/plain, XML) → 415 naming the content type; nothing appended (it used to be dropped unread, and the route ran as if no body had been sent)', async (action, rec) => {
    const before = await h.eventCount();
    for (const contentType of ['text/plain', 'application/xml']) {
      const response = await h.call('POST', `/api/v1/optimizations/${idOf(rec)}/${action}`, { token: await alice(), raw: '{"by":"mallory","reason":"x","note":"x"}', contentType });
      expect(response.status).toBe(415);
      expect(response.body.reason).toBe(`content-type: send the body as application/json, not ${contentType}`);
    }
    expect(await h.eventCount()).toBe(before);
  });

  /** Sends a body with any method (fetch sends none with GET): the answer's status, headers and JSON. */
  const send = (method: string, path: string, headers: Record<string, string>, body: string) =>
    new Promise<{ status: number; contentType: string | null; wwwAuthenticate: string | null; body: any }>((resolve, reject) => { // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of the response, read by the spec
      const sent = request(`${h.api.url}${path}`, { method, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: kept as text
          }
          resolve({ status: response.statusCode!, contentType: response.headers['content-type'] ?? null, wwwAuthenticate: (response.headers['www-authenticate'] as string | undefined) ?? null, body: parsed });
        });
      });
      sent.on('error', reject);
      sent.end(body);
    });
  // Bodies the parsers refuse: not JSON (400), over the 64 kb JSON limit (413), of a type the API does not read (415).
  const unreadable: [string, string][] = [
    ['{not json', 'application/json'],
    [JSON.stringify({ reason: 'x'.repeat(100 * 1024) }), 'application/json'],
    ['{"reason":"x"}', 'text/plain'],
  ];

  it('every operation that needs a role, called with no or a bad credential and a body that is not JSON, too large or of another type → 401 with WWW-Authenticate, before the body is read (not 400, 413 or 415); nothing appended', async () => {
    const before = await h.eventCount();
    const operations = Object.entries(h.api.document.paths).flatMap(([template, item]) =>
      Object.entries(item as Record<string, { 'x-optex-role'?: string }>)
        .filter(([, operation]) => operation['x-optex-role'] !== undefined)
        .map(([method]) => ({ method: method.toUpperCase(), path: template.replace(/\{[^}]+\}/g, idOf('rec-medium')) })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(15);
    const answers = [];
    for (const { method, path } of operations) {
      for (const token of [undefined, 'optex_not-a-real-token']) {
        for (const [body, contentType] of unreadable) {
          const response = await send(method, path, { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body);
          answers.push({ call: `${method} ${path} ${token ?? 'without a token'} ${contentType} ${body.length} bytes`, token, method, path, response });
        }
      }
    }
    expect(answers.filter((a) => a.response.status !== 401).map((a) => `${a.call} → ${a.response.status}`)).toEqual([]);
    for (const { call, token, method, path, response } of answers) {
      expect({ call, wwwAuthenticate: response.wwwAuthenticate, reason: response.body.reason }).toEqual({ call, wwwAuthenticate: 'Bearer realm="optex"', reason: token ? 'unknown API token' : expect.stringMatching(/^no credentials/) });
      h.responses(method, path, response.status, response.contentType, response.body);
    }
    expect(await h.eventCount()).toBe(before);
  });

  it('an authenticated caller’s body is read as before: not JSON → 400, too large → 413, of another type → 415; nothing appended', async () => {
    const before = await h.eventCount();
    const path = `/api/v1/optimizations/${idOf('rec-medium')}/cancel`;
    const operator = await h.jwt({ sub: 'oncall', roles: ['operator'] });
    const statuses = [];
    for (const [body, contentType] of unreadable) {
      const response = await send('POST', path, { 'content-type': contentType, authorization: `Bearer ${operator}` }, body);
      statuses.push(response.status);
      // The API's error shape, each status in the operation's document.
      expect(response.body).toEqual({ statusCode: response.status, error: expect.any(String), reason: expect.any(String) });
      h.responses('POST', path, response.status, response.contentType, response.body);
    }
    expect(statuses).toEqual([400, 413, 415]);
    expect(await h.eventCount()).toBe(before);
  });

  it('an approver off the authority the request names → 403 from the domain (NOT_AUTHORIZED); nothing appended', async () => {
    const before = await h.eventCount();
    // alice is a team-lead; the critical one needs the change board.
    const response = await h.call('POST', `/api/v1/optimizations/${idOf('rec-critical')}/approve`, { token: await alice() });
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ error: 'NOT_AUTHORIZED' });
    expect(response.body.reason).toMatch(/change-board/);
    // someone claiming the approver role but not on the roster
    const mallory = await h.jwt({ sub: 'mallory', roles: ['approver'] });
    expect((await h.call('POST', `/api/v1/optimizations/${idOf('rec-medium')}/approve`, { token: mallory })).status).toBe(403);
    expect(await h.eventCount()).toBe(before);
  });

  it('submitting without the submitter role → 403; the static token of automation has it', async () => {
    const record = JSON.stringify(rightsize('rec-new', 'i-09'));
    expect((await h.call('POST', '/api/v1/recommendations', { token: await reader(), raw: record })).status).toBe(403);
    expect((await h.call('POST', '/api/v1/recommendations', { raw: record })).status).toBe(401);
  });
});

describe('the API: reading', () => {
  it('lists with filters; a bad filter is answered 400 naming every bad parameter', async () => {
    const token = await reader();
    const all = await h.call('GET', '/api/v1/optimizations', { token });
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(3);
    const critical = await h.call('GET', '/api/v1/optimizations?risk=CRITICAL&status=awaiting-approval&authority=change-board&account=123456789012&region=us-east-1&action=rightsize', { token });
    expect(critical.body.items.map((i: { recommendationId: string }) => i.recommendationId)).toEqual(['rec-critical']);
    expect(critical.body.items[0]).toMatchObject({ risk: 'CRITICAL', authority: 'change-board', status: 'awaiting-approval', approval: 'pending' });
    expect((await h.call('GET', '/api/v1/optimizations?receivedBefore=2000-01-01T00:00:00Z', { token })).body.total).toBe(0);
    const bad = await h.call('GET', '/api/v1/optimizations?risk=EXTREME&receivedFrom=yesterday&limit=0', { token });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['risk.0', 'receivedFrom', 'limit']));
    // Pages are whole numbers in digits: 1e2, 0x10 and an empty value are refused, naming the parameter.
    for (const query of ['limit=1e2', 'offset=0x10', 'offset=', 'limit=']) {
      const refused = await h.call('GET', `/api/v1/optimizations?${query}`, { token });
      expect({ query, status: refused.status }).toEqual({ query, status: 400 });
      expect(refused.body.errors[0].path).toBe(query.split('=')[0]);
    }
    expect((await h.call('GET', '/api/v1/optimizations?limit=2&offset=1', { token })).body.items).toHaveLength(2);
  });

  it('shows one (by recommendation id too): recommendation, risk factors, approval asked, eligible approvers', async () => {
    const shown = await h.call('GET', '/api/v1/optimizations/rec-critical', { token: await reader() });
    expect(shown.status).toBe(200);
    expect(shown.body.view.optimizationId).toBe(idOf('rec-critical'));
    expect(shown.body.state.risk.factors.map((f: { factor: string }) => f.factor)).toEqual(expect.arrayContaining(['production', 'criticality']));
    expect(shown.body.state.approval).toMatchObject({ authority: 'change-board', requiredApprovals: 2, approvers: [] });
    expect((await h.call('GET', '/api/v1/optimizations/no-such-thing', { token: await reader() })).status).toBe(404);
  });

  it('history, metrics and savings', async () => {
    const token = await reader();
    const history = await h.call('GET', `/api/v1/optimizations/${idOf('rec-medium')}/history`, { token });
    expect(history.body.events.map((e: { type: string }) => e.type)).toEqual(['OptimizationReceived', 'RiskAssessed', 'ApprovalRequested']);
    const metrics = await h.call('GET', '/api/v1/metrics', { token });
    expect(metrics.body.summary).toMatchObject({ received: 3, byStatus: { 'awaiting-approval': 3 } });
    expect(metrics.body.readModel).toEqual({ lagEvents: 0 });
    expect((await h.call('GET', '/api/v1/savings?by=action', { token })).body).toEqual({ by: 'action', rows: [] });
    const bad = await h.call('GET', '/api/v1/savings?by=colour', { token });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('by');
  });

  it('answers are not sniffed, and the API\'s data is not cached on the way (no-store)', async () => {
    const data = await h.call('GET', '/api/v1/optimizations', { token: await reader() });
    expect([data.headers.get('x-content-type-options'), data.headers.get('cache-control')]).toEqual(['nosniff', 'no-store']);
    const refused = await h.call('GET', '/api/v1/optimizations');
    expect([refused.status, refused.headers.get('x-content-type-options'), refused.headers.get('cache-control')]).toEqual([401, 'nosniff', 'no-store']);
    expect((await h.call('GET', '/health')).headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('health and the OpenAPI document are public', async () => {
    expect((await h.call('GET', '/health')).status).toBe(200);
    const doc = await h.call('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.paths['/api/v1/optimizations/{id}/approve'].post['x-optex-role']).toBe('approver');
  });
});

describe('the API: decisions under the authenticated principal', () => {
  it('approves as the roster id the token maps onto — a name typed in the body is refused, never recorded', async () => {
    const id = idOf('rec-medium');
    const typed = await h.call('POST', `/api/v1/optimizations/${id}/approve`, { token: await alice(), body: { by: 'ceo@acme.example' } });
    expect(typed.status).toBe(400);
    expect(typed.body.errors[0].path).toBe('by');
    // An approval may name the request its approver looked at (requestedAt): one asked again since → 409, nothing appended.
    const requestedAt = (await h.call('GET', `/api/v1/optimizations/${id}`, { token: await alice() })).body.state.approval.requestedAt as string;
    expect(requestedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const before = await h.eventCount();
    const changed = await h.call('POST', `/api/v1/optimizations/${id}/approve`, { token: await alice(), body: { requestedAt: '2000-01-01T00:00:00Z' } });
    expect([changed.status, changed.body.error]).toEqual([409, 'REQUEST_CHANGED']);
    expect(changed.body.reason).toContain(`has been asked again since (at ${requestedAt}: its plan changed)`);
    const notATime = await h.call('POST', `/api/v1/optimizations/${id}/approve`, { token: await alice(), body: { requestedAt: 'yesterday' } });
    expect([notATime.status, notATime.body.errors.map((e: { path: string }) => e.path)]).toEqual([400, ['requestedAt']]);
    expect(await h.eventCount()).toBe(before);
    // The request shown, written with another offset, is the same request.
    const seen = requestedAt.replace('Z', '+00:00');
    const approved = await h.call('POST', `/api/v1/optimizations/${id}/approve`, { token: await alice(), body: { reason: 'looks fine', requestedAt: seen } });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ by: 'alice@acme.example', status: 'approved', approvers: ['alice@acme.example'] });
    const events = (await h.call('GET', `/api/v1/optimizations/${id}/history`, { token: await reader() })).body.events;
    const granted = events.find((e: { type: string }) => e.type === 'ApprovalGranted');
    expect(granted.data).toMatchObject({ by: 'alice@acme.example', mode: 'manual', reason: 'looks fine' });
    expect(granted.metadata.recordedBy).toBe('human:alice@acme.example');
    // the same approval again is a conflict, and appends nothing
    expect((await h.call('POST', `/api/v1/optimizations/${id}/approve`, { token: await alice() })).status).toBe(409);
  });

  it('CRITICAL needs two distinct members of the change board: the same person twice is refused', async () => {
    const id = idOf('rec-critical');
    const carol = await h.jwt({ sub: 'carol@acme.example' });
    const first = await h.call('POST', `/api/v1/optimizations/${id}/approve`, { token: carol });
    expect(first.body).toMatchObject({ status: 'awaiting-approval', approvers: ['carol@acme.example'] });
    const again = await h.call('POST', `/api/v1/optimizations/${id}/approve`, { token: await h.jwt({ sub: 'someone', email: 'Carol@acme.example' }) });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('ALREADY_APPROVED');
    const second = await h.call('POST', `/api/v1/optimizations/${id}/approve`, { token: await h.jwt({ sub: 'dan@acme.example' }) });
    expect(second.body).toMatchObject({ status: 'approved', approvers: ['carol@acme.example', 'dan@acme.example'] });
  });

  it('a denial needs a reason (400 naming it); an operator cancels with one', async () => {
    const id = idOf('rec-other');
    const noReason = await h.call('POST', `/api/v1/optimizations/${id}/deny`, { token: await alice(), body: {} });
    expect(noReason.status).toBe(400);
    expect(noReason.body.reason).toMatch(/reason/);
    const operator = await h.jwt({ sub: 'oncall', roles: ['operator'] });
    const cancelled = await h.call('POST', `/api/v1/optimizations/${id}/cancel`, { token: operator, body: { reason: 'change freeze' } });
    expect(cancelled.body).toMatchObject({ status: 'cancelled', by: 'oncall' });
    // resolve needs a rollback-failed or reconciliation-needed optimization: 409 naming the status
    const resolve = await h.call('POST', `/api/v1/optimizations/${id}/resolve`, { token: operator, body: { note: 'x' } });
    expect(resolve.status).toBe(409);
  });

  it('the approved ones execute on the next resume, and the list shows it', async () => {
    await h.resume();
    const list = await h.call('GET', '/api/v1/optimizations?status=completed', { token: await reader() });
    expect(list.body.items.map((i: { recommendationId: string }) => i.recommendationId).sort()).toEqual(['rec-critical', 'rec-medium']);
    const savings = await h.call('GET', '/api/v1/savings?by=account', { token: await reader() });
    expect(savings.body.rows).toEqual([expect.objectContaining({ key: '123456789012', completed: 2, estimatedMonthlySavings: 140.16 })]);
  });
});

describe('the API: time travel', () => {
  it('GET /optimizations/:id/state?at= folds the stream up to the instant; a bad instant is answered 400 naming at', async () => {
    const id = idOf('rec-medium');
    const history = (await h.call('GET', `/api/v1/optimizations/${id}/history`, { token: await reader() })).body.events as { type: string; recordedAt: string }[];
    const first = await h.call('GET', `/api/v1/optimizations/${id}/state?at=${encodeURIComponent(history[0].recordedAt)}`, { token: await reader() });
    expect(first.status).toBe(200);
    // Every event recorded at that instant (the receipt and the risk assessment are appended together) is folded.
    const applied = history.filter((e) => e.recordedAt <= history[0].recordedAt).length;
    expect(first.body).toMatchObject({ optimizationId: id, eventsApplied: applied, asOf: { revision: applied - 1 } });
    const before = await h.call('GET', `/api/v1/optimizations/${id}/state?at=${encodeURIComponent(new Date(Date.parse(history[0].recordedAt) - 1000).toISOString())}`, { token: await reader() });
    expect(before.body).toMatchObject({ asOf: null, eventsApplied: 0, state: { status: 'initial' }, view: null });
    const bad = await h.call('GET', `/api/v1/optimizations/${id}/state?at=yesterday`, { token: await reader() });
    expect(bad.status).toBe(400);
    expect(bad.body.reason).toMatch(/^at: expected an ISO-8601 instant/);
    for (const at of ['1', '2026-03-01T10:00:00']) {
      const refused = await h.call('GET', `/api/v1/optimizations/${id}/state?at=${at}`, { token: await reader() });
      expect({ at, status: refused.status }).toEqual({ at, status: 400 });
    }
  });
});

describe('the API: submitting recommendations (the same intake as Kafka)', () => {
  it('all good → 202 and published to the input topic; mixed → 207 naming every failing field; none → 400', async () => {
    const published: string[] = [];
    const submitters = new Set<string | undefined>();
    await h.bus.subscribe({ topics: [TOPICS.recommendations], groupId: 'spec' }, async (delivery) => {
      published.push(JSON.parse(Buffer.from(delivery.value).toString('utf8')).recommendationId);
      submitters.add(delivery.headers[HEADERS.submittedBy] as string | undefined);
      return { kind: 'ack' };
    });
    const good = await h.call('POST', '/api/v1/recommendations', { token: h.apiToken, raw: JSON.stringify([rightsize('rec-a', 'i-a'), rightsize('rec-b', 'i-b')]) });
    expect(good.status).toBe(202);
    expect(good.body.accepted.map((a: { recommendationId: string }) => a.recommendationId)).toEqual(['rec-a', 'rec-b']);
    const bad = { ...rightsize('rec-bad', 'i-c'), accountId: '12', region: 'mars-1', colour: 'red' };
    const mixed = await h.call('POST', '/api/v1/recommendations', { token: h.apiToken, raw: `${JSON.stringify(rightsize('rec-c', 'i-c'))}\n${JSON.stringify(bad)}\n`, contentType: 'application/x-ndjson' });
    expect(mixed.status).toBe(207);
    expect(mixed.body.accepted).toEqual([expect.objectContaining({ index: 0, recommendationId: 'rec-c' })]);
    expect(mixed.body.rejected).toHaveLength(1);
    expect(mixed.body.rejected[0].errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['accountId', 'region', 'colour']));
    const none = await h.call('POST', '/api/v1/recommendations', { token: h.apiToken, raw: JSON.stringify(bad) });
    expect(none.status).toBe(400);
    expect(none.body.rejected[0].recommendationId).toBe('rec-bad');
    const broken = await h.call('POST', '/api/v1/recommendations', { token: h.apiToken, raw: '[{"a":1},' });
    expect(broken.status).toBe(400);
    await h.bus.idle?.();
    expect(published.sort()).toEqual(['rec-a', 'rec-b', 'rec-c']);
    // Each message names who submitted it, as the API authenticated them: recorded as `via` of OptimizationReceived.
    expect([...submitters]).toEqual([submitterHeader({ channel: 'api', method: 'api-token', subject: 'ci-bot' })]);
  });

  it('a recommendations POST without a valid credential is refused before its body is read; the path matches as routed (a trailing slash, another case)', async () => {
    const big = JSON.stringify(Array.from({ length: 2000 }, (_, i) => rightsize(`rec-big-${i}`, `i-big-${i}`)));
    for (const token of [undefined, 'optex_not-a-real-token']) {
      const refused = await h.call('POST', '/api/v1/recommendations', { ...(token ? { token } : {}), raw: big });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="optex"');
    }
    for (const path of ['/api/v1/recommendations/', '/Api/V1/Recommendations']) {
      const accepted = await h.call('POST', path, { token: h.apiToken, raw: JSON.stringify(rightsize('rec-routed', 'i-routed')), contentType: 'application/x-ndjson' });
      expect({ path, status: accepted.status }).toEqual({ path, status: 202 });
    }
  });

  it('an outage of the bus while publishing → 503 with the Error body saying so (not 500)', async () => {
    const outage = new InfrastructureError('kafka: publish failed: connect ECONNREFUSED 10.0.0.9:9092');
    const publish = jest.spyOn(h.bus, 'publish').mockRejectedValueOnce(outage);
    try {
      const refused = await h.call('POST', '/api/v1/recommendations', { token: h.apiToken, raw: JSON.stringify(rightsize('rec-outage', 'i-o')) });
      expect([refused.status, refused.body]).toEqual([503, { statusCode: 503, error: 'Service Unavailable', reason: `the event store or the bus is unreachable (an outage): try again later (${outage.message})` }]);
      expect(publish).toHaveBeenCalledTimes(1);
    } finally {
      publish.mockRestore();
    }
  });

  it('dryRun=true publishes a preview and answers its preview id; a dryRun other than true or false is a 400 naming it and publishes nothing', async () => {
    const published: { recommendationId: string; dryRun: string | undefined }[] = [];
    await h.bus.subscribe({ topics: [TOPICS.recommendations], groupId: 'spec-dry-run' }, async (delivery) => {
      const id = (JSON.parse(Buffer.from(delivery.value).toString('utf8')) as { recommendationId: string }).recommendationId;
      if (id.startsWith('rec-dry')) published.push({ recommendationId: id, dryRun: delivery.headers[HEADERS.dryRun] as string | undefined });
      return { kind: 'ack' };
    });
    const preview = await h.call('POST', '/api/v1/recommendations?dryRun=true', { token: h.apiToken, raw: JSON.stringify(rightsize('rec-dry-1', 'i-d')) });
    expect(preview.status).toBe(202);
    expect(preview.body.accepted).toEqual([{ index: 0, recommendationId: 'rec-dry-1', optimizationId: previewIdFor('api-spec', 'rec-dry-1') }]);
    for (const bad of ['TRUE', '1', 'yes', 'true&dryRun=true']) {
      const refused = await h.call('POST', `/api/v1/recommendations?dryRun=${bad}`, { token: h.apiToken, raw: JSON.stringify(rightsize('rec-dry-2', 'i-d')) });
      expect(refused.status).toBe(400);
      expect(refused.body.reason).toMatch(/^dryRun: expected true or false, got /);
    }
    await h.bus.idle?.();
    expect(published).toEqual([{ recommendationId: 'rec-dry-1', dryRun: 'true' }]);
  });

  it('requestedBy: the caller may name only itself (recorded, so it can never approve); anyone else is refused, naming the field', async () => {
    const published: unknown[] = [];
    await h.bus.subscribe({ topics: [TOPICS.recommendations], groupId: 'spec-requested-by' }, async (delivery) => {
      published.push(JSON.parse(Buffer.from(delivery.value).toString('utf8')));
      return { kind: 'ack' };
    });
    const self = await h.call('POST', '/api/v1/recommendations', { token: h.apiToken, raw: JSON.stringify({ ...rightsize('rec-self', 'i-s'), requestedBy: 'CI-Bot' }) });
    expect(self.status).toBe(202);
    const other = await h.call('POST', '/api/v1/recommendations', { token: h.apiToken, raw: JSON.stringify({ ...rightsize('rec-other-requester', 'i-o'), requestedBy: 'alice' }) });
    expect(other.status).toBe(400);
    expect(other.body.rejected).toEqual([{ index: 0, recommendationId: 'rec-other-requester', errors: [{ path: 'requestedBy', message: 'must be the authenticated principal (ci-bot) or left out' }] }]);
    // alice may name herself by her roster alias: it maps onto her roster id, the identity she decides under.
    const alias = await h.call('POST', '/api/v1/recommendations', { token: await h.jwt({ sub: 'alice', roles: ['submitter'] }), raw: JSON.stringify({ ...rightsize('rec-alias', 'i-al'), requestedBy: 'Alice' }) });
    expect(alias.status).toBe(202);
    await h.bus.idle?.();
    const mine = published.filter((r) => ['rec-self', 'rec-other-requester', 'rec-alias'].includes((r as { recommendationId: string }).recommendationId)); // a new group reads the topic from its start
    expect(mine).toEqual([expect.objectContaining({ recommendationId: 'rec-self', requestedBy: 'CI-Bot' }), expect.objectContaining({ recommendationId: 'rec-alias', requestedBy: 'Alice' })]);
  });
});

describe('the API: the kill switch', () => {
  it('an operator pauses under their own identity; a reader sees it; pausing again → 409; resume lifts it; a reader cannot pull it', async () => {
    const operator = await h.jwt({ sub: 'oncall', roles: ['operator'] });
    const before = await h.eventCount();
    const refused = await h.call('POST', '/api/v1/execution/pause', { token: await reader(), body: { reason: 'incident' } });
    expect(refused.status).toBe(403);
    const noReason = await h.call('POST', '/api/v1/execution/pause', { token: operator, body: {} });
    expect(noReason.status).toBe(400);
    expect(noReason.body.reason).toMatch(/reason/);
    expect(await h.eventCount()).toBe(before);

    const paused = await h.call('POST', '/api/v1/execution/pause', { token: operator, body: { reason: 'incident INC-9' } });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ paused: true, by: 'oncall', reason: 'incident INC-9' });
    expect((await h.call('GET', '/api/v1/execution', { token: await reader() })).body).toMatchObject({ paused: true, by: 'oncall' });
    const again = await h.call('POST', '/api/v1/execution/pause', { token: operator, body: { reason: 'twice' } });
    expect(again.status).toBe(409);
    expect(again.body.reason).toMatch(/already paused \(by oncall/);
    const resumed = await h.call('POST', '/api/v1/execution/resume', { token: operator, body: { reason: 'resolved' } });
    expect(resumed.body).toEqual({ paused: false });
    expect(await h.eventCount()).toBe(before + 2);
  });
});
