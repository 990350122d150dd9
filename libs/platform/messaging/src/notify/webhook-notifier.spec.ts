import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { defaultPolicy, optimizationStream, type NotificationPolicy } from '@optex/domain';
import { SqliteEventStore } from '@optex/event-store';
import { SIGNATURE_HEADERS, WebhookNotifier } from './webhook-notifier';

jest.setTimeout(30_000);

const AT = '2026-03-01T10:00:00.000Z';
const EXPIRES = '2026-03-08T10:00:00.000Z';

/** Records an optimization waiting for approval (the three events the engine would write); returns its id. */
async function awaitingApproval(store: SqliteEventStore, n: number): Promise<string> {
  const optimizationId = randomUUID();
  const recommendation = {
    recommendationId: `rec-${n}`,
    source: 'spec',
    accountId: '123456789012',
    region: 'us-east-1',
    resource: { type: 'ec2:instance', id: `i-0${n}` },
    action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' },
    estimatedMonthlySavings: 70.08,
    currency: 'USD',
  };
  const base = { optimizationId, at: AT };
  await store.appendToStream(
    optimizationStream(optimizationId),
    [
      { id: randomUUID(), type: 'OptimizationReceived', data: { ...base, recommendation, dryRun: false, deliveryId: `d-${n}` } },
      { id: randomUUID(), type: 'RiskAssessed', data: { ...base, baseLevel: 'MEDIUM', level: 'MEDIUM', factors: [], policyVersion: 'v1' } },
      { id: randomUUID(), type: 'ApprovalRequested', data: { ...base, authority: 'team-lead', requiredApprovals: 1, expiresAt: EXPIRES } },
    ],
    'no_stream',
  );
  return optimizationId;
}

interface Received {
  readonly key: string;
  readonly status: number;
  readonly body: { text: string; blocks: { type: string }[] };
  readonly raw: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** A webhook receiver on 127.0.0.1 answering `statuses` in turn (then 200), recording every request. */
async function receiver(statuses: number[] = []): Promise<{ url: string; requests: Received[]; server: Server }> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = statuses.shift() ?? 200;
      const raw = Buffer.concat(chunks).toString('utf8');
      requests.push({ key: String(req.headers['idempotency-key']), status, body: JSON.parse(raw), raw, headers: req.headers });
      res.writeHead(status, { connection: 'close' }).end(status === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, requests, server };
}

const acknowledged = (requests: Received[]) => requests.filter((r) => r.status === 200).map((r) => r.key);
async function until(condition: () => boolean, what: string, refresh?: () => Promise<void>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    await refresh?.();
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The counter's values by outcome, once the notifier counted `total` outcomes (it counts after the receiver answered). */
async function outcomes(registry: Registry, total: number): Promise<[string, number][]> {
  let values: [string, number][] = [];
  await until(() => values.reduce((n, [, v]) => n + v, 0) === total, `${total} counted outcomes`, async () => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'optex_notifications_total');
    values = (metric?.values ?? []).map((v) => [String(v.labels['outcome']), v.value]);
  });
  return values;
}

/** Waits until the notifier has handled (and checkpointed, when it notified) the last event of the log. */
async function handledAll(store: SqliteEventStore, notifier: WebhookNotifier): Promise<void> {
  let head = -1n;
  for await (const e of store.readAll({ direction: 'backwards', maxCount: 1, filter: { kind: 'streamName', prefixes: ['optimization-'] } })) head = e.position.commit;
  await until(() => (notifier.handledPosition?.commit ?? -2n) >= head, 'the notifier to handle the whole log');
}

const settingsFor = (url: string): NotificationPolicy => ({ ...defaultPolicy.notifications, webhooks: [{ name: 'ops', url, events: ['approval-requested', 'approval-expiring', 'rollback-failed', 'reconciliation-needed'] }] });
const fast = { initialDelayMs: 5, maxDelayMs: 20, checkEveryMs: 3_600_000 };

