import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { CIRCUIT_BREAKER_STREAM, defaultPolicy, parseStoredEvent } from '@optex/domain';
import { SqliteEventStore } from '@optex/event-store';
import { AwsEc2Gateway } from '@optex/cloud';
import { WebhookNotifier } from '@optex/messaging';
import { CircuitBreakerRecorder } from '@optex/engine';

/** A webhook receiver on 127.0.0.1 recording each request's idempotency key and body. */
async function receiver(): Promise<{ url: string; requests: { key: string; body: { text: string } }[]; server: Server }> {
  const requests: { key: string; body: { text: string } }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ key: String(req.headers['idempotency-key']), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(200, { connection: 'close' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, requests, server };
}

const serverError = () => Object.assign(new Error('We encountered an internal error'), { name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500 } });

describe('circuit breaker open: recorded in the log and sent to the webhook', () => {
  it('an EC2 breaker that opens is recorded once as CircuitBreakerOpened and notified once to the policy webhook', async () => {
    const store = SqliteEventStore.open(':memory:');
    const hook = await receiver();
    const recorder = new CircuitBreakerRecorder(store, { process: 'executor', clock: { now: () => new Date('2026-03-01T10:00:00.000Z') } });
    let calls = 0;
    const gw = AwsEc2Gateway.create({
      retry: { maxRetries: 0, initialDelayMs: 1, maxDelayMs: 2 },
      breaker: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 },
      onCircuitOpened: recorder.listenerFor('ec2'),
      clientFor: () => ({ send: async () => (calls++, Promise.reject(serverError())), destroy: () => undefined }) as unknown as EC2Client,
    });
    const ref = { accountId: '123456789012', region: 'eu-west-1', id: 'i-1' };
    for (let i = 0; i < 6; i++) await gw.describeInstance(ref).catch(() => undefined);
    expect(calls).toBe(3);
    await recorder.flush();

    const events = (await store.readStream(CIRCUIT_BREAKER_STREAM)).map((e) => parseStoredEvent(e));
    expect(events).toEqual([
      {
        type: 'CircuitBreakerOpened',
        data: { api: 'ec2', accountId: '123456789012', region: 'eu-west-1', consecutiveFailures: 3, halfOpenAfterMs: 60_000, lastError: expect.stringContaining('InternalError'), process: 'executor', at: '2026-03-01T10:00:00.000Z' },
      },
    ]);

    const notifier = new WebhookNotifier(store, { ...defaultPolicy.notifications, webhooks: [{ name: 'oncall', url: hook.url, events: ['circuit-breaker-open'] }] }, { initialDelayMs: 5, maxDelayMs: 20, checkEveryMs: 3_600_000 });
    await notifier.start();
    for (let i = 0; i < 500 && hook.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await notifier.stop();
    expect(hook.requests).toHaveLength(1);
    expect(hook.requests[0]!.key).toBe(`optex:${(await store.readStream(CIRCUIT_BREAKER_STREAM))[0]!.id}`);
    expect(hook.requests[0]!.body.text).toContain('Circuit breaker open: EC2 in 123456789012 / eu-west-1');
    gw.destroy();
    await new Promise((r) => hook.server.close(r));
    await store.close();
  });
});
