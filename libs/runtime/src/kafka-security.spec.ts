import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaConfig } from 'kafkajs';
import { InMemoryBus } from '@optex/messaging';
import { UsageError, openBus } from './adapters';
import { configFromEnv } from './service-process';
import { kafkaSecurityFromEnv } from './kafka-security';

// kafkajs's client replaced by one that records its configuration and connects at once: openBus's Kafka settings are
// seen without a broker (kafka-security.int.spec.ts has the real one).
const configs: KafkaConfig[] = [];
jest.mock('kafkajs', () => {
  const actual = jest.requireActual<typeof import('kafkajs')>('kafkajs');
  const client = () => ({
    connect: jest.fn(async () => undefined),
    disconnect: jest.fn(async () => undefined),
    listTopics: jest.fn(async () => []),
    createTopics: jest.fn(async () => true),
  });
  return {
    ...actual,
    Kafka: jest.fn().mockImplementation((config: KafkaConfig) => {
      configs.push(config);
      return { producer: client, admin: client };
    }),
  };
});

// A self-signed CA certificate (public part only), for the PEM checks.
const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBhzCCAS2gAwIBAgIUDpt55hzSSCHEwll9/PkLFutFEC4wCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNb3B0ZXgtc3BlYy1jYTAgFw0yNjEyMDcyMTE4MTlaGA8yMTI2
MTExMzIxMTgxOVowGDEWMBQGA1UEAwwNb3B0ZXgtc3BlYy1jYTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABKaeqQMP2wZSkZAK65lnFEZs5BgQLL//+4Zr65f/VwtS
/xuBfgQQ3hRmw1512JfmP4dzawJ7oFlUWOb2tlpYMgCjUzBRMB0GA1UdDgQWBBSk
VImiz5IhunPN676CxQWIXMBiWTAfBgNVHSMEGDAWgBSkVImiz5IhunPN676CxQWI
XMBiWTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCHsw8NkCZE
BdJrbkZiOuXJJ5qo9dJNlIERdSz/ts59/gIgLxJapXqKX7ZS4TFewv4dH3NEYCGL
0rUbnvNA79x00PM=
-----END CERTIFICATE-----
`;
const PASSWORD = 'Pa55-w0rd!not-to-be-seen';

let dir: string;
const file = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'optex-kafka-security-'));
  configs.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The UsageError `env` is refused with; fails the test when it is accepted or refused otherwise. */
function refusal(env: NodeJS.ProcessEnv): UsageError {
  let thrown: unknown;
  try {
    kafkaSecurityFromEnv(env);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(UsageError);
  expect((thrown as Error).message).not.toContain(PASSWORD);
  return thrown as UsageError;
}

const sasl = { OPTEX_KAFKA_SASL_MECHANISM: 'scram-sha-512', OPTEX_KAFKA_SASL_USERNAME: 'optex' };

describe('kafkaSecurityFromEnv', () => {
  it('is PLAINTEXT without authentication when nothing is set, or set empty', () => {
    expect(kafkaSecurityFromEnv({})).toEqual({});
    expect(kafkaSecurityFromEnv({ OPTEX_KAFKA_TLS: '', OPTEX_KAFKA_TLS_CA_FILE: '', OPTEX_KAFKA_SASL_MECHANISM: '', OPTEX_KAFKA_SASL_USERNAME: '', OPTEX_KAFKA_SASL_PASSWORD: '', OPTEX_KAFKA_SASL_PASSWORD_FILE: '' })).toEqual({});
  });

  it('OPTEX_KAFKA_TLS: true turns TLS on with the default CAs, false leaves it off', () => {
    expect(kafkaSecurityFromEnv({ OPTEX_KAFKA_TLS: 'true' })).toEqual({ ssl: true });
    expect(kafkaSecurityFromEnv({ OPTEX_KAFKA_TLS: 'false' })).toEqual({});
  });

  it.each(['TRUE', 'True', '1', 'yes', 'on', ' true'])('OPTEX_KAFKA_TLS=%p is refused, naming the variable', (raw) => {
    expect(refusal({ OPTEX_KAFKA_TLS: raw }).message).toBe(`OPTEX_KAFKA_TLS must be true or false, got ${JSON.stringify(raw)}`);
  });

  it('OPTEX_KAFKA_TLS_CA_FILE: its PEM is the CA to trust, and it turns TLS on (with or without OPTEX_KAFKA_TLS=true)', () => {
    const ca = file('ca.pem', CA_PEM);
    expect(kafkaSecurityFromEnv({ OPTEX_KAFKA_TLS_CA_FILE: ca })).toEqual({ ssl: { ca: [CA_PEM] } });
    expect(kafkaSecurityFromEnv({ OPTEX_KAFKA_TLS: 'true', OPTEX_KAFKA_TLS_CA_FILE: ca })).toEqual({ ssl: { ca: [CA_PEM] } });
    const bundle = file('bundle.pem', `# two CAs\n${CA_PEM}${CA_PEM}`);
    expect(kafkaSecurityFromEnv({ OPTEX_KAFKA_TLS_CA_FILE: bundle })).toEqual({ ssl: { ca: [`# two CAs\n${CA_PEM}${CA_PEM}`] } });
  });

  it('OPTEX_KAFKA_TLS_CA_FILE: a missing, unreadable, empty, non-PEM or damaged file is refused, naming the variable', () => {
    const missing = join(dir, 'nope.pem');
    expect(refusal({ OPTEX_KAFKA_TLS_CA_FILE: missing }).message).toBe(`OPTEX_KAFKA_TLS_CA_FILE: cannot read ${missing}: ENOENT`);
    expect(refusal({ OPTEX_KAFKA_TLS_CA_FILE: dir }).message).toBe(`OPTEX_KAFKA_TLS_CA_FILE: cannot read ${dir}: EISDIR`);
    if (process.getuid?.() !== 0) {
      const locked = file('locked.pem', CA_PEM);
      chmodSync(locked, 0o000);
      expect(refusal({ OPTEX_KAFKA_TLS_CA_FILE: locked }).message).toBe(`OPTEX_KAFKA_TLS_CA_FILE: cannot read ${locked}: EACCES`);
    }
    for (const content of ['', 'not a certificate\n', '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n']) {
      const path = file('bad.pem', content);
      expect(refusal({ OPTEX_KAFKA_TLS_CA_FILE: path }).message).toBe(`OPTEX_KAFKA_TLS_CA_FILE: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    }
    const damaged = file('damaged.pem', CA_PEM.replace('MIIBhzCCAS2gAwIBAgIU', 'MIIBhzCCAS2gAwIBAgIV').replace('0rUbnvNA79x00PM=', '0rUbnvNA79x0'));
    expect(refusal({ OPTEX_KAFKA_TLS_CA_FILE: damaged }).message).toMatch(new RegExp(`^OPTEX_KAFKA_TLS_CA_FILE: certificate 1 of ${damaged} is not a valid PEM certificate: `));
  });

  it('OPTEX_KAFKA_TLS_CA_FILE with OPTEX_KAFKA_TLS=false is a contradiction, refused', () => {
    expect(refusal({ OPTEX_KAFKA_TLS: 'false', OPTEX_KAFKA_TLS_CA_FILE: file('ca.pem', CA_PEM) }).message).toBe('OPTEX_KAFKA_TLS_CA_FILE turns TLS on, but OPTEX_KAFKA_TLS is false: unset one of them');
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('OPTEX_KAFKA_SASL_MECHANISM=%s with a username and a password', (mechanism) => {
    expect(kafkaSecurityFromEnv({ OPTEX_KAFKA_SASL_MECHANISM: mechanism, OPTEX_KAFKA_SASL_USERNAME: 'optex', OPTEX_KAFKA_SASL_PASSWORD: PASSWORD })).toEqual({ sasl: { mechanism, username: 'optex', password: PASSWORD } });
    expect(kafkaSecurityFromEnv({ OPTEX_KAFKA_TLS: 'true', OPTEX_KAFKA_SASL_MECHANISM: mechanism, OPTEX_KAFKA_SASL_USERNAME: 'optex', OPTEX_KAFKA_SASL_PASSWORD: PASSWORD })).toEqual({ ssl: true, sasl: { mechanism, username: 'optex', password: PASSWORD } });
  });

  it.each(['PLAIN', 'SCRAM-SHA-256', 'scram-sha-1', 'gssapi', 'oauthbearer', 'aws'])('OPTEX_KAFKA_SASL_MECHANISM=%p is refused, naming the variable', (mechanism) => {
    expect(refusal({ ...sasl, OPTEX_KAFKA_SASL_MECHANISM: mechanism, OPTEX_KAFKA_SASL_PASSWORD: PASSWORD }).message).toBe(`OPTEX_KAFKA_SASL_MECHANISM must be one of plain, scram-sha-256, scram-sha-512, got ${JSON.stringify(mechanism)}`);
  });

  it('OPTEX_KAFKA_SASL_PASSWORD_FILE: the password is the file content without its trailing newline', () => {
    for (const [content, password] of [
      [`${PASSWORD}\n`, PASSWORD],
      [`${PASSWORD}\r\n`, PASSWORD],
      [PASSWORD, PASSWORD],
      [` ${PASSWORD} \n`, ` ${PASSWORD} `],
    ]) {
      const path = file('password', content!);
      expect(kafkaSecurityFromEnv({ ...sasl, OPTEX_KAFKA_SASL_PASSWORD_FILE: path })).toEqual({ sasl: { mechanism: 'scram-sha-512', username: 'optex', password } });
    }
  });

  it('OPTEX_KAFKA_SASL_PASSWORD_FILE: a missing, unreadable or empty file is refused, naming the variable and not the content', () => {
    const missing = join(dir, 'nope');
    expect(refusal({ ...sasl, OPTEX_KAFKA_SASL_PASSWORD_FILE: missing }).message).toBe(`OPTEX_KAFKA_SASL_PASSWORD_FILE: cannot read ${missing}: ENOENT`);
    expect(refusal({ ...sasl, OPTEX_KAFKA_SASL_PASSWORD_FILE: dir }).message).toBe(`OPTEX_KAFKA_SASL_PASSWORD_FILE: cannot read ${dir}: EISDIR`);
    if (process.getuid?.() !== 0) {
      const locked = file('locked', PASSWORD);
      chmodSync(locked, 0o000);
      expect(refusal({ ...sasl, OPTEX_KAFKA_SASL_PASSWORD_FILE: locked }).message).toBe(`OPTEX_KAFKA_SASL_PASSWORD_FILE: cannot read ${locked}: EACCES`);
    }
    for (const content of ['', '\n']) {
      const empty = file('empty', content);
      expect(refusal({ ...sasl, OPTEX_KAFKA_SASL_PASSWORD_FILE: empty }).message).toBe(`OPTEX_KAFKA_SASL_PASSWORD_FILE: ${empty} is empty`);
    }
  });

  it('a mechanism needs a username and exactly one of the password and the password file', () => {
    expect(refusal({ OPTEX_KAFKA_SASL_MECHANISM: 'plain', OPTEX_KAFKA_SASL_PASSWORD: PASSWORD }).message).toBe('OPTEX_KAFKA_SASL_USERNAME is required with OPTEX_KAFKA_SASL_MECHANISM=plain');
    expect(refusal({ ...sasl }).message).toBe('OPTEX_KAFKA_SASL_PASSWORD or OPTEX_KAFKA_SASL_PASSWORD_FILE is required with OPTEX_KAFKA_SASL_MECHANISM=scram-sha-512');
    expect(refusal({ ...sasl, OPTEX_KAFKA_SASL_PASSWORD: PASSWORD, OPTEX_KAFKA_SASL_PASSWORD_FILE: file('password', PASSWORD) }).message).toBe(
      'OPTEX_KAFKA_SASL_PASSWORD and OPTEX_KAFKA_SASL_PASSWORD_FILE are both set: set only one',
    );
  });

  it('a username, password or password file without a mechanism is refused, naming them and not the password', () => {
    expect(refusal({ OPTEX_KAFKA_SASL_USERNAME: 'optex' }).message).toBe('OPTEX_KAFKA_SASL_USERNAME is set but OPTEX_KAFKA_SASL_MECHANISM is not: set it to one of plain, scram-sha-256, scram-sha-512');
    expect(refusal({ OPTEX_KAFKA_SASL_USERNAME: 'optex', OPTEX_KAFKA_SASL_PASSWORD: PASSWORD }).message).toBe(
      'OPTEX_KAFKA_SASL_USERNAME, OPTEX_KAFKA_SASL_PASSWORD are set but OPTEX_KAFKA_SASL_MECHANISM is not: set it to one of plain, scram-sha-256, scram-sha-512',
    );
    expect(refusal({ OPTEX_KAFKA_SASL_PASSWORD_FILE: join(dir, 'password') }).message).toBe('OPTEX_KAFKA_SASL_PASSWORD_FILE is set but OPTEX_KAFKA_SASL_MECHANISM is not: set it to one of plain, scram-sha-256, scram-sha-512');
  });

  it('never puts the password in an error, whichever variable is at fault', () => {
    const withPassword = { OPTEX_KAFKA_SASL_PASSWORD: PASSWORD };
    for (const env of [
      { ...withPassword, OPTEX_KAFKA_TLS: 'yes' },
      { ...withPassword, OPTEX_KAFKA_TLS_CA_FILE: join(dir, 'nope.pem') },
      { ...withPassword, OPTEX_KAFKA_SASL_MECHANISM: 'digest' },
      { ...withPassword, OPTEX_KAFKA_SASL_MECHANISM: 'plain' },
      { ...withPassword },
      { ...sasl, OPTEX_KAFKA_SASL_PASSWORD_FILE: file('p', PASSWORD), ...withPassword },
    ]) {
      refusal(env);
    }
  });
});

describe('openBus applies the Kafka TLS and SASL settings of the environment', () => {
  it('hands TLS (the CA file read) and SASL to kafkajs for a kafka:// bus', async () => {
    const env = { OPTEX_KAFKA_TLS_CA_FILE: file('ca.pem', CA_PEM), OPTEX_KAFKA_SASL_MECHANISM: 'scram-sha-256', OPTEX_KAFKA_SASL_USERNAME: 'optex', OPTEX_KAFKA_SASL_PASSWORD_FILE: file('password', `${PASSWORD}\n`) };
    const bus = await openBus('kafka://broker-1:9096,broker-2:9096', 'spec', 3, undefined, { env });
    await bus.close();
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({ brokers: ['broker-1:9096', 'broker-2:9096'], ssl: { ca: [CA_PEM] }, sasl: { mechanism: 'scram-sha-256', username: 'optex', password: PASSWORD } });
  });

  it('reads process.env when given no env', async () => {
    const saved = process.env['OPTEX_KAFKA_TLS'];
    try {
      process.env['OPTEX_KAFKA_TLS'] = 'true';
      const bus = await openBus('kafka://broker-1:9096', 'spec');
      await bus.close();
    } finally {
      if (saved === undefined) delete process.env['OPTEX_KAFKA_TLS'];
      else process.env['OPTEX_KAFKA_TLS'] = saved;
    }
    expect(configs[0]).toMatchObject({ ssl: true });
  });

  it('refuses a bad setting with a UsageError naming its variable before connecting', async () => {
    await expect(openBus('kafka://broker-1:9096', 'spec', 3, undefined, { env: { OPTEX_KAFKA_SASL_MECHANISM: 'plain', OPTEX_KAFKA_SASL_USERNAME: 'optex' } })).rejects.toThrow(
      new UsageError('OPTEX_KAFKA_SASL_PASSWORD or OPTEX_KAFKA_SASL_PASSWORD_FILE is required with OPTEX_KAFKA_SASL_MECHANISM=plain'),
    );
    expect(configs).toEqual([]);
  });

  it('reads none of them for a memory bus', async () => {
    const bus = await openBus('memory', 'spec', 3, undefined, { env: { OPTEX_KAFKA_TLS: 'maybe' } });
    expect(bus).toBeInstanceOf(InMemoryBus);
    await bus.close();
  });
});

describe('configFromEnv checks the Kafka TLS and SASL settings of a service with a Kafka bus', () => {
  it('refuses a bad one, naming its variable', () => {
    expect(() => configFromEnv('executor', { OPTEX_BUS: 'kafka://broker-1:9096', OPTEX_KAFKA_TLS: 'yes' })).toThrow(new UsageError('OPTEX_KAFKA_TLS must be true or false, got "yes"'));
    expect(() => configFromEnv('executor', { OPTEX_KAFKA_SASL_USERNAME: 'optex' })).toThrow(UsageError);
  });

  it('accepts good ones, and ignores them with a memory bus', () => {
    expect(() => configFromEnv('executor', { OPTEX_BUS: 'kafka://broker-1:9096', OPTEX_KAFKA_SASL_MECHANISM: 'plain', OPTEX_KAFKA_SASL_USERNAME: 'u', OPTEX_KAFKA_SASL_PASSWORD: PASSWORD })).not.toThrow();
    expect(() => configFromEnv('executor', { OPTEX_BUS: 'memory', OPTEX_KAFKA_TLS: 'yes' })).not.toThrow();
  });
});