describe('WebhookNotifier: signed POSTs', () => {
  /** What a receiver does: recompute the HMAC over the timestamp and the raw body, compare in constant time. */
  const verifies = (r: Received, key: string): boolean => {
    const timestamp = String(r.headers[SIGNATURE_HEADERS.timestamp]);
    const expected = Buffer.from(`v1=${createHmac('sha256', key).update(`${timestamp}.${r.raw}`).digest('hex')}`);
    const given = Buffer.from(String(r.headers[SIGNATURE_HEADERS.signature]));
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  it('a webhook with a signing key gets X-Optex-Signature over its timestamp and body on every attempt; one without gets none', async () => {
    const store = SqliteEventStore.open(':memory:');
    const signed = await receiver([500]);
    const plain = await receiver();
    await awaitingApproval(store, 1);
    const now = new Date('2026-03-01T10:00:07.900Z');
    const policy: NotificationPolicy = {
      ...defaultPolicy.notifications,
      webhooks: [
        { name: 'signed', url: signed.url, events: ['approval-requested'], signingSecretEnv: 'OPTEX_HOOK_KEY' },
        { name: 'plain', url: plain.url, events: ['approval-requested'] },
      ],
    };
    const notifier = new WebhookNotifier(store, policy, { ...fast, now: () => now, signingKeys: new Map([['signed', 'k3y-of-the-receiver']]) });
    await notifier.start();
    try {
      await until(() => acknowledged(signed.requests).length === 1 && acknowledged(plain.requests).length === 1, 'both acknowledged');
      expect(signed.requests.map((r) => r.status)).toEqual([500, 200]);
      for (const r of signed.requests) {
        expect(r.headers[SIGNATURE_HEADERS.timestamp]).toBe('1772359207');
        expect(verifies(r, 'k3y-of-the-receiver')).toBe(true);
        expect(verifies(r, 'another key')).toBe(false);
        expect(verifies({ ...r, raw: r.raw.replace('Approval requested', 'Approval granted') }, 'k3y-of-the-receiver')).toBe(false);
      }
      expect(plain.requests[0]!.headers).not.toHaveProperty(SIGNATURE_HEADERS.signature);
      expect(plain.requests[0]!.headers).not.toHaveProperty(SIGNATURE_HEADERS.timestamp);
    } finally {
      await notifier.stop();
      signed.server.close();
      plain.server.close();
      await store.close();
    }
  });

  it('a webhook whose policy names a signing key variable and has no key is refused when the notifier is made', () => {
    const store = SqliteEventStore.open(':memory:');
    const policy: NotificationPolicy = { ...defaultPolicy.notifications, webhooks: [{ name: 'signed', url: 'http://127.0.0.1:9/hook', events: ['approval-requested'], signingSecretEnv: 'OPTEX_HOOK_KEY' }] };
    expect(() => new WebhookNotifier(store, policy, fast)).toThrow('webhook signed: no signing key (its signingSecretEnv OPTEX_HOOK_KEY was not read)');
    void store.close();
  });
});

describe('WebhookNotifier: at-least-once delivery to a local receiver', () => {
  it('retries after a 500 with the same idempotency key, until the receiver acknowledges; meters the failures', async () => {
    const store = SqliteEventStore.open(':memory:');
    const hook = await receiver([500, 500]);
    const registry = new Registry();
    const first = await awaitingApproval(store, 1);
    const second = await awaitingApproval(store, 2);
    const notifier = new WebhookNotifier(store, settingsFor(hook.url), { ...fast, registry });
    await notifier.start();
    try {
      await until(() => acknowledged(hook.requests).length === 2, 'two acknowledged notifications');
      const [a, b] = [...new Set(hook.requests.map((r) => r.key))];
      expect(hook.requests.map((r) => [r.key, r.status])).toEqual([
        [a, 500],
        [a, 500],
        [a, 200],
        [b, 200],
      ]);
      expect(a).toMatch(/^optex:[0-9a-f-]{36}$/);
      expect(hook.requests[0]!.body).toEqual(hook.requests[2]!.body);
      expect(hook.requests[0]!.body.text).toMatch(/^Approval requested: rightsize i-01 m5.xlarge → m5.large: MEDIUM risk/);
      expect(hook.requests[0]!.body.blocks.map((block) => block.type)).toEqual(['header', 'section', 'section', 'context']);
      expect(JSON.stringify(hook.requests[3]!.body)).toContain(second);
      expect(JSON.stringify(hook.requests[0]!.body)).toContain(first);
      expect(Object.fromEntries(await outcomes(registry, 4))).toEqual({ failed: 2, delivered: 2 });
    } finally {
      await notifier.stop();
      hook.server.close();
      await store.close();
    }
  });

  it('resumes from its checkpoint after a restart: acknowledged ones are not sent again, the unacknowledged one is', async () => {
    const store = SqliteEventStore.open(':memory:');
    const healthy = await receiver();
    await awaitingApproval(store, 1);
    let notifier = new WebhookNotifier(store, settingsFor(healthy.url), fast);
    await notifier.start();
    await until(() => acknowledged(healthy.requests).length === 1, 'the first notification');
    await handledAll(store, notifier); // acknowledged as far as the notifier knows (the receiver's 200 has reached it)
    // The receiver goes down: the next one is retried, never acknowledged, when the process stops.
    const down = await receiver(Array(10_000).fill(503));
    await notifier.stop();
    notifier = new WebhookNotifier(store, settingsFor(down.url), fast);
    await notifier.start();
    await awaitingApproval(store, 2);
    await until(() => down.requests.length >= 3, 'retries against the failing receiver');
    const stopping = Date.now();
    await notifier.stop();
    expect(Date.now() - stopping).toBeLessThan(2000); // a failing webhook never holds the process
    expect(new Set(down.requests.map((r) => r.key)).size).toBe(1);
    const pendingKey = down.requests[0]!.key;
    // Back up: only the unacknowledged one is sent, under the same key.
    notifier = new WebhookNotifier(store, settingsFor(healthy.url), fast);
    await notifier.start();
    try {
      await until(() => acknowledged(healthy.requests).length === 2, 'the notification that was never acknowledged');
      await new Promise((r) => setTimeout(r, 100));
      expect(healthy.requests.map((r) => r.key)).toEqual([healthy.requests[0]!.key, pendingKey]);
    } finally {
      await notifier.stop();
      healthy.server.close();
      down.server.close();
      await store.close();
    }
  });

  it('warns once that an approval is about to expire, within the lead time, also across a restart', async () => {
    const store = SqliteEventStore.open(':memory:');
    const hook = await receiver();
    await awaitingApproval(store, 1);
    let now = new Date('2026-03-07T09:00:00.000Z'); // 25 h before the expiry: not due with a 24-hour lead
    const settings = settingsFor(hook.url);
    let notifier = new WebhookNotifier(store, settings, { ...fast, now: () => now });
    await notifier.start();
    await until(() => acknowledged(hook.requests).length === 1, 'the approval request');
    await notifier.checkExpiring();
    expect(hook.requests).toHaveLength(1);
    now = new Date('2026-03-08T08:00:00.000Z');
    await notifier.checkExpiring();
    await notifier.checkExpiring();
    expect(hook.requests.map((r) => r.key)).toEqual([hook.requests[0]!.key, `${hook.requests[0]!.key}:expiring`]);
    expect(hook.requests[1]!.body.text).toMatch(/^Approval expires soon: .*in 2 h 0 min/);
    await notifier.stop();
    notifier = new WebhookNotifier(store, settings, { ...fast, now: () => now });
    await notifier.start();
    try {
      await notifier.checkExpiring();
      expect(hook.requests).toHaveLength(2);
    } finally {
      await notifier.stop();
      hook.server.close();
      await store.close();
    }
  });

  it('a body the receiver refuses (400) is logged and counted, not retried; later ones still go', async () => {
    const store = SqliteEventStore.open(':memory:');
    const hook = await receiver([400]);
    const registry = new Registry();
    await awaitingApproval(store, 1);
    await awaitingApproval(store, 2);
    const notifier = new WebhookNotifier(store, settingsFor(hook.url), { ...fast, registry });
    await notifier.start();
    try {
      await until(() => acknowledged(hook.requests).length === 1, 'the second notification');
      expect(hook.requests.map((r) => r.status)).toEqual([400, 200]);
      expect(await outcomes(registry, 2)).toEqual([
        ['refused', 1],
        ['delivered', 1],
      ]);
    } finally {
      await notifier.stop();
      hook.server.close();
      await store.close();
    }
  });

  it('each webhook has a lane of its own: one answering 404 for ever (a revoked URL) holds back nothing the other is sent', async () => {
    const store = SqliteEventStore.open(':memory:');
    const revoked = await receiver(Array(10_000).fill(404));
    const oncall = await receiver();
    await awaitingApproval(store, 1);
    await awaitingApproval(store, 2);
    const settings: NotificationPolicy = {
      ...defaultPolicy.notifications,
      webhooks: [
        { name: 'approvals', url: revoked.url, events: ['approval-requested'] },
        { name: 'oncall', url: oncall.url, events: ['approval-requested'] },
      ],
    };
    const notifier = new WebhookNotifier(store, settings, fast);
    await notifier.start();
    try {
      // It used to wait for both answers per notification: the second never left while the first was refused.
      await until(() => acknowledged(oncall.requests).length === 2, 'both notifications on the healthy lane');
      expect(new Set(revoked.requests.map((r) => r.key)).size).toBe(1); // the failing lane retries its first
      const checkpoints = (await store.readStream('relay-checkpoint-notifier-webhooks-oncall')).length;
      expect(checkpoints).toBeGreaterThan(0);
      expect(await store.readStream('relay-checkpoint-notifier-webhooks-approvals')).toEqual([]);
    } finally {
      await notifier.stop();
      revoked.server.close();
      oncall.server.close();
      await store.close();
    }
  });

  it('a lane without a checkpoint starts from the one kept for every webhook before lanes (an upgrade sends nothing again)', async () => {
    const store = SqliteEventStore.open(':memory:');
    const hook = await receiver();
    await awaitingApproval(store, 1);
    let head = -1n;
    let prepare = -1n;
    for await (const e of store.readAll({ direction: 'backwards', maxCount: 1 })) [head, prepare] = [e.position.commit, e.position.prepare];
    await store.appendToStream('relay-checkpoint-notifier-webhooks', [{ id: randomUUID(), type: 'NotifierCheckpointReached', data: { commit: String(head), prepare: String(prepare), pending: [], warned: [] } }], 'any');
    await awaitingApproval(store, 2);
    const notifier = new WebhookNotifier(store, settingsFor(hook.url), fast);
    await notifier.start();
    try {
      await until(() => acknowledged(hook.requests).length === 1, 'the notification after the old checkpoint');
      await handledAll(store, notifier);
      expect(hook.requests).toHaveLength(1);
      expect(JSON.stringify(hook.requests[0]!.body)).toContain('i-02');
    } finally {
      await notifier.stop();
      hook.server.close();
      await store.close();
    }
  });

  it('a failed POST is logged by the webhook\'s name: an error quoting the URL (its token) has it replaced', async () => {
    const store = SqliteEventStore.open(':memory:');
    await awaitingApproval(store, 1);
    const warnings: Record<string, unknown>[] = [];
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (fields: Record<string, unknown>) => void warnings.push(fields), child: () => logger };
    // fetch refuses a URL with credentials, quoting it; the policy refuses such a URL, the notifier hides it all the same.
    const url = 'http://svc:s3cr3t-token@127.0.0.1:9/hook';
    const notifier = new WebhookNotifier(store, settingsFor(url), { ...fast, logger });
    await notifier.start();
    try {
      await until(() => warnings.length >= 2, 'two failed attempts');
      expect(JSON.stringify(warnings)).not.toContain('s3cr3t-token');
      expect(String(warnings[0]!['err'])).toContain('<the URL of webhook ops>');
    } finally {
      await notifier.stop();
      await store.close();
    }
  });
});
