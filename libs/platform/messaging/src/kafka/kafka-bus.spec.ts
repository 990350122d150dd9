import type { KafkaConfig } from 'kafkajs';
import type { Logger } from '@optex/ports';
import { KafkaBus, type KafkaBusOptions } from './kafka-bus';

// kafkajs's client replaced by one that records the configuration it was built with and connects at once, so that what
// KafkaBus.connect hands to kafkajs (TLS, SASL) is seen without a broker. The real broker is in kafka-security.int.spec.ts
// (libs/runtime) for SASL; TLS against a broker is not tested.
const configs: KafkaConfig[] = [];
jest.mock('kafkajs', () => {
  const actual = jest.requireActual<typeof import('kafkajs')>('kafkajs');
  const client = () => ({ connect: jest.fn(async () => undefined), disconnect: jest.fn(async () => undefined) });
  return {
    ...actual,
    Kafka: jest.fn().mockImplementation((config: KafkaConfig) => {
      configs.push(config);
      return { producer: client, admin: client };
    }),
  };
});

/** A logger keeping every line (level, bound fields, fields, message). */
function recordingLogger(): { logger: Logger; lines: { level: string; bound: Record<string, unknown>; fields: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; bound: Record<string, unknown>; fields: Record<string, unknown>; msg: string }[] = [];
  const make = (bound: Record<string, unknown>): Logger => {
    const at =
      (level: string) =>
      (fields: Record<string, unknown>, msg: string): void => {
        lines.push({ level, bound, fields, msg });
      };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more: Record<string, unknown>) => make({ ...bound, ...more }) } as unknown as Logger;
  };
  return { logger: make({}), lines };
}

const connect = async (extra: Partial<KafkaBusOptions>): Promise<KafkaConfig> => {
  configs.length = 0;
  const bus = await KafkaBus.connect({ brokers: 'broker-1:9093', clientId: 'spec', ...extra });
  await bus.close();
  expect(configs).toHaveLength(1);
  return configs[0]!;
};

describe('KafkaBus.connect: TLS and SASL reach kafkajs', () => {
  it('connects in PLAINTEXT without authentication by default (no ssl, no sasl in the kafkajs config)', async () => {
    const config = await connect({});
    expect(config.brokers).toEqual(['broker-1:9093']);
    expect(config).not.toHaveProperty('ssl');
    expect(config).not.toHaveProperty('sasl');
  });

  it('passes ssl: true, and tls options such as the CA, as kafkajs ssl', async () => {
    expect((await connect({ ssl: true })).ssl).toBe(true);
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    expect((await connect({ ssl: { ca: [ca] } })).ssl).toEqual({ ca: [ca] });
    expect(await connect({ ssl: false })).not.toHaveProperty('ssl');
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('passes SASL %s credentials as kafkajs sasl', async (mechanism) => {
    const config = await connect({ ssl: true, sasl: { mechanism, username: 'optex', password: 's3cret' } });
    expect(config.sasl).toEqual({ mechanism, username: 'optex', password: 's3cret' });
    expect(config.ssl).toBe(true);
  });

  it('warns once, without the password, when SASL PLAIN is used without TLS; not with TLS or with SCRAM', async () => {
    const plain = recordingLogger();
    await connect({ logger: plain.logger, sasl: { mechanism: 'plain', username: 'optex', password: 'pw-in-clear' } });
    const warnings = plain.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ bound: { component: 'kafka-bus' }, fields: { sasl: 'plain', tls: false } });
    expect(warnings[0]!.msg).toMatch(/SASL PLAIN without TLS: the password crosses the network in clear text/);
    expect(JSON.stringify(plain.lines)).not.toContain('pw-in-clear');

    for (const extra of [
      { ssl: true, sasl: { mechanism: 'plain', username: 'optex', password: 'pw' } },
      { sasl: { mechanism: 'scram-sha-512', username: 'optex', password: 'pw' } },
      {},
    ] as const) {
      const quiet = recordingLogger();
      await connect({ logger: quiet.logger, ...extra });
      expect(quiet.lines.filter((l) => l.level === 'warn')).toEqual([]);
    }
  });

  it('refuses a bad mechanism, an empty username or password before connecting, never showing the password', async () => {
    const refused = async (sasl: unknown): Promise<string> => {
      configs.length = 0;
      const error = await KafkaBus.connect({ brokers: 'b:1', clientId: 'spec', sasl: sasl as KafkaBusOptions['sasl'] }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error).toBeInstanceOf(Error);
      expect(configs).toEqual([]);
      return error!.message;
    };
    expect(await refused({ mechanism: 'gssapi', username: 'u', password: 'hunter2' })).toBe('KafkaBus.connect: sasl.mechanism must be one of plain, scram-sha-256, scram-sha-512, got "gssapi"');
    expect(await refused({ mechanism: 'plain', username: '', password: 'hunter2' })).toBe('KafkaBus.connect: sasl.username is empty');
    expect(await refused({ mechanism: 'plain', username: 'u', password: '' })).toBe('KafkaBus.connect: sasl.password is empty');
  });
});
