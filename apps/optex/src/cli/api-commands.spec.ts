import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '@optex/ports';
import { UsageError } from '@optex/runtime';
import { apiCommand, apiDecisionCommand, apiTokenCommand, webhookSigningKeys } from './api-commands';
import { parsePolicy } from '@optex/domain';
import { defaultLogLevel } from './program';

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s), logger: silentLogger } };
};

describe('approve/deny --api: the decision goes through the HTTP API with OPTEX_TOKEN', () => {
  let server: Server;
  let url: string;
  const seen: { method?: string; url?: string; authorization?: string; body: string }[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('posts to /api/v1/optimizations/ID/approve with the bearer token and the reason, and prints who it was recorded as', async () => {
    answer = { status: 200, body: { optimizationId: 'abc', status: 'approved', by: 'alice@acme.example' } };
    const { out, io: cli } = io();
    expect(await apiDecisionCommand(cli, 'approve', 'rec 1', { api: url, reason: 'fine' }, { OPTEX_TOKEN: 'tok' })).toBe(0);
    expect(seen.at(-1)).toEqual({ method: 'POST', url: '/api/v1/optimizations/rec%201/approve', authorization: 'Bearer tok', body: '{"reason":"fine"}' });
    expect(out).toEqual(['abc: approved (recorded as alice@acme.example).']);
  });

  it('--requested-at goes in the body as an ISO time (the request the approver looked at); one that is not a time is refused before any request', async () => {
    answer = { status: 200, body: { optimizationId: 'abc', status: 'approved', by: 'alice@acme.example' } };
    expect(await apiDecisionCommand(io().io, 'approve', 'abc', { api: url, requestedAt: '2026-12-02T11:00:00+01:00' }, { OPTEX_TOKEN: 'tok' })).toBe(0);
    expect(JSON.parse(seen.at(-1)!.body)).toEqual({ requestedAt: '2026-12-02T10:00:00.000Z' });
    const count = seen.length;
    await expect(apiDecisionCommand(io().io, 'approve', 'abc', { api: url, requestedAt: 'yesterday' }, { OPTEX_TOKEN: 'tok' })).rejects.toThrow(/--requested-at: expected an ISO-8601 time/);
    expect(seen.length).toBe(count);
  });

  it('a refusal exits 1 with the status and the API’s reason', async () => {
    answer = { status: 403, body: { reason: 'bob holds reader; this needs the approver role' } };
    const { err, io: cli } = io();
    expect(await apiDecisionCommand(cli, 'deny', 'x', { api: url, reason: 'no' }, { OPTEX_TOKEN: 'tok' })).toBe(1);
    expect(err).toEqual(['optex deny: 403: bob holds reader; this needs the approver role']);
  });

  it('refuses --by (the API decides who is asking) and a missing OPTEX_TOKEN, before any request', async () => {
    const count = seen.length;
    await expect(apiDecisionCommand(io().io, 'approve', 'x', { api: url, by: 'ceo' }, { OPTEX_TOKEN: 'tok' })).rejects.toThrow(UsageError);
    await expect(apiDecisionCommand(io().io, 'approve', 'x', { api: url }, {})).rejects.toThrow(/OPTEX_TOKEN/);
    expect(seen.length).toBe(count);
  });
});

describe('api-token', () => {
  it('prints a new token once and the entry holding only its SHA-256', () => {
    const { out, io: cli } = io();
    apiTokenCommand(cli, { subject: 'ci-bot', roles: 'reader,submitter', json: true });
    const { token, entry } = JSON.parse(out[0]!);
    expect(token).toMatch(/^optex_[A-Za-z0-9_-]{43}$/);
    expect(entry).toEqual({ name: 'ci-bot', sha256: createHash('sha256').update(token).digest('hex'), subject: 'ci-bot', roles: ['reader', 'submitter'] });
    expect(JSON.stringify(entry)).not.toContain(token);
    expect(() => apiTokenCommand(cli, { subject: 'x', roles: 'root' })).toThrow(/--roles/);
  });
});

describe('the log level without OPTEX_LOG_LEVEL', () => {
  it('is warn for optex api (a long-running server: webhook retries and store outages show as they happen), error for the other commands', () => {
    expect(defaultLogLevel(['api', '--auth', 'auth.json'])).toBe('warn');
    for (const argv of [['run', 'recs.json'], ['resume'], ['list'], [], ['approve', 'api']]) expect(defaultLogLevel(argv)).toBe('error');
  });
});

describe('optex api', () => {
  it.each(['memory', 'memory:', ' MEMORY '])('refuses --bus %j before it opens anything: submissions would be accepted and dropped', async (bus) => {
    const { io: out } = io();
    await expect(apiCommand(out, { store: 'memory:', auth: '/nonexistent/auth.json', port: '0', host: '127.0.0.1', bus } as Parameters<typeof apiCommand>[1], new Promise(() => undefined))).rejects.toThrow(
      new UsageError('--bus: memory would accept submitted recommendations and drop them (no service consumes a bus inside optex api); give kafka://HOST:PORT, or leave --bus out (submissions are then refused with 503)'),
    );
  });

  describe('signing keys of webhooks, read from the environment', () => {
    const policyWith = (signingSecretEnv?: string) => {
      const parsed = parsePolicy({ notifications: { webhooks: [{ name: 'plain', url: 'https://hooks.example.com/a' }, { name: 'ops', url: 'https://hooks.example.com/b', ...(signingSecretEnv ? { signingSecretEnv } : {}) }] } });
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      return parsed.value;
    };

    it('keys each webhook that names a variable by its name; the others are not signed', () => {
      expect(webhookSigningKeys(policyWith('OPTEX_OPS_HOOK_KEY'), { OPTEX_OPS_HOOK_KEY: 's3cret' })).toEqual(new Map([['ops', 's3cret']]));
      expect(webhookSigningKeys(policyWith(), { OPTEX_OPS_HOOK_KEY: 's3cret' })).toEqual(new Map());
    });

    it.each([{}, { OPTEX_OPS_HOOK_KEY: '' }])('a variable not set (or empty) is refused, naming the field, the variable and the webhook: %j', (env) => {
      expect(() => webhookSigningKeys(policyWith('OPTEX_OPS_HOOK_KEY'), env)).toThrow(
        new UsageError('notifications.webhooks.1.signingSecretEnv: OPTEX_OPS_HOOK_KEY is not set in the environment of optex api (it holds the signing key of webhook ops)'),
      );
    });

    it('the policy takes a variable name, never a key in its place (and its error does not repeat what was given)', () => {
      const parsed = parsePolicy({ notifications: { webhooks: [{ name: 'ops', url: 'https://hooks.example.com/b', signingSecretEnv: 'sk_live_abc123' }] } });
      expect(parsed.ok ? [] : parsed.errors).toEqual([
        {
          path: 'notifications.webhooks.0.signingSecretEnv',
          message: 'notifications.webhooks.0.signingSecretEnv must name an environment variable (upper-case letters, digits, _) that holds the signing key; the key itself never goes in the policy',
        },
      ]);
    });
  });
});
