import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One EC2 API request that went through the proxy. */
export interface CountedRequest {
  /** The query API's `Action` (e.g. `CreateSnapshot`). */
  readonly action: string;
  readonly dryRun: boolean;
  /** The answer's HTTP status. */
  readonly status: number;
  /** The request's parameters (form fields), e.g. `VolumeId`. */
  readonly params: Readonly<Record<string, string>>;
}

export interface CountingProxy {
  /** `http://127.0.0.1:PORT`: point an EC2 client (or optex's `--cloud aws:URL`) here. */
  readonly endpoint: string;
  /** Every request so far, in order. */
  requests(): readonly CountedRequest[];
  /** How many requests of `action` succeeded (2xx) and were not dry runs. */
  made(action: string, where?: (params: Readonly<Record<string, string>>) => boolean): number;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy on a free loopback port in front of an EC2 endpoint (moto): forwards every request unchanged and
 * records its `Action`, `DryRun` and answer, so tests can count the mutating calls optex made (moto keeps no
 * call log of its own).
 */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const log: CountedRequest[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const params = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (answer) => {
          log.push({ action: params['Action'] ?? '(none)', dryRun: params['DryRun'] === 'true', status: answer.statusCode ?? 0, params });
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests: () => [...log],
    made: (action, where) => log.filter((r) => r.action === action && !r.dryRun && r.status >= 200 && r.status < 300 && (!where || where(r.params))).length,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
