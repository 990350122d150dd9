import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ensureBuilt, optex, tempDir } from './support/cli';

jest.setTimeout(120_000);

interface OtlpSpan {
  traceId: string;
  spanId: string;
  name: string;
  kind: number;
}
interface OtlpRequest {
  readonly url: string;
  readonly body: { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
}

/** A local OTLP/HTTP (JSON) receiver on 127.0.0.1: keeps every POST and answers 200. */
async function receiver(): Promise<{ server: Server; url: string; requests: OtlpRequest[] }> {
  const requests: OtlpRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') requests.push({ url: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest['body'] });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const run = (dir: string, env: NodeJS.ProcessEnv) =>
  optex(['run', 'examples/recommendations.json', '--cloud', 'simulated:examples/fleet.json', '--store', `sqlite:${join(dir, 'events.db')}`, '--policy', 'test/fixtures/policy-auto.json', '--json'], { env });

describe('traces over OTLP/HTTP (optex run, the all-in-one process)', () => {
  beforeAll(() => ensureBuilt());

  it('with OTEL_EXPORTER_OTLP_ENDPOINT set, POSTs the spans of the run to <endpoint>/v1/traces: the five services and the EC2 calls', async () => {
    const { server, url, requests } = await receiver();
    try {
      const result = await run(tempDir('trace'), { OTEL_EXPORTER_OTLP_ENDPOINT: url });
      expect(result.code).toBe(0);
      expect(requests.length).toBeGreaterThan(0);
      expect(new Set(requests.map((r) => r.url))).toEqual(new Set(['/v1/traces']));
      const resources = requests.flatMap((r) => r.body.resourceSpans);
      const serviceNames = new Set(resources.map((rs) => rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue));
      expect(serviceNames).toEqual(new Set(['optex']));
      const spans = resources.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans));
      const names = new Set(spans.map((s) => s.name.split(' ')[0]));
      for (const group of ['optex-risk-assessor', 'optex-approval', 'optex-scheduler', 'optex-executor', 'optex-validator', 'EC2']) expect(names).toContain(group);
    } finally {
      server.close();
    }
  });

});
