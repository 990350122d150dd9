import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { defaultIntakeLimits } from '@optex/domain';
import { AccessRefusedError } from '@optex/ports';
import { startEsdbEmulator } from '@optex/testing';
import { configFromEnv, runServiceProcess } from './service-process';

jest.setTimeout(30_000);

describe('service process configuration from the environment', () => {
  it('has defaults for everything, and the risk-assessor runs the relay', () => {
    expect(configFromEnv('risk-assessor', {})).toMatchObject({
      bus: 'kafka://127.0.0.1:9092',
      cloud: 'aws',
      partitions: 3,
      httpHost: '127.0.0.1',
      httpPort: 8080,
      relay: true,
      batchMode: 'parallel',
      maxParallel: 4,
      maxAttempts: 5,
      ec2CallDelayMs: 0,
      intakeLimits: defaultIntakeLimits,
      heapGrowthPercent: 50,
    });
    expect(configFromEnv('executor', {}).relay).toBe(false);
  });

  it('reads every variable', () => {
    const config = configFromEnv('scheduler', {
      OPTEX_STORE: 'esdb://es:2113?tls=false',
      OPTEX_BUS: 'kafka://k:9092',
      OPTEX_CLOUD: 'aws:http://moto:5000',
      OPTEX_POLICY: '/etc/optex/policy.json',
      OPTEX_PARTITIONS: '12',
      OPTEX_HTTP_HOST: '0.0.0.0',
      OPTEX_HTTP_PORT: '9100',
      OPTEX_RELAY: 'true',
      OPTEX_LOG_LEVEL: 'debug',
      OPTEX_BATCH_MODE: 'region-grouped',
      OPTEX_MAX_PARALLEL: '8',
      OPTEX_BATCH_WINDOW_MS: '250',
      OPTEX_BATCH_QUIET_MS: '0',
      OPTEX_MAX_ATTEMPTS: '7',
      OPTEX_WAIT_TIMEOUT_MS: '60000',
      OPTEX_EC2_CALL_DELAY_MS: '150',
      OPTEX_KAFKA_SESSION_TIMEOUT_MS: '10000',
      OPTEX_KAFKA_TLS: 'true',
      OPTEX_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      OPTEX_KAFKA_SASL_USERNAME: 'optex',
      OPTEX_KAFKA_SASL_PASSWORD: 'the-password',
      OPTEX_MAX_RECORD_BYTES: '4096',
      OPTEX_MAX_STRING_LENGTH: '256',
      OPTEX_MAX_DEPTH: '6',
      OPTEX_MAX_TAGS: '10',
      OPTEX_HEAP_GROWTH_PERCENT: '150',
    });
    expect(config).toEqual({
      store: 'esdb://es:2113?tls=false',
      bus: 'kafka://k:9092',
      cloud: 'aws:http://moto:5000',
      policy: '/etc/optex/policy.json',
      partitions: 12,
      httpHost: '0.0.0.0',
      httpPort: 9100,
      relay: true,
      logLevel: 'debug',
      batchMode: 'region-grouped',
      maxParallel: 8,
      batchWindowMs: 250,
      batchQuietMs: 0,
      maxAttempts: 7,
      waitTimeoutMs: 60000,
      ec2CallDelayMs: 150,
      kafkaSessionTimeoutMs: 10000,
      kafkaSecurity: { ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'optex', password: 'the-password' } },
      intakeLimits: { maxRecordBytes: 4096, maxStringLength: 256, maxDepth: 6, maxTags: 10, maxFileBytes: defaultIntakeLimits.maxFileBytes },
      heapGrowthPercent: 150,
    });
    expect(configFromEnv('executor', { OPTEX_HEAP_GROWTH_PERCENT: 'v8' }).heapGrowthPercent).toBeUndefined();
    // A memory bus reads no Kafka setting; a Kafka one without any connects as it is (no TLS, no login).
    expect(configFromEnv('executor', { OPTEX_BUS: 'memory', OPTEX_KAFKA_TLS: 'true' }).kafkaSecurity).toBeUndefined();
    expect(configFromEnv('executor', { OPTEX_BUS: 'kafka://k:9092' }).kafkaSecurity).toEqual({});
  });

  it.each([
    ['OPTEX_PARTITIONS', '0', /OPTEX_PARTITIONS must be a whole number ≥ 1/],
    ['OPTEX_HTTP_PORT', 'eighty', /OPTEX_HTTP_PORT/],
    ['OPTEX_BATCH_MODE', 'random', /OPTEX_BATCH_MODE must be one of/],
    ['OPTEX_MAX_PARALLEL', '1.5', /OPTEX_MAX_PARALLEL/],
    ['OPTEX_BATCH_WINDOW_MS', '0', /OPTEX_BATCH_WINDOW_MS must be a whole number ≥ 1, got "0"/],
    ['OPTEX_BATCH_QUIET_MS', '-5', /OPTEX_BATCH_QUIET_MS must be a whole number ≥ 0, got "-5"/],
    ['OPTEX_KAFKA_SESSION_TIMEOUT_MS', '100', /OPTEX_KAFKA_SESSION_TIMEOUT_MS must be a whole number ≥ 6000/],
    ['OPTEX_MAX_DEPTH', '0', /OPTEX_MAX_DEPTH must be a whole number ≥ 1, got "0"/],
    ['OPTEX_MAX_RECORD_BYTES', '64k', /OPTEX_MAX_RECORD_BYTES must be a whole number ≥ 1, got "64k"/],
    ['OPTEX_HEAP_GROWTH_PERCENT', '5', /OPTEX_HEAP_GROWTH_PERCENT must be an integer from 10 to 1000, or v8 \(V8's own policy\), got "5"/],
  ])('rejects %s=%s naming the variable', (name, value, message) => {
    expect(() => configFromEnv('approval', { [name]: value })).toThrow(message);
  });

  describe('OPTEX_RELAY', () => {
    it('is true or false, unset or empty meaning the default (the risk-assessor runs the relay)', () => {
      expect(configFromEnv('executor', { OPTEX_RELAY: 'true' }).relay).toBe(true);
      expect(configFromEnv('risk-assessor', { OPTEX_RELAY: 'false' }).relay).toBe(false);
      expect(configFromEnv('risk-assessor', { OPTEX_RELAY: '' }).relay).toBe(true);
      expect(configFromEnv('executor', { OPTEX_RELAY: '' }).relay).toBe(false);
    });

    it.each(['1', '0', 'TRUE', 'True', 'yes', 'on', 'no', ' true', 'false '])('refuses %j instead of reading it as false', (value) => {
      expect(() => configFromEnv('executor', { OPTEX_RELAY: value })).toThrow(`OPTEX_RELAY must be true or false, got ${JSON.stringify(value)}`);
    });
  });

  it.each([
    ['OPTEX_BUS', 'notaurl', 'OPTEX_BUS: expected memory or kafka://host:port[,host:port], got "notaurl"'],
    ['OPTEX_BUS', 'kafka://', 'OPTEX_BUS: expected memory or kafka://host:port[,host:port], got "kafka://"'],
    ['OPTEX_BUS', 'kafka://127.0.0.1:notaport', 'OPTEX_BUS: expected memory or kafka://host:port[,host:port], got "kafka://127.0.0.1:notaport"'],
    ['OPTEX_BUS', 'kafka://k:9092,k2', 'OPTEX_BUS: expected memory or kafka://host:port[,host:port], got "kafka://k:9092,k2"'],
    ['OPTEX_BUS', 'kafka://k:70000', 'OPTEX_BUS: expected memory or kafka://host:port[,host:port], got "kafka://k:70000"'],
    ['OPTEX_CLOUD', 'gcp', 'OPTEX_CLOUD: expected simulated:FLEET.json, aws or aws:ENDPOINT, got "gcp"'],
    ['OPTEX_CLOUD', 'aws:moto:5000', 'OPTEX_CLOUD: aws:ENDPOINT needs an http(s) url, got "moto:5000"'],
    ['OPTEX_CLOUD', 'simulated:', 'OPTEX_CLOUD: simulated: needs a fleet file'],
    ['OPTEX_LOG_LEVEL', 'loud', 'OPTEX_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    ['OPTEX_LOG_LEVEL', 'INFO', 'OPTEX_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "INFO"'],
    ['OPTEX_HTTP_PORT', '99999', 'OPTEX_HTTP_PORT must be a whole number from 0 to 65535, got "99999"'],
    ['OPTEX_HTTP_PORT', '65536', 'OPTEX_HTTP_PORT must be a whole number from 0 to 65535, got "65536"'],
    ['OPTEX_HTTP_PORT', '8e3', 'OPTEX_HTTP_PORT must be a whole number from 0 to 65535, got "8e3"'],
    ['OPTEX_PARTITIONS', '0x10', 'OPTEX_PARTITIONS must be a whole number ≥ 1, got "0x10"'],
    ['OPTEX_MAX_PARALLEL', '1e3', 'OPTEX_MAX_PARALLEL must be a whole number ≥ 1, got "1e3"'],
    ['OPTEX_MAX_ATTEMPTS', '5.0', 'OPTEX_MAX_ATTEMPTS must be a whole number ≥ 1, got "5.0"'],
    ['OPTEX_WAIT_TIMEOUT_MS', '0x10', 'OPTEX_WAIT_TIMEOUT_MS must be a whole number ≥ 1, got "0x10"'],
    ['OPTEX_SWEEP_EVERY_MS', '1e3', 'OPTEX_SWEEP_EVERY_MS must be a whole number ≥ 0, got "1e3"'],
    ['OPTEX_RESUME_WATCH_MS', '5s', 'OPTEX_RESUME_WATCH_MS must be a whole number ≥ 0, got "5s"'],
    ['OPTEX_EC2_CALL_DELAY_MS', '+5', 'OPTEX_EC2_CALL_DELAY_MS must be a whole number ≥ 0, got "+5"'],
  ])('rejects %s=%s with a message naming the variable', (name, value, message) => {
    expect(() => configFromEnv('approval', { [name]: value })).toThrow(message);
  });

  it('takes HTTP ports 0 (the system picks one, as stack up does) to 65535, and a log level', () => {
    expect(configFromEnv('approval', { OPTEX_HTTP_PORT: '0' }).httpPort).toBe(0);
    expect(configFromEnv('approval', { OPTEX_HTTP_PORT: '65535' }).httpPort).toBe(65535);
    expect(configFromEnv('approval', {}).logLevel).toBe('info');
    expect(configFromEnv('approval', { OPTEX_LOG_LEVEL: '' }).logLevel).toBe('info');
    expect(configFromEnv('approval', { OPTEX_LOG_LEVEL: 'silent' }).logLevel).toBe('silent');
    expect(configFromEnv('approval', { OPTEX_BUS: 'kafka://a:1,[::1]:9092' }).bus).toBe('kafka://a:1,[::1]:9092');
  });
});

describe('OPTEX_RESUME_WATCH_MS', () => {
  it("reaches the config as the executor's resumeWatchMs (0: only a delivered resume drives); unset, the engine's default (5 s) holds", () => {
    expect(configFromEnv('executor', { OPTEX_RESUME_WATCH_MS: '1000' }).resumeWatchMs).toBe(1000);
    expect(configFromEnv('executor', { OPTEX_RESUME_WATCH_MS: '0' }).resumeWatchMs).toBe(0);
    expect(configFromEnv('executor', {})).not.toHaveProperty('resumeWatchMs');
  });
});

describe('OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS', () => {
  it("reaches the config as the executor's reconcileLookupTimeoutMs; unset or empty, the engine's default (15 min) holds", () => {
    expect(configFromEnv('executor', { OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS: '120000' }).reconcileLookupTimeoutMs).toBe(120_000);
    expect(configFromEnv('executor', { OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS: '1' }).reconcileLookupTimeoutMs).toBe(1);
    expect(configFromEnv('executor', {})).not.toHaveProperty('reconcileLookupTimeoutMs');
    expect(configFromEnv('executor', { OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS: '' })).not.toHaveProperty('reconcileLookupTimeoutMs');
  });

  it.each(['abc', '0', '-1', '1.5', '1e3', '0x10', '15m'])('refuses %j, naming the variable', (value) => {
    expect(() => configFromEnv('executor', { OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS: value })).toThrow(`OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS must be a whole number ≥ 1, got ${JSON.stringify(value)}`);
  });
});

/** Lines written to it, as text. */
class Lines extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
  get lines(): string[] {
    return this.text.split('\n').filter((l) => l.length > 0);
  }
}

/** Occurrences of `"key":` in a JSON line (pino writes a key bound twice twice). */
const keyCount = (line: string, key: string): number => line.split(`"${key}":`).length - 1;

describe('runServiceProcess', () => {
  /** Everything in memory: nothing outside this process is touched. */
  const base = {
    OPTEX_STORE: 'memory:',
    OPTEX_BUS: 'memory',
    OPTEX_CLOUD: `simulated:${join(__dirname, '../../../examples/fleet.json')}`,
    OPTEX_HTTP_HOST: '127.0.0.1',
    OPTEX_HTTP_PORT: '0',
    OPTEX_HEAP_GROWTH_PERCENT: 'v8',
    OPTEX_LOG_LEVEL: 'info',
  };
  let blocker: Server | undefined;
  afterEach(async () => {
    process.exitCode = undefined;
    await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
    blocker = undefined;
  });

  async function badConfiguration(env: Record<string, string>): Promise<string> {
    const out = new Lines();
    const started = Date.now();
    const running = await runServiceProcess('executor', { env: { ...base, ...env }, stdout: out });
    expect(running).toBeUndefined();
    expect(process.exitCode).toBe(2);
    expect(out.lines).toHaveLength(1);
    const line = JSON.parse(out.lines[0]!) as { msg: string; err: string; service: string };
    expect(line).toMatchObject({ msg: 'bad configuration', service: 'executor' });
    expect(keyCount(out.lines[0]!, 'service')).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    return line.err;
  }

  it.each([
    [{ OPTEX_RELAY: '1' }, 'OPTEX_RELAY must be true or false, got "1"'],
    [{ OPTEX_RELAY: 'TRUE' }, 'OPTEX_RELAY must be true or false, got "TRUE"'],
    [{ OPTEX_STORE: 'foo:bar' }, 'OPTEX_STORE: unsupported event store url "foo:bar"'],
    [{ OPTEX_STORE: 'esdb://a:b:c' }, 'OPTEX_STORE: invalid EventStoreDB connection string'],
    // the password of a connection string is not written into the log
    [{ OPTEX_STORE: 'esdb://admin:s3cret@a:b:c' }, 'OPTEX_STORE: invalid EventStoreDB connection string "esdb://***@a:b:c"'],
    [{ OPTEX_BUS: 'notaurl' }, 'OPTEX_BUS: expected memory or kafka://host:port[,host:port], got "notaurl"'],
    [{ OPTEX_CLOUD: 'gcp' }, 'OPTEX_CLOUD: expected simulated:FLEET.json, aws or aws:ENDPOINT, got "gcp"'],
    [{ OPTEX_CLOUD: 'simulated:/nonexistent/fleet.json' }, 'OPTEX_CLOUD: '],
    [{ OPTEX_POLICY: '/nonexistent.json' }, 'OPTEX_POLICY: cannot read /nonexistent.json: ENOENT'],
    [{ OPTEX_LOG_LEVEL: 'loud' }, 'OPTEX_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ OPTEX_HTTP_PORT: '99999' }, 'OPTEX_HTTP_PORT must be a whole number from 0 to 65535, got "99999"'],
    [{ OPTEX_HTTP_PORT: '0x50' }, 'OPTEX_HTTP_PORT must be a whole number from 0 to 65535, got "0x50"'],
  ])('refuses %j: one "bad configuration" line naming the variable, exit code 2', async (env, message) => {
    const err = await badConfiguration(env);
    expect(err.startsWith(message)).toBe(true);
    expect(err).not.toMatch(/--(store|bus|cloud|policy)\b/);
    expect(err).not.toContain('s3cret');
  });

  it('fails at once, without start-up retries, when the store refuses access (an operator must act; a retry would not help)', async () => {
    const emulator = await startEsdbEmulator();
    emulator.denyAccess(true);
    const out = new Lines();
    const started = Date.now();
    try {
      const error = await runServiceProcess('executor', { env: { ...base, OPTEX_STORE: emulator.url, OPTEX_RELAY: 'true' }, stdout: out }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AccessRefusedError);
      expect((error as Error).message).toMatch(/^EventStoreDB .* refused \(access denied\)/);
    } finally {
      await emulator.stop();
    }
    expect(out.lines.filter((l) => l.includes('retrying start-up'))).toEqual([]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('refuses an HTTP port in use, naming OPTEX_HTTP_PORT and the port, before it connects to Kafka', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const { port } = blocker.address() as { port: number };
    // No broker listens on port 1: reaching for Kafka would mean a minute of "infrastructure not ready" retries.
    const err = await badConfiguration({ OPTEX_HTTP_PORT: String(port), OPTEX_BUS: 'kafka://127.0.0.1:1' });
    expect(err).toBe(`OPTEX_HTTP_PORT: port ${port} on 127.0.0.1 is already in use (EADDRINUSE)`);
  });

  it('refuses a host it cannot listen on, naming OPTEX_HTTP_HOST, before it connects to Kafka', async () => {
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is no address of this machine.
    for (const port of ['0', '8080']) {
      const err = await badConfiguration({ OPTEX_HTTP_HOST: '192.0.2.1', OPTEX_HTTP_PORT: port, OPTEX_BUS: 'kafka://127.0.0.1:1' });
      expect(err).toBe('OPTEX_HTTP_HOST: cannot listen on "192.0.2.1" (EADDRNOTAVAIL)');
      process.exitCode = undefined;
    }
  });

  it.each([
    ['an ephemeral port (0)', false],
    ['a given port', true],
  ])('starts on %s; its log lines carry each key once', async (_name, fixed) => {
    let wanted = 0;
    if (fixed) {
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen({ host: '127.0.0.1', port: 0 }, resolve));
      wanted = (probe.address() as { port: number }).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    }
    const out = new Lines();
    const running = await runServiceProcess('executor', { env: { ...base, OPTEX_HTTP_PORT: String(wanted), OPTEX_RELAY: 'false' }, stdout: out });
    try {
      expect(running).toBeDefined();
      expect(process.exitCode).toBeUndefined();
      if (fixed) expect(running!.port).toBe(wanted);
      else expect(running!.port).toBeGreaterThan(0);
      const ready = out.lines.find((l) => l.includes('"msg":"service ready"'));
      expect(ready).toBeDefined();
      expect(JSON.parse(ready!)).toMatchObject({ service: 'executor', port: running!.port, relay: false });
      for (const line of out.lines) expect({ line, service: keyCount(line, 'service'), component: Math.min(keyCount(line, 'component'), 1) }).toEqual({ line, service: line.startsWith('{"ready"') ? 0 : 1, component: keyCount(line, 'component') });
      expect(out.lines).toContain(JSON.stringify({ ready: 'executor', pid: process.pid, port: running!.port }));
      const live = await fetch(`http://127.0.0.1:${running!.port}/live`);
      expect([live.status, await live.json()]).toEqual([200, expect.objectContaining({ status: 'ok', service: 'executor' })]);
      // Node's process metrics, to watch memory against the container's limit
      expect(await (await fetch(`http://127.0.0.1:${running!.port}/metrics`)).text()).toMatch(/^optex_process_resident_memory_bytes \d+/m);
    } finally {
      await running?.stop();
    }
  });
});
