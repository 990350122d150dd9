import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KAFKA_SASL_MECHANISMS, type KafkaBusOptions, type KafkaSaslMechanism } from '@optex/messaging';
import { UsageError } from './adapters';

/** The environment variables {@link kafkaSecurityFromEnv} reads (documented in the README). */
export const KAFKA_SECURITY_VARIABLES = [
  'OPTEX_KAFKA_TLS',
  'OPTEX_KAFKA_TLS_CA_FILE',
  'OPTEX_KAFKA_SASL_MECHANISM',
  'OPTEX_KAFKA_SASL_USERNAME',
  'OPTEX_KAFKA_SASL_PASSWORD',
  'OPTEX_KAFKA_SASL_PASSWORD_FILE',
] as const;

/** How optex connects to Kafka: the {@link KafkaBusOptions} `ssl` and `sasl` (absent: PLAINTEXT, no authentication). */
export type KafkaSecurity = Pick<KafkaBusOptions, 'ssl' | 'sasl'>;

/** A PEM certificate block. */
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The TLS and SASL settings of every Kafka connection optex opens, from the environment (an empty variable is an unset
 * one):
 *
 * - `OPTEX_KAFKA_TLS`: `true` or `false` (lower case; anything else refused), default `false`.
 * - `OPTEX_KAFKA_TLS_CA_FILE`: a PEM file of the CA certificate(s) to trust instead of Node's default CAs, read now;
 *   it turns TLS on (and is refused with `OPTEX_KAFKA_TLS=false`). A file that cannot be read, holds no PEM
 *   certificate or a certificate that does not parse is refused.
 * - `OPTEX_KAFKA_SASL_MECHANISM`: `plain`, `scram-sha-256` or `scram-sha-512`; with it `OPTEX_KAFKA_SASL_USERNAME` and
 *   exactly one of `OPTEX_KAFKA_SASL_PASSWORD` or `OPTEX_KAFKA_SASL_PASSWORD_FILE` (read now; one trailing newline,
 *   `\n` or `\r\n`, removed) are required. A username or password without a mechanism is refused.
 *
 * Returns `{}` when none is set. Reads only `env` and the two files.
 * @throws UsageError naming the variable at fault; its message never holds the password or the password file's content.
 */
export function kafkaSecurityFromEnv(env: NodeJS.ProcessEnv): KafkaSecurity {
  const value = (name: (typeof KAFKA_SECURITY_VARIABLES)[number]): string | undefined => (env[name] === '' ? undefined : env[name]);

  const tlsRaw = value('OPTEX_KAFKA_TLS');
  if (tlsRaw !== undefined && tlsRaw !== 'true' && tlsRaw !== 'false') throw new UsageError(`OPTEX_KAFKA_TLS must be true or false, got ${JSON.stringify(tlsRaw)}`);
  const caFile = value('OPTEX_KAFKA_TLS_CA_FILE');
  if (caFile !== undefined && tlsRaw === 'false') throw new UsageError('OPTEX_KAFKA_TLS_CA_FILE turns TLS on, but OPTEX_KAFKA_TLS is false: unset one of them');
  const ssl: KafkaSecurity['ssl'] = caFile !== undefined ? { ca: [readCaFile(caFile)] } : tlsRaw === 'true';

  const mechanism = value('OPTEX_KAFKA_SASL_MECHANISM');
  const username = value('OPTEX_KAFKA_SASL_USERNAME');
  const password = value('OPTEX_KAFKA_SASL_PASSWORD');
  const passwordFile = value('OPTEX_KAFKA_SASL_PASSWORD_FILE');
  if (mechanism === undefined) {
    const stray = (['OPTEX_KAFKA_SASL_USERNAME', 'OPTEX_KAFKA_SASL_PASSWORD', 'OPTEX_KAFKA_SASL_PASSWORD_FILE'] as const).filter((name) => value(name) !== undefined);
    if (stray.length > 0) throw new UsageError(`${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} set but OPTEX_KAFKA_SASL_MECHANISM is not: set it to one of ${KAFKA_SASL_MECHANISMS.join(', ')}`);
    return ssl === false ? {} : { ssl };
  }
  if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism)) throw new UsageError(`OPTEX_KAFKA_SASL_MECHANISM must be one of ${KAFKA_SASL_MECHANISMS.join(', ')}, got ${JSON.stringify(mechanism)}`);
  if (username === undefined) throw new UsageError(`OPTEX_KAFKA_SASL_USERNAME is required with OPTEX_KAFKA_SASL_MECHANISM=${mechanism}`);
  if (password !== undefined && passwordFile !== undefined) throw new UsageError('OPTEX_KAFKA_SASL_PASSWORD and OPTEX_KAFKA_SASL_PASSWORD_FILE are both set: set only one');
  if (password === undefined && passwordFile === undefined) throw new UsageError(`OPTEX_KAFKA_SASL_PASSWORD or OPTEX_KAFKA_SASL_PASSWORD_FILE is required with OPTEX_KAFKA_SASL_MECHANISM=${mechanism}`);
  const secret = password ?? readPasswordFile(passwordFile!);
  return { ...(ssl === false ? {} : { ssl }), sasl: { mechanism: mechanism as KafkaSaslMechanism, username, password: secret } };
}

/** The CA file's text, once it proved to hold PEM certificates that parse. */
function readCaFile(file: string): string {
  const text = readSettingFile('OPTEX_KAFKA_TLS_CA_FILE', file);
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new UsageError(`OPTEX_KAFKA_TLS_CA_FILE: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new UsageError(`OPTEX_KAFKA_TLS_CA_FILE: certificate ${i + 1} of ${file} is not a valid PEM certificate: ${(error as Error).message}`);
    }
  });
  return text;
}

/** The password in `file` (a mounted Secret), without one trailing newline. The error never shows the file's content. */
function readPasswordFile(file: string): string {
  const password = readSettingFile('OPTEX_KAFKA_SASL_PASSWORD_FILE', file).replace(/\r?\n$/, '');
  if (password.length === 0) throw new UsageError(`OPTEX_KAFKA_SASL_PASSWORD_FILE: ${file} is empty`);
  return password;
}

/** The text of the file a variable names; one that cannot be read is a UsageError naming the variable and the reason. */
function readSettingFile(variable: (typeof KAFKA_SECURITY_VARIABLES)[number], file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${variable}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
