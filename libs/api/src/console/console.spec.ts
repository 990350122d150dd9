import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { batchStream, parsePolicy } from '@optex/domain';
import { apiHarness, type ApiHarness } from '../__fixtures__/api-harness';

jest.setTimeout(60_000);

let h: ApiHarness;
beforeAll(async () => {
  h = await apiHarness();
});
afterAll(() => h?.close());

const idOf = (recommendationId: string): string => h.first.optimizations.find((o) => o.recommendationId === recommendationId)!.optimizationId;

/** Signs in through the form; returns the session cookie. */
async function signIn(token: string): Promise<string> {
  const response = await fetch(`${h.api.url}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
  expect(response.status).toBe(303);
  const cookie = response.headers.get('set-cookie')!;
  expect(cookie).toMatch(/^optex_console=[^;]+; Path=\/console; HttpOnly; SameSite=Strict/);
  return cookie.split(';')[0]!;
}
const page = async (path: string, cookie?: string) => {
  const response = await fetch(`${h.api.url}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  return { status: response.status, location: response.headers.get('location'), text: await response.text(), headers: response.headers };
};
const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)![1]!;
const post = (path: string, cookie: string, form: Record<string, string>) =>
  fetch(`${h.api.url}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });

describe('the console: sessions', () => {
  it.each(['/console/approvals', '/console/operator', '/console/batches', '/console/savings', `/console/optimizations/00000000-0000-4000-8000-000000000000`])('%s without a session redirects to sign-in', async (path) => {
    const response = await page(path);
    expect([response.status, response.location]).toEqual([303, '/console/sign-in']);
  });

  it('a POST without a session is 401 and changes nothing; a bad token does not sign in', async () => {
    const before = await h.eventCount();
    const response = await post(`/console/optimizations/${idOf('rec-medium')}/approve`, 'optex_console=garbage', { csrf: 'x' });
    expect(response.status).toBe(401);
    const bad = await fetch(`${h.api.url}/console/sign-in`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=optex_nope' });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('unknown API token');
    expect(await h.eventCount()).toBe(before);
  });

  it('a POST without a session is 401 before its body is read: a body that is not a form, malformed JSON or one over the form limit is not answered 400, 413 or 415; nothing changes', async () => {
    const before = await h.eventCount();
    const statuses = [];
    for (const path of [`/console/optimizations/${idOf('rec-medium')}/approve`, `/console/optimizations/${idOf('rec-medium')}/deny`, '/console/sign-out']) {
      for (const [body, contentType] of [
        ['{not json', 'application/json'],
        [`csrf=x&reason=${'x'.repeat(20 * 1024)}`, 'application/x-www-form-urlencoded'],
        ['csrf=x', 'text/plain'],
      ]) {
        for (const cookie of [undefined, 'optex_console=optex_not-a-real-token']) {
          const response = await fetch(`${h.api.url}${path}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': contentType, ...(cookie ? { cookie } : {}) }, body });
          statuses.push(`${path} ${contentType} ${cookie ? 'a bad session' : 'no session'} → ${response.status}`);
        }
      }
    }
    expect(statuses.filter((s) => !s.endsWith('→ 401'))).toEqual([]);
    expect(await h.eventCount()).toBe(before);
  });

  it('the sign-in form, whose body is the credential, is read without one: a body of another type is still 415, and malformed JSON 400', async () => {
    const refused = [];
    for (const [body, contentType] of [
      ['token=x', 'text/plain'],
      ['{not json', 'application/json'],
    ]) refused.push((await fetch(`${h.api.url}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': contentType }, body })).status);
    expect(refused).toEqual([415, 400]);
  });

  it('sign-in from the same origin works; an opaque (null) or foreign Origin is refused; pages let browsers send their origin', async () => {
    const form = (origin: string) => fetch(`${h.api.url}/console/sign-in`, { method: 'POST', redirect: 'manual', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: h.apiToken }) });
    expect((await form(h.api.url)).status).toBe(303);
    expect((await form('null')).status).toBe(403);
    expect((await form('https://evil.example')).status).toBe(403);
    // under no-referrer a browser sends `Origin: null` with its own form posts, and every sign-in would be refused
    expect((await page('/console/sign-in')).headers.get('referrer-policy')).toBe('same-origin');
  });

  it('the sign-in form is accessible: a labelled field, a heading, a CSP', async () => {
    const response = await page('/console/sign-in');
    expect(response.text).toMatch(/<label for="token">/);
    expect(response.text).toMatch(/<h1>Sign in<\/h1>/);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
  });
});

describe('the console: pages by role', () => {
  it('a reader sees the operator list, batches, timelines and savings, but not the approvals queue (403)', async () => {
    const cookie = await signIn(await h.jwt({ sub: 'auditor', roles: ['reader'] }));
    expect((await page('/console/approvals', cookie)).status).toBe(403);
    const operator = await page('/console/operator', cookie);
    expect([operator.status, operator.text]).toEqual([200, expect.stringContaining('<h1>Needs an operator</h1>')]);
    const batches = await page('/console/batches', cookie);
    expect(batches.text).toContain('<h1>Batch progress</h1>');
    const timeline = await page(`/console/optimizations/${idOf('rec-medium')}`, cookie);
    expect(timeline.status).toBe(200);
    expect(timeline.text).toMatch(/OptimizationReceived[\s\S]*RiskAssessed[\s\S]*ApprovalRequested/);
  });

  it('the savings page holds the data of every grouping and loads chart.js, served from node_modules', async () => {
    const cookie = await signIn(h.apiToken);
    const savings = await page('/console/savings', cookie);
    expect(savings.status).toBe(200);
    const data = JSON.parse(/<script type="application\/json" id="savings-data">(.*?)<\/script>/s.exec(savings.text)![1]!);
    expect(Object.keys(data)).toEqual(['account', 'action', 'month']);
    expect(savings.text).toContain('<script src="/console/assets/chart.umd.js"></script>');
    expect(savings.text).toMatch(/<canvas id="chart-month" data-by="month" role="img" aria-label="[^"]+">/);
    const chart = await page('/console/assets/chart.umd.js');
    expect(chart.status).toBe(200);
    expect(chart.text).toContain('Chart.js v4.');
  });

  it('an approver sees the requests they may decide, with risk factors, plan, savings and expiry', async () => {
    const cookie = await signIn(await h.jwt({ sub: '00u-carol', email: 'carol@acme.example' }));
    const queue = await page('/console/approvals', cookie);
    expect(queue.status).toBe(200);
    expect(queue.text).toContain('Approvals waiting for carol@acme.example');
    expect(queue.text).toContain(`/console/optimizations/${idOf('rec-critical')}/approve`);
    expect(queue.text).toContain(`/console/optimizations/${idOf('rec-medium')}/approve`); // a team-lead request: the board may decide it too
    expect(queue.text).toMatch(/<strong>production<\/strong>: tag env=prod/);
    expect(queue.text).toContain("<dt>Estimated savings (the analyzer's)</dt>");
    // The plan recorded with the request — what the approver approves — with its rollback and its price by the price book.
    const card = queue.text.slice(0, queue.text.indexOf(`/console/optimizations/${idOf('rec-medium')}/approve`)).split('<article').at(-1)!; // rec-medium's card, up to its form
    expect(card).toContain('<dt>Net monthly cost change (price book)</dt><dd>−$70.08</dd>');
    expect(card).toMatch(/<h4>Plan<\/h4><ol>.*<code>modify-instance-type instanceId=i-01 [^<]*m5\.large[^<]*<\/code>/s);
    expect(card).toMatch(/<h4>Rollback<\/h4><ol>.*<code>modify-instance-type instanceId=i-01 [^<]*m5\.xlarge[^<]*<\/code>/s);
    expect(card).not.toContain('Decided at execution');
    expect(queue.text).toMatch(/<dt>Expires<\/dt><dd><time datetime="20/);
    const alice = await signIn(await h.jwt({ sub: '00u-alice', email: 'alice@acme.example' }));
    const hers = await page('/console/approvals', alice);
    expect(hers.text).toContain(`/console/optimizations/${idOf('rec-medium')}/approve`);
    expect(hers.text).not.toContain(`/console/optimizations/${idOf('rec-critical')}/approve`); // a change-board request; alice is a team lead
  });
});

describe('the console: decisions', () => {
  it('approve through the console records the signed-in principal; a POST without the CSRF token is refused', async () => {
    const cookie = await signIn(await h.jwt({ sub: '00u-alice', email: 'alice@acme.example' }));
    const queue = await page('/console/approvals', cookie);
    const id = idOf('rec-medium');
    const before = await h.eventCount();
    expect((await post(`/console/optimizations/${id}/approve`, cookie, { reason: 'x' })).status).toBe(403);
    expect((await post(`/console/optimizations/${id}/approve`, cookie, { csrf: 'forged'.padEnd(43, 'x') })).status).toBe(403);
    expect(await h.eventCount()).toBe(before);
    // The form names the request the page showed; one asked again since (a plan that changed) is refused, not approved unseen.
    const shown = new RegExp(`action="/console/optimizations/${id}/approve"[^>]*><input type="hidden" name="csrf" value="[^"]*"><input type="hidden" name="requestedAt" value="([^"]+)">`).exec(queue.text)?.[1];
    expect(shown).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const stale = await post(`/console/optimizations/${id}/approve`, cookie, { csrf: csrfOf(queue.text), requestedAt: '2000-01-01T00:00:00.000Z' });
    expect((await page(stale.headers.get('location')!, cookie)).text).toContain('REQUEST_CHANGED: Approve: the approval request of');
    expect(await h.eventCount()).toBe(before);
    const response = await post(`/console/optimizations/${id}/approve`, cookie, { csrf: csrfOf(queue.text), requestedAt: shown!, reason: 'looked fine', by: 'mallory' });
    expect(response.status).toBe(303);
    const after = await page(response.headers.get('location')!, cookie);
    expect(after.text).toContain('Recorded as alice@acme.example.');
    const history = await h.call('GET', `/api/v1/optimizations/${id}/history`, { token: await h.jwt({ sub: 'auditor', roles: ['reader'] }) });
    expect(history.body.events.at(-1)).toMatchObject({ type: 'ApprovalGranted', data: { by: 'alice@acme.example', reason: 'looked fine' } });
  });

  it('deny records the principal; a refusal of the domain is shown and appends nothing', async () => {
    const cookie = await signIn(await h.jwt({ sub: '00u-dan', email: 'dan@acme.example' }));
    const csrf = csrfOf((await page('/console/approvals', cookie)).text);
    const id = idOf('rec-critical');
    const before = await h.eventCount();
    const refused = await post(`/console/optimizations/${id}/deny`, cookie, { csrf, reason: '' });
    expect((await page(refused.headers.get('location')!, cookie)).text).toMatch(/role="alert" class="error">[A-Z_]+: /);
    expect(await h.eventCount()).toBe(before);
    await post(`/console/optimizations/${id}/deny`, cookie, { csrf, reason: 'not this quarter' });
    const history = await h.call('GET', `/api/v1/optimizations/${id}/history`, { token: h.apiToken });
    expect(history.body.events.at(-1)).toMatchObject({ type: 'ApprovalDenied', data: { by: 'dan@acme.example', reason: 'not this quarter' } });
  });
});

describe('the console: what it takes from the request', () => {
  it('a notice in the queue’s link that no decision of the server wrote (none, or a forged signature) is not shown', async () => {
    const cookie = await signIn(await h.jwt({ sub: '00u-alice', email: 'alice@acme.example' }));
    const phishing = encodeURIComponent('ok:Session expiring: re-enter your token at https://evil.example');
    for (const query of [`notice=${phishing}`, `notice=${phishing}&sig=${'A'.repeat(43)}`, `notice=${phishing}&sig=`]) {
      const queue = await page(`/console/approvals?${query}`, cookie);
      expect(queue.status).toBe(200);
      expect(queue.text).not.toContain('evil.example');
      expect(queue.text).not.toMatch(/role="(status|alert)"/);
    }
  });

  it('a session cookie that is not percent-encoding is no session: pages redirect to sign-in, a POST is 401 (it was a 500 on every page)', async () => {
    for (const path of ['/console/approvals', '/console/operator', '/console/savings']) expect((await page(path, 'optex_console=%ZZ')).status).toBe(303);
    expect((await post('/console/sign-out', 'optex_console=%ZZ', { csrf: 'x' })).status).toBe(401);
  });

  it('a reason longer than 1,024 characters is refused as the API refuses it, and appends nothing; an id in capitals names the same optimization', async () => {
    const cookie = await signIn(await h.jwt({ sub: '00u-alice', email: 'alice@acme.example' }));
    const csrf = csrfOf((await page('/console/approvals', cookie)).text);
    const id = idOf('rec-other');
    const before = await h.eventCount();
    const refused = await post(`/console/optimizations/${id}/approve`, cookie, { csrf, reason: 'Z'.repeat(1025) });
    expect((await page(refused.headers.get('location')!, cookie)).text).toContain('INVALID_INPUT: Approve: reason must be at most 1024 characters, got 1025');
    expect(await h.eventCount()).toBe(before);
    const approved = await post(`/console/optimizations/${id.toUpperCase()}/approve`, cookie, { csrf, reason: 'Z'.repeat(1024) });
    expect((await page(approved.headers.get('location')!, cookie)).text).toContain('Recorded as alice@acme.example.');
    const history = await h.call('GET', `/api/v1/optimizations/${id}/history`, { token: h.apiToken });
    expect(history.body.events.at(-1)).toMatchObject({ type: 'ApprovalGranted', data: { by: 'alice@acme.example', reason: 'Z'.repeat(1024) } });
  });
});

describe('the console: why an optimization waits', () => {
  it('an approved optimization held by the kill switch says so on its timeline, with who paused and why; once resumed it no longer does', async () => {
    const id = idOf('rec-medium'); // approved by the decisions above, not executed
    const operator = await h.jwt({ sub: 'oncall', roles: ['operator'] });
    const cookie = await signIn(await h.jwt({ sub: 'auditor', roles: ['reader'] }));
    expect((await page(`/console/optimizations/${id}`, cookie)).text).not.toContain('class="waiting"');
    expect((await h.call('POST', '/api/v1/execution/pause', { token: operator, body: { reason: 'incident INC-12' } })).status).toBe(200);
    const held = await page(`/console/optimizations/${id}`, cookie);
    expect(held.text).toContain('now <strong>approved</strong>');
    expect(held.text).toMatch(/<p class="waiting" role="status">Waits for the <strong>kill-switch<\/strong> until it is lifted: execution paused by oncall since [^:]+:[^:]+:[^:]+: incident INC-12<\/p>/);
    expect((await h.call('POST', '/api/v1/execution/resume', { token: operator, body: { reason: 'resolved' } })).status).toBe(200);
    expect((await page(`/console/optimizations/${id}`, cookie)).text).not.toContain('class="waiting"');
  });

  it('an approved optimization in a halted batch says it waits for an operator, until the batch is continued', async () => {
    const id = idOf('rec-medium');
    const cookie = await signIn(await h.jwt({ sub: 'auditor', roles: ['reader'] }));
    const at = new Date().toISOString();
    const batch = (type: string, data: Record<string, unknown>) => ({ id: randomUUID(), type, data: { batchId: 'b-console', ...data, at }, metadata: { schemaVersion: 1 } });
    await h.store.appendToStream(batchStream('b-console'), [batch('BatchPlanned', { mode: 'parallel', maxParallel: 4, notBefore: at, optimizationIds: [id] }), batch('BatchHalted', { rule: 'max-errors', reason: 'error threshold: 6 executions failed, more than the 5 allowed', dispatched: 6, errors: 6 })], 'no_stream');
    expect((await page(`/console/optimizations/${id}`, cookie)).text).toMatch(
      /<p class="waiting" role="status">Waits for the <strong>batch-halted<\/strong> until it is lifted: batch b-console halted: error threshold: 6 executions failed, more than the 5 allowed; an operator lets it go on \(optex continue-batch\)<\/p>/,
    );
    await h.store.appendToStream(batchStream('b-console'), [batch('BatchContinued', { by: 'oncall', reason: 'checked', rule: 'max-errors' })], 1n);
    expect((await page(`/console/optimizations/${id}`, cookie)).text).not.toContain('class="waiting"');
  });
});

describe('the README', () => {
  it('its webhook policy example is a valid policy file', () => {
    const readme = readFileSync(join(__dirname, '../../../../README.md'), 'utf8');
    const example = /```json\n(\{\n  "notifications"[\s\S]*?)\n```/.exec(readme)![1]!;
    const parsed = parsePolicy(JSON.parse(example));
    expect(parsed.ok && parsed.value.notifications.webhooks.map((w) => w.name)).toEqual(['finops-approvals', 'on-call']);
  });
});
