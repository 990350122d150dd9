import { loadAuthConfig, AuthConfigError, newApiToken, startApi } from '@optex/api';
import { ROLES, type Policy, type Role } from '@optex/domain';
import { intakeLimitsFromEnv, loadPolicy, openBus, openReadModelCheckpoints, openStore, rememberedSettings, UsageError } from '@optex/runtime';
import { withoutCredentials } from '@optex/ports';
import { timeFlag } from './time-flag';
import { safe, toJson } from './format';
import type { Io } from './commands';

export interface ApiFlags {
  readonly store: string;
  readonly policy?: string;
  readonly auth?: string;
  readonly port: string;
  readonly host: string;
  readonly bus?: string;
  readonly notifications?: 'on' | 'off';
  readonly readModel?: string;
}

/**
 * `optex api`: serves the HTTP API on loopback (unless `--host` says otherwise) until SIGINT/SIGTERM. It reads the log
 * and appends people's decisions; it runs no engine (`resume` or the services carry approved work on).
 */
export async function apiCommand(io: Io, flags: ApiFlags, until: Promise<unknown> = stopSignal()): Promise<number> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: expected 0-65535, got ${JSON.stringify(flags.port)}`);
  if (!flags.auth) throw new UsageError('--auth: the API needs an auth configuration (JWT issuer/audience/key set and/or API token hashes); see the README');
  // An in-memory bus of its own has no consumer: every submission would be answered 202 and dropped.
  if (flags.bus !== undefined && /^memory:?$/i.test(flags.bus.trim())) {
    throw new UsageError('--bus: memory would accept submitted recommendations and drop them (no service consumes a bus inside optex api); give kafka://HOST:PORT, or leave --bus out (submissions are then refused with 503)');
  }
  let auth;
  try {
    auth = await loadAuthConfig(flags.auth);
  } catch (error) {
    if (error instanceof AuthConfigError) throw new UsageError(error.message);
    throw error;
  }
  // Without --policy, the policy file remembered with the store (the one its runs use), else the default policy.
  const remembered = flags.policy === undefined ? (await rememberedSettings(flags.store)).policyFile : undefined;
  const policy = await loadPolicy(flags.policy ?? remembered, remembered !== undefined);
  const signingKeys = flags.notifications === 'off' ? new Map<string, string>() : webhookSigningKeys(policy, process.env);
  const store = await openStore(flags.store);
  let checkpoints;
  try {
    checkpoints = openReadModelCheckpoints(flags.store, flags.readModel);
  } catch (error) {
    await store.close();
    throw error;
  }
  const bus = flags.bus ? await openBus(flags.bus, 'optex-api', undefined, io.logger) : undefined;
  try {
    const api = await startApi({ store, policy, auth, checkpoints, ...(bus ? { bus } : {}), intakeLimits: intakeLimitsFromEnv(), port, host: flags.host, logger: io.logger, notifications: flags.notifications !== 'off', signingKeys });
    io.err(`optex api listening on ${api.url} (store ${safe(withoutCredentials(flags.store))}; read model ${safe(checkpoints.location)}; OpenAPI at ${api.url}/openapi.json; console at ${api.url}/console)`);
    if (api.notifier) io.err(`notifications: POSTing to webhooks ${policy.notifications.webhooks.map((h) => safe(h.name)).join(', ')}`);
    await until;
    await api.close();
    return 0;
  } finally {
    await bus?.close();
    await checkpoints.close();
    await store.close();
  }
}

/**
 * The signing key of each webhook whose policy names a `signingSecretEnv`, read from `env`: a variable that is not set
 * (or empty) is refused (exit 2) naming the webhook's field and the variable, before anything is served — an unsigned
 * POST to a receiver that checks signatures would be refused there, every notification lost.
 */
export function webhookSigningKeys(policy: Policy, env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const keys = new Map<string, string>();
  policy.notifications.webhooks.forEach((hook, i) => {
    if (hook.signingSecretEnv === undefined) return;
    const key = env[hook.signingSecretEnv];
    if (!key) throw new UsageError(`notifications.webhooks.${i}.signingSecretEnv: ${hook.signingSecretEnv} is not set in the environment of optex api (it holds the signing key of webhook ${hook.name})`);
    keys.set(hook.name, key);
  });
  return keys;
}

const stopSignal = (): Promise<void> => new Promise((resolve) => ['SIGINT', 'SIGTERM'].forEach((s) => process.once(s, () => resolve())));

/** `optex api-token --subject NAME --roles reader,submitter`: a new static token, printed once, and the entry (hash only) for the auth file. */
export function apiTokenCommand(io: Io, flags: { subject: string; roles: string; name?: string; json?: boolean }): number {
  const roles = flags.roles.split(',').map((r) => r.trim()).filter(Boolean);
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || unknown.length) throw new UsageError(`--roles: expected some of ${ROLES.join(', ')}, got ${JSON.stringify(flags.roles)}`);
  if (!flags.subject.trim()) throw new UsageError('--subject: empty');
  const { token, sha256 } = newApiToken();
  const entry = { name: flags.name ?? flags.subject, sha256, subject: flags.subject, roles: roles as Role[] };
  if (flags.json) io.out(toJson({ token, entry }));
  else io.out(`token (shown once; give it to the automation as OPTEX_TOKEN): ${token}\nadd to "tokens" in the auth file:\n${JSON.stringify(entry)}`);
  return 0;
}

/**
 * `approve`/`deny ID --api URL`: the decision goes through the HTTP API with the bearer token in `OPTEX_TOKEN`, so it is
 * recorded under the token's principal (a `--by` is refused: the API decides who is asking).
 */
export async function apiDecisionCommand(io: Io, kind: 'approve' | 'deny', id: string, flags: { api: string; by?: string; reason?: string; requestedAt?: string; json?: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (flags.by !== undefined) throw new UsageError('--by: with --api the decision is recorded under the token’s principal; leave --by out');
  const requestedAt = timeFlag('--requested-at', flags.requestedAt)?.toISOString();
  const token = env['OPTEX_TOKEN'];
  if (!token) throw new UsageError('OPTEX_TOKEN: --api needs a bearer token in OPTEX_TOKEN');
  let url: URL;
  try {
    url = new URL(`api/v1/optimizations/${encodeURIComponent(id)}/${kind}`, flags.api.endsWith('/') ? flags.api : `${flags.api}/`);
  } catch {
    throw new UsageError(`--api: not a URL: ${JSON.stringify(flags.api)}`);
  }
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...(flags.reason !== undefined ? { reason: flags.reason } : {}), ...(requestedAt ? { requestedAt } : {}) }),
  }).catch((error: Error) => {
    throw new UsageError(`--api: cannot reach ${url.origin}: ${error.message}`);
  });
  const body = (await response.json().catch(() => ({}))) as { reason?: string; status?: string; optimizationId?: string; by?: string; approvers?: string[] };
  if (!response.ok) {
    io.err(`optex ${kind}: ${response.status}: ${safe(body.reason ?? response.statusText)}`);
    return 1;
  }
  io.out(flags.json ? toJson(body) : `${safe(body.optimizationId ?? id)}: ${safe(body.status ?? '')} (recorded as ${safe(body.by ?? '')}).`);
  return 0;
}
