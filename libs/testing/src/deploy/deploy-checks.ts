/**
 * Checks of the deployment files (Dockerfile, docker-compose.yml, deploy/**): the parts a JSON
 * schema cannot say. Every check is a pure function from parsed content to a list of problems,
 * each naming the file and the field, so that a spec can assert "no problems" on the real files
 * and "this problem" on a deliberately broken copy.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { DCLinter } from 'dclint';
import * as k8sApps from 'kubernetes-models/apps/v1';
import * as k8sCore from 'kubernetes-models/v1';
import * as k8sNetworking from 'kubernetes-models/networking.k8s.io/v1';
import * as k8sPolicy from 'kubernetes-models/policy/v1';
import { parseAllDocuments } from 'yaml';

/** The five service processes, in pipeline order. */
export const OPTEX_SERVICES = ['risk-assessor', 'approval', 'scheduler', 'executor', 'validator'] as const;
export type OptexService = (typeof OPTEX_SERVICES)[number];

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const asObject = (value: unknown): Json => (isObject(value) ? value : {});
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

// ---------------------------------------------------------------------------------------------
// YAML and the README

/**
 * Parses every document of a YAML file, with YAML 1.1 merge keys (`<<: *anchor`) as Compose reads
 * them. Throws an error naming the file and line on a syntax error or a duplicate key.
 */
export function parseYamlDocuments(text: string, file: string): unknown[] {
  const docs = parseAllDocuments(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
  const values: unknown[] = [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) throw new Error(`${file}: ${error.message}`);
    const value: unknown = doc.toJS({ maxAliasCount: 1000 });
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

/** One row of the README's "Service processes" table. */
export interface ReadmeEnvVar {
  readonly name: string;
  /** False when the default column is `—` (the variable is optional, e.g. OPTEX_POLICY). */
  readonly hasDefault: boolean;
}

/**
 * The environment variables of the README's "Service processes" table (a row may name two,
 * `A` / `B`, with defaults `x` / `y`). Throws when the section or table is missing.
 */
export function readmeEnvVars(readme: string): ReadmeEnvVar[] {
  const start = readme.indexOf('## Service processes');
  if (start < 0) throw new Error('README.md: no "## Service processes" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const vars: ReadmeEnvVar[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || !cells[1]?.includes('`OPTEX_')) continue;
    const names = [...cells[1].matchAll(/`(OPTEX_[A-Z0-9_]+)`/g)].map((m) => m[1]!);
    const hasDefault = !/^[—-]*$/.test(cells[2] ?? '');
    for (const name of names) vars.push({ name, hasDefault });
  }
  if (vars.length === 0) throw new Error('README.md: the "Service processes" section has no table of OPTEX_* variables');
  return vars;
}

/**
 * Problems with a service's environment: a README variable that has a default but is not set
 * (the deployment files spell out every setting), or an `OPTEX_*` variable the README does not list
 * (a typo the service would silently ignore). `OPTEX_SERVICE` is the image's own variable.
 */
export function envProblems(where: string, env: Record<string, unknown>, readme: readonly ReadmeEnvVar[]): string[] {
  const known = new Set([...readme.map((v) => v.name), 'OPTEX_SERVICE']);
  const problems: string[] = [];
  for (const v of readme) if (v.hasDefault && !(v.name in env)) problems.push(`${where}: ${v.name} is not set`);
  for (const name of Object.keys(env)) if (name.startsWith('OPTEX_') && !known.has(name)) problems.push(`${where}: ${name} is not a variable the README lists`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

let composeValidator: ValidateFunction | undefined;

/**
 * The current Compose specification schema (draft-07), as shipped by the `dclint` package in
 * `schemas/compose.schema.json`. Its `$schema` names the draft by an https URL Ajv does not know,
 * so it is dropped and the schema compiled as draft-07 (Ajv's default).
 */
export function composeSpecSchema(): Json {
  const file = join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as Json;
  if (!String(schema['$schema']).includes('draft-07')) throw new Error(`${file}: expected a draft-07 schema, got ${String(schema['$schema'])}`);
  delete schema['$schema'];
  return schema;
}

/** Validates a parsed compose file against the Compose specification schema; one line per error. */
export function composeSchemaProblems(compose: unknown, file = 'docker-compose.yml'): string[] {
  if (!composeValidator) {
    const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
    addFormats(ajv);
    composeValidator = ajv.compile(composeSpecSchema());
  }
  if (composeValidator(compose)) return [];
  return (composeValidator.errors ?? []).map((e) => `${file}: ${e.instancePath || '/'} ${e.message ?? e.keyword}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params['additionalProperty'])})` : ''}`);
}

/**
 * dclint's rules that are about correctness or safety rather than layout: no duplicate published
 * ports or container names, published ports bound to an interface, images with explicit tags, no
 * `version:` key. Style rules (key order, alphabetical order, quoting) are off.
 */
export const COMPOSE_LINT_RULES: Record<string, 0 | 2> = {
  'no-duplicate-container-names': 2,
  'no-duplicate-exported-ports': 2,
  'no-unbound-port-interfaces': 2,
  'no-version-field': 2,
  'service-image-require-explicit-tag': 2,
  'no-build-and-image': 0,
  'no-quotes-in-volumes': 0,
  'require-project-name-field': 0,
  'require-quotes-in-ports': 0,
  'service-container-name-regex': 0,
  'service-dependencies-alphabetical-order': 0,
  'service-keys-order': 0,
  'service-ports-alphabetical-order': 0,
  'services-alphabetical-order': 0,
  'top-level-properties-order': 0,
};

/** Runs dclint with {@link COMPOSE_LINT_RULES} on a compose file; one line per error or warning. */
export function composeLintProblems(path: string, label = 'docker-compose.yml'): string[] {
  const linter = new DCLinter({ rules: COMPOSE_LINT_RULES, quiet: true, debug: false, exclude: [] });
  return linter.lintFiles([path], false).flatMap((result) => result.messages.map((m) => `${label}:${m.line}: ${m.rule}: ${m.message}`));
}

/** `environment` as a map, whichever of the two Compose forms (map or `KEY=VALUE` list) is used. */
export function composeEnvironment(service: unknown): Record<string, unknown> {
  const env = asObject(service)['environment'];
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => String(entry)).map((entry) => [entry.split('=')[0]!, entry.includes('=') ? entry.slice(entry.indexOf('=') + 1) : null]));
  }
  return asObject(env);
}

/** `host:port` of a URL like `kafka://a:1,b:2` (the first broker) or `esdb://h:2113?tls=false`. */
function hostPort(url: string): { host: string; port: number } | undefined {
  const match = /^[a-z+]+:\/\/([^,/?:]+):(\d+)/.exec(url);
  return match ? { host: match[1]!, port: Number(match[2]) } : undefined;
}

/** The host ports a service publishes and the container port each maps to (short syntax). */
function publishedPorts(service: unknown): { host: number; container: number; ip?: string }[] {
  return asArray(asObject(service)['ports']).flatMap((entry) => {
    if (isObject(entry)) return [{ host: Number(entry['published']), container: Number(entry['target']), ...(entry['host_ip'] ? { ip: String(entry['host_ip']) } : {}) }];
    const parts = String(entry).split(':');
    if (parts.length === 3) return [{ ip: parts[0]!, host: Number(parts[1]), container: Number(parts[2]) }];
    if (parts.length === 2) return [{ host: Number(parts[0]), container: Number(parts[1]) }];
    return [{ host: Number.NaN, container: Number(parts[0]) }];
  });
}

/**
 * A value with Compose's `${VAR:-default}` / `${VAR-default}` interpolation resolved to its defaults; `fromVariable`
 * when it held a variable (the value is then the user's, e.g. a file that exists only on their machine).
 */
export function composeInterpolated(value: string): { value: string; fromVariable: boolean } {
  let fromVariable = false;
  const resolved = value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback?: string) => {
    fromVariable = true;
    return fallback ?? '';
  });
  return { value: resolved, fromVariable };
}

/** Splits on `:` outside `${…}` (a short-syntax volume whose source is `${VAR:-./file}`). */
function splitOutsideInterpolation(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '$' && text[i + 1] === '{') depth += 1;
    else if (ch === '}' && depth > 0) depth -= 1;
    if (ch === ':' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/** One volume of a compose service, short or long syntax, its source's interpolation resolved. */
export interface ComposeMount {
  readonly type: string;
  /** '' for an anonymous volume. */
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
  /** The source came through a `${VAR…}`: the user's value, checked only for its form. */
  readonly fromVariable: boolean;
}

/** The volumes (bind, named, tmpfs) a compose service mounts; `tmpfs:` entries included as type tmpfs. */
export function composeMounts(service: unknown): ComposeMount[] {
  const s = asObject(service);
  const mounts = asArray(s['volumes']).map((volume): ComposeMount => {
    if (isObject(volume)) {
      const source = composeInterpolated(String(volume['source'] ?? ''));
      return { type: String(volume['type'] ?? 'volume'), source: source.value, target: String(volume['target'] ?? ''), readOnly: volume['read_only'] === true, fromVariable: source.fromVariable };
    }
    const parts = splitOutsideInterpolation(String(volume));
    if (parts.length === 1) return { type: 'volume', source: '', target: parts[0]!, readOnly: false, fromVariable: false };
    const source = composeInterpolated(parts[0]!);
    const type = /^[./~]/.test(source.value) ? 'bind' : 'volume';
    return { type, source: source.value, target: parts[1]!, readOnly: (parts[2] ?? '').split(',').includes('ro'), fromVariable: source.fromVariable };
  });
  const tmpfs = typeof s['tmpfs'] === 'string' ? [s['tmpfs']] : asArray(s['tmpfs']).map(String);
  return [...mounts, ...tmpfs.map((entry) => ({ type: 'tmpfs', source: '', target: entry.split(':')[0]!, readOnly: false, fromVariable: false }))];
}

/** What {@link composeProblems} needs besides the file itself. */
export interface ComposeContext {
  readonly readme: readonly ReadmeEnvVar[];
  /** Whether a path relative to the repository root exists (for bind mounts and the build context). */
  readonly exists: (relativePath: string) => boolean;
  /** The options `optex api` accepts ({@link optexApiOptions}); without, the API's options are not checked against them. */
  readonly apiOptions?: ReadonlySet<string>;
}

/**
 * What a schema cannot check in docker-compose.yml: no `version:` key; every service has a
 * healthcheck and a restart policy, an image with an explicit tag (or a build), and depends only
 * on services that exist (healthy only on those with a healthcheck); each of the five optex
 * services sets OPTEX_SERVICE to its own name and every README variable, listens on 0.0.0.0,
 * publishes its HTTP port on a distinct loopback host port, and reaches the store, the bus and
 * the cloud endpoint at services and ports that exist; exactly one runs the relay; Kafka runs in
 * KRaft combined mode with replication factors of 1 and advertises the listener optex uses; the
 * `api` service runs `optex api` wired to the same store and bus ({@link composeApiProblems}).
 */
export function composeProblems(compose: unknown, context: ComposeContext): string[] {
  const problems: string[] = [];
  const file = 'docker-compose.yml';
  const root = asObject(compose);
  if ('version' in root) problems.push(`${file}: has a "version" key (obsolete in the Compose specification)`);
  const services = asObject(root['services']);
  const named = (name: string) => services[name];

  for (const [name, service] of Object.entries(services)) {
    const s = asObject(service);
    const where = `${file}: services.${name}`;
    const test = asObject(s['healthcheck'])['test'];
    if (!test || asObject(s['healthcheck'])['disable'] === true || (Array.isArray(test) && test[0] === 'NONE')) problems.push(`${where}.healthcheck: missing or disabled`);
    if (!s['restart'] && !asObject(s['deploy'])['restart_policy']) problems.push(`${where}.restart: missing`);
    if (typeof s['image'] !== 'string' && !s['build']) problems.push(`${where}: neither image nor build`);
    if (typeof s['image'] === 'string' && !s['build']) {
      const last = s['image'].split('/').pop() ?? '';
      if (!last.includes(':') || last.endsWith(':latest')) problems.push(`${where}.image: "${s['image']}" has no explicit version tag`);
    }
    const build = s['build'];
    if (build) {
      const contextDir = typeof build === 'string' ? build : String(asObject(build)['context'] ?? '.');
      const dockerfile = typeof build === 'string' ? 'Dockerfile' : String(asObject(build)['dockerfile'] ?? 'Dockerfile');
      if (!context.exists(posix.join(contextDir, dockerfile))) problems.push(`${where}.build: ${posix.join(contextDir, dockerfile)} does not exist`);
    }
    const dependsOn = s['depends_on'];
    const deps: [string, string][] = Array.isArray(dependsOn) ? dependsOn.map((d) => [String(d), 'service_started']) : Object.entries(asObject(dependsOn)).map(([d, v]) => [d, String(asObject(v)['condition'])]);
    for (const [dep, condition] of deps) {
      if (!(dep in services)) problems.push(`${where}.depends_on.${dep}: no such service`);
      else if (condition === 'service_healthy' && !asObject(asObject(named(dep))['healthcheck'])['test']) problems.push(`${where}.depends_on.${dep}: waits for service_healthy but ${dep} has no healthcheck`);
    }
    for (const mount of composeMounts(service)) {
      const source = mount.source;
      if (mount.type === 'tmpfs' || !source) continue;
      // A source given through a variable (`${OPTEX_API_AUTH:-./.optex/api-auth.json}`) is the user's file: it need not
      // exist in the repository, but it must be a path (or a declared volume).
      if (source.startsWith('./') && !mount.fromVariable && !context.exists(source)) problems.push(`${where}.volumes: ${source} does not exist`);
      else if (!source.startsWith('/') && !source.startsWith('.') && !(source in asObject(root['volumes']))) problems.push(`${where}.volumes: named volume "${source}" is not declared under volumes`);
    }
    for (const port of publishedPorts(service)) {
      if (port.ip !== '127.0.0.1') problems.push(`${where}.ports: ${port.host}:${port.container} is not bound to 127.0.0.1`);
    }
  }

  const hostPorts = new Map<number, string>();
  for (const [name, service] of Object.entries(services)) {
    for (const port of publishedPorts(service)) {
      const other = hostPorts.get(port.host);
      if (other) problems.push(`${file}: services.${name}.ports: host port ${port.host} is already published by ${other}`);
      hostPorts.set(port.host, name);
    }
  }

  const kafkaListeners = new Map<string, number>();
  for (const [name, service] of Object.entries(services)) {
    const env = composeEnvironment(service);
    const advertised = env['KAFKA_ADVERTISED_LISTENERS'];
    if (typeof advertised !== 'string') continue;
    const where = `${file}: services.${name}.environment`;
    for (const listener of advertised.split(',')) {
      const m = /^[A-Z_]+:\/\/([^:]+):(\d+)$/.exec(listener.trim());
      if (m) kafkaListeners.set(`${m[1]}:${m[2]}`, Number(m[2]));
    }
    const roles = String(env['KAFKA_PROCESS_ROLES'] ?? '').split(',').map((r) => r.trim()).sort();
    if (roles.join(',') !== 'broker,controller') problems.push(`${where}.KAFKA_PROCESS_ROLES: expected broker,controller (KRaft combined mode), got "${roles.join(',')}"`);
    if (!env['KAFKA_CONTROLLER_QUORUM_VOTERS'] && !env['KAFKA_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS']) problems.push(`${where}: no KAFKA_CONTROLLER_QUORUM_VOTERS`);
    for (const key of ['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR']) {
      if (String(env[key]) !== '1') problems.push(`${where}.${key}: must be 1 on a single node, got ${JSON.stringify(env[key])}`);
    }
  }

  let relays = 0;
  for (const name of OPTEX_SERVICES) {
    const service = named(name);
    const where = `${file}: services.${name}`;
    if (!service) {
      problems.push(`${where}: missing`);
      continue;
    }
    const env = composeEnvironment(service);
    problems.push(...envProblems(`${where}.environment`, env, context.readme));
    if (env['OPTEX_SERVICE'] !== name) problems.push(`${where}.environment.OPTEX_SERVICE: expected "${name}", got ${JSON.stringify(env['OPTEX_SERVICE'])}`);
    if (env['OPTEX_HTTP_HOST'] !== '0.0.0.0') problems.push(`${where}.environment.OPTEX_HTTP_HOST: must be 0.0.0.0 in a container, got ${JSON.stringify(env['OPTEX_HTTP_HOST'])}`);
    if (String(env['OPTEX_RELAY']) === 'true') relays += 1;
    const httpPort = Number(env['OPTEX_HTTP_PORT'] ?? 8080);
    if (!publishedPorts(service).some((p) => p.container === httpPort)) problems.push(`${where}.ports: does not publish OPTEX_HTTP_PORT ${httpPort} (/metrics)`);
    const store = hostPort(String(env['OPTEX_STORE'] ?? ''));
    if (!store || !(store.host in services)) problems.push(`${where}.environment.OPTEX_STORE: ${JSON.stringify(env['OPTEX_STORE'])} does not name a compose service`);
    const bus = hostPort(String(env['OPTEX_BUS'] ?? ''));
    if (!bus || !kafkaListeners.has(`${bus.host}:${bus.port}`)) problems.push(`${where}.environment.OPTEX_BUS: ${JSON.stringify(env['OPTEX_BUS'])} is not a listener Kafka advertises (${[...kafkaListeners.keys()].join(', ')})`);
    const cloud = String(env['OPTEX_CLOUD'] ?? '').replace(/^\$\{OPTEX_CLOUD:-(.*)\}$/, '$1');
    const endpoint = /^aws:(https?:\/\/[^/:]+)(?::\d+)?/.exec(cloud);
    if (endpoint && !(new URL(endpoint[1]!).hostname in services)) problems.push(`${where}.environment.OPTEX_CLOUD: endpoint ${cloud.slice(4)} is not a compose service`);
    for (const [dep, target] of [[store?.host, 'OPTEX_STORE'], [bus?.host, 'OPTEX_BUS']] as const) {
      const deps = asObject(asObject(service)['depends_on']);
      if (dep && dep in services && !(dep in deps)) problems.push(`${where}.depends_on: does not wait for ${dep} (${target})`);
    }
  }
  if (relays !== 1) problems.push(`${file}: ${relays} optex services set OPTEX_RELAY=true; exactly one must run the relay`);
  problems.push(...composeApiProblems(services, kafkaListeners, context));
  return problems;
}

// ---------------------------------------------------------------------------------------------
// optex api (the HTTP API, the approval console and the webhook notifier)

/** The compose service, and the Kubernetes component, that runs `optex api`. */
export const OPTEX_API = 'api';

/** A command line as a list (Compose's string form split on blanks: the files here quote nothing). */
export function commandLine(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string') return value.trim().split(/\s+/).filter(Boolean);
  return [];
}

/** Whether a command line runs `optex api` through the image's entry point (`optex ARGS…` runs the CLI). */
export function runsOptexApi(command: readonly string[]): boolean {
  return command[0] === 'optex' && command[1] === 'api';
}

/**
 * The `--name value` and `--name=value` options of a command line (after the command), by name; the last one wins, as
 * with commander. An option followed by another option, or by nothing, has the value ''.
 */
export function commandOptions(args: readonly string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    if (eq > 0) options.set(arg.slice(0, eq), arg.slice(eq + 1));
    else if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('--')) options.set(arg, args[++i]!);
    else options.set(arg, '');
  }
  return options;
}

/**
 * The options `optex api` declares, read from the CLI's source (apps/optex/src/cli/program.ts; read as text: the
 * testing library may not import the app): the `--name`s of the `program.command('api')` chain up to its `.action(`,
 * including those of option helpers it adds (`.addOption(storeOption())`).
 */
export function optexApiOptions(programSource: string): Set<string> {
  const start = programSource.indexOf("program.command('api')");
  if (start < 0) throw new Error("program.ts: no program.command('api')");
  const chain = programSource.slice(start, programSource.indexOf('.action(', start));
  const options = new Set([...chain.matchAll(/\b(?:option|requiredOption|Option)\(\s*'(--[a-z][a-z-]*)/g)].map((m) => m[1]!));
  for (const [, helper] of chain.matchAll(/addOption\((\w+)\(\)\)/g)) {
    const defined = new RegExp(`\\b${helper}\\s*=\\s*\\(\\)\\s*=>\\s*new Option\\(\\s*'(--[a-z][a-z-]*)`).exec(programSource);
    if (defined) options.add(defined[1]!);
  }
  return options;
}

/** Whether `path` is `dir` or below it. */
const isUnder = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir.replace(/\/+$/, '')}/`);

/**
 * The checks of the compose service that runs `optex api`: it exists and runs `["optex", "api", …]` in the services'
 * image; every option is one `optex api` declares; `--store` and `--bus` are the services' (the bus a listener Kafka
 * advertises) and it waits for both; `--policy` is the services' OPTEX_POLICY (or both absent); `--auth` is a file on a
 * read-only mount; `--host 0.0.0.0`; `--port` is OPTEX_HTTP_PORT (where healthcheck.cjs asks /health), published;
 * the health check is healthcheck.cjs; `--read-model` is `memory:` or under a tmpfs on a read-only root filesystem;
 * `--notifications on` is explicit; and exactly one `optex api` process of the file sends the webhooks.
 */
function composeApiProblems(services: Json, kafkaListeners: ReadonlyMap<string, number>, context: ComposeContext): string[] {
  const file = 'docker-compose.yml';
  const problems: string[] = [];
  const commandOf = (service: unknown) => commandLine(asObject(service)['command']);
  const replicasOf = (service: unknown) => Number(asObject(asObject(service)['deploy'])['replicas'] ?? asObject(service)['scale'] ?? 1);
  const notifying = Object.entries(services).filter(([, service]) => runsOptexApi(commandOf(service)) && commandOptions(commandOf(service).slice(2)).get('--notifications') !== 'off');
  const notifiers = notifying.reduce((sum, [, service]) => sum + replicasOf(service), 0);
  if (notifiers !== 1) problems.push(`${file}: ${notifiers} optex api processes send the webhooks (${notifying.map(([name]) => name).join(', ') || 'none'}); exactly one must (--notifications off in the others)`);

  const where = `${file}: services.${OPTEX_API}`;
  const service = services[OPTEX_API];
  if (!isObject(service)) {
    problems.push(`${where}: missing (optex api: the HTTP API, the approval console and the webhooks)`);
    return problems;
  }
  const command = commandOf(service);
  if (!runsOptexApi(command)) {
    problems.push(`${where}.command: must run the CLI through the image's entry point, ["optex", "api", …]; got ${JSON.stringify(service['command'] ?? null)}`);
    return problems;
  }
  const options = commandOptions(command.slice(2));
  const shown = (name: string) => (options.has(name) ? JSON.stringify(options.get(name)) : 'not given');
  const cmd = `${where}.command`;
  if (context.apiOptions) for (const name of options.keys()) if (!context.apiOptions.has(name)) problems.push(`${cmd}: ${name} is not an option of optex api`);

  const optexServices = OPTEX_SERVICES.map((name) => services[name]).filter(isObject);
  const image = optexServices[0]?.['image'];
  if (service['image'] !== image) problems.push(`${where}.image: ${JSON.stringify(service['image'])} is not the services' image ${JSON.stringify(image)}`);
  problems.push(...envProblems(`${where}.environment`, composeEnvironment(service), context.readme.map((v) => ({ ...v, hasDefault: false }))));

  const servicesValue = (variable: string) => new Set(optexServices.map((s) => composeEnvironment(s)[variable]).map((v) => (v === undefined ? undefined : String(v))));
  const deps = asObject(service['depends_on']);
  for (const [option, variable] of [['--store', 'OPTEX_STORE'], ['--bus', 'OPTEX_BUS']] as const) {
    const value = options.get(option);
    const expected = servicesValue(variable);
    if (value === undefined || expected.size !== 1 || !expected.has(value)) problems.push(`${cmd}: ${option} ${shown(option)} is not the services' ${variable} (${[...expected].map((v) => JSON.stringify(v)).join(', ')})`);
    const target = hostPort(value ?? '');
    if (option === '--bus' && (!target || !kafkaListeners.has(`${target.host}:${target.port}`))) problems.push(`${cmd}: --bus ${shown('--bus')} is not a listener Kafka advertises (${[...kafkaListeners.keys()].join(', ')})`);
    if (target && target.host in services && !(target.host in deps)) problems.push(`${where}.depends_on: does not wait for ${target.host} (${option})`);
  }
  const policy = [...servicesValue('OPTEX_POLICY')][0];
  if (options.get('--policy') !== policy) problems.push(`${cmd}: --policy ${shown('--policy')} is not the services' OPTEX_POLICY (${policy === undefined ? 'not set' : JSON.stringify(policy)}): the API would map people with another roster and send another policy's webhooks`);

  const mounts = composeMounts(service);
  const auth = options.get('--auth');
  if (!auth) problems.push(`${cmd}: --auth FILE missing (the API refuses to start without its auth file)`);
  else {
    const mount = mounts.filter((m) => m.type !== 'tmpfs' && m.source && isUnder(auth, m.target)).sort((a, b) => b.target.length - a.target.length)[0];
    if (!mount) problems.push(`${where}.volumes: --auth ${auth} is on no mounted file or directory (the user's auth file, mounted read-only)`);
    else if (!mount.readOnly) problems.push(`${where}.volumes: ${mount.target} (--auth) is mounted read-write; mount the auth file read-only`);
  }
  if (options.get('--host') !== '0.0.0.0') problems.push(`${cmd}: --host ${shown('--host')}: must be 0.0.0.0 in a container (the default is loopback)`);
  const port = Number(options.get('--port') ?? 8080);
  const healthPort = Number(composeEnvironment(service)['OPTEX_HTTP_PORT'] ?? 8080);
  if (port !== healthPort) problems.push(`${cmd}: --port ${port} is not OPTEX_HTTP_PORT ${healthPort}, where healthcheck.cjs asks /health`);
  if (!publishedPorts(service).some((p) => p.container === port)) problems.push(`${where}.ports: does not publish --port ${port} (the API and the console)`);
  if (!JSON.stringify(asObject(service['healthcheck'])['test'] ?? '').includes('healthcheck.cjs')) problems.push(`${where}.healthcheck: must run the image's deploy/docker/healthcheck.cjs (GET /health, which asks the store)`);
  if (service['read_only'] === true) {
    const readModel = options.get('--read-model');
    const path = (readModel ?? '').replace(/^sqlite:/i, '');
    const tmpfs = mounts.filter((m) => m.type === 'tmpfs').map((m) => m.target);
    const writable = readModel !== undefined && (/^memory:$/i.test(readModel.trim()) || (path.startsWith('/') && tmpfs.some((t) => isUnder(path, t) && path !== t)));
    if (!writable) problems.push(`${cmd}: --read-model ${readModel === undefined ? 'not given (.optex/read-model.db)' : JSON.stringify(readModel)} cannot be written on a read-only root filesystem; give memory: or a file under a tmpfs (${tmpfs.join(', ') || 'none'})`);
  }
  if (options.get('--notifications') !== 'on') problems.push(`${cmd}: --notifications ${shown('--notifications')}: the one API process must say on explicitly (it sends the policy's webhooks)`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Prometheus and Grafana

/**
 * Problems with deploy/prometheus/prometheus.yml: its scrape targets must be exactly the five optex services, each on
 * the port it serves `/metrics` on (its OPTEX_HTTP_PORT in compose), and the API on its `--port` — the API with a
 * reader token: `authorization.credentials_file` in a directory compose mounts read-only into the Prometheus container
 * (its `/metrics` answers 401 without one), the services without (they serve it to anyone on the network).
 */
export function prometheusProblems(prometheus: unknown, compose: unknown): string[] {
  const file = 'deploy/prometheus/prometheus.yml';
  const services = asObject(asObject(compose)['services']);
  const expected = new Set(OPTEX_SERVICES.map((name) => `${name}:${Number(composeEnvironment(services[name])['OPTEX_HTTP_PORT'] ?? 8080)}`));
  const api = `${OPTEX_API}:${Number(commandOptions(commandLine(asObject(services[OPTEX_API])['command']).slice(2)).get('--port') ?? 8080)}`;
  const readOnly = composeMounts(services['prometheus']).filter((m) => m.readOnly && m.type !== 'tmpfs').map((m) => m.target);
  const problems: string[] = [];
  const targets: string[] = [];
  for (const [i, job] of asArray(asObject(prometheus)['scrape_configs']).entries()) {
    const where = `${file}: scrape_configs[${i}]`;
    const path = asObject(job)['metrics_path'] ?? '/metrics';
    if (path !== '/metrics') problems.push(`${where}.metrics_path is ${JSON.stringify(path)}, the services serve /metrics`);
    const authorization = asObject(job)['authorization'];
    const credentials = asObject(authorization)['credentials_file'];
    const jobTargets = asArray(asObject(job)['static_configs']).flatMap((config) => asArray(asObject(config)['targets']).map(String));
    for (const target of jobTargets) {
      if (target === api) {
        const type = asObject(authorization)['type'] ?? 'Bearer';
        if (typeof credentials !== 'string' || type !== 'Bearer') problems.push(`${where}: scrapes ${api} without a reader token (authorization.credentials_file, type Bearer): its /metrics answers 401`);
        else if (!readOnly.some((dir) => isUnder(credentials, dir) && credentials !== dir)) problems.push(`${where}: authorization.credentials_file ${credentials} is in no directory docker-compose.yml mounts read-only into the prometheus service (${readOnly.join(', ') || 'none'})`);
      } else if (expected.has(target)) {
        if (authorization !== undefined) problems.push(`${where}: sends a token to ${target}, whose /metrics needs none: keep tokens to the API's job`);
      } else problems.push(`${file}: scrapes ${target}, which is not one of the five optex services nor the API`);
    }
    targets.push(...jobTargets);
  }
  for (const target of [...expected, api]) if (!targets.includes(target)) problems.push(`${file}: does not scrape ${target}`);
  const seen = new Set<string>();
  for (const target of targets) {
    if (seen.has(target)) problems.push(`${file}: scrapes ${target} twice`);
    seen.add(target);
  }
  return problems;
}

/**
 * Problems with the alerting rules (deploy/prometheus/alerts.yml) and their loading: prometheus.yml's `rule_files` name
 * the file where compose mounts it; every rule has a unique `alert` name, a PromQL `expr` with balanced parentheses
 * naming only `up` and metrics the services export (`allowedMetrics`), counters read over a range, a `for` duration
 * when there is one, `labels.severity` critical or warning, and `annotations.summary` and `description`.
 */
export function alertRulesProblems(rules: unknown, prometheus: unknown, compose: unknown, allowedMetrics: ReadonlySet<string>): string[] {
  const file = 'deploy/prometheus/alerts.yml';
  const problems: string[] = [];
  const prometheusService = asObject(asObject(asObject(compose)['services'])['prometheus']);
  const mounts = new Map(asArray(prometheusService['volumes']).map(String).map((v) => v.split(':')).map(([from, to]) => [to ?? '', from ?? '']));
  const ruleFiles = asArray(asObject(prometheus)['rule_files']).map(String);
  if (!ruleFiles.some((f) => mounts.get(f) === `./${file}`)) problems.push(`deploy/prometheus/prometheus.yml: rule_files does not load ${file} where docker-compose.yml mounts it (${ruleFiles.join(', ') || 'none'})`);
  const names = new Set<string>();
  const groups = asArray(asObject(rules)['groups']).map(asObject);
  if (groups.length === 0) problems.push(`${file}: no rule groups`);
  for (const group of groups) {
    for (const [i, rule] of asArray(group['rules']).map(asObject).entries()) {
      const name = String(rule['alert'] ?? '');
      const where = `${file}: ${String(group['name'])}.rules[${i}] ${name}`;
      if (!/^[A-Z][A-Za-z0-9]*$/.test(name)) problems.push(`${where}: alert must be a CamelCase name`);
      if (names.has(name)) problems.push(`${where}: a second alert of this name`);
      names.add(name);
      const expr = rule['expr'];
      if (typeof expr !== 'string' || expr.trim() === '') {
        problems.push(`${where}: no expr`);
        continue;
      }
      if (!balanced(expr)) problems.push(`${where}: expr has unbalanced parentheses: ${expr}`);
      const metrics = promqlMetricNames(expr);
      if (metrics.length === 0) problems.push(`${where}: expr selects no metric: ${expr}`);
      for (const metric of metrics) if (metric !== 'up' && !allowedMetrics.has(metric)) problems.push(`${where}: uses ${metric}, which the services do not export`);
      for (const counter of countersReadRaw(expr)) problems.push(`${where}: reads the counter ${counter} raw; use increase() or rate() over a range, which a restart does not reset`);
      if (rule['for'] !== undefined && !/^(\d+[smhdwy])+$/.test(String(rule['for']))) problems.push(`${where}: for ${JSON.stringify(rule['for'])} is not a duration`);
      const severity = asObject(rule['labels'])['severity'];
      if (severity !== 'critical' && severity !== 'warning') problems.push(`${where}: labels.severity must be critical or warning, got ${JSON.stringify(severity)}`);
      for (const key of ['summary', 'description']) if (typeof asObject(rule['annotations'])[key] !== 'string') problems.push(`${where}: annotations.${key} missing`);
    }
  }
  return problems;
}

/** Whether every `(` of a PromQL expression is closed, and no `)` comes before its `(`. */
function balanced(expr: string): boolean {
  let depth = 0;
  for (const ch of expr) {
    depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
    if (depth < 0) return false;
  }
  return depth === 0;
}

/**
 * The optex counters (`optex_…_total`) an expression reads without a range selector after them: a counter restarts at
 * zero with its process, so read raw a restart makes the figure drop (or vanish); increase() and rate() over a range
 * do not.
 */
export function countersReadRaw(expr: string): string[] {
  return [...expr.matchAll(/\b(optex_\w+_total)\b(\s*\{[^}]*\})?\s*(\[)?/g)].filter((m) => m[3] === undefined).map((m) => m[1]!);
}

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions (followed by
 * `(`), keywords, label names inside `{…}` / `by (…)`, string literals, durations or Grafana
 * variables (`$__rate_interval`).
 */
export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = stripped.slice(m.index! + m[0].length).trimStart();
    if (after.startsWith('(') || PROMQL_KEYWORDS.has(m[0].toLowerCase())) continue;
    if (/^\d/.test(stripped.slice(m.index! - 1, m.index!))) continue; // unit of a number, e.g. 5m
    names.add(m[0]);
  }
  return [...names];
}

/** What {@link dashboardProblems} checks the panels against. */
export interface DashboardContext {
  /** Every series name the services export (histograms with `_bucket`, `_sum`, `_count`). */
  readonly allowedMetrics: ReadonlySet<string>;
  /** Metrics that some panel must show. */
  readonly requiredMetrics: readonly string[];
  /** The uid of the provisioned Prometheus datasource. */
  readonly datasourceUid: string;
}

/**
 * Problems with the Grafana dashboard: every panel has a unique id, a title and at least one
 * PromQL target; every metric a target names starts with `optex_` and is one the services export;
 * a counter (`…_total`) is read over a range (increase, rate), never raw; every required metric is shown; datasources are the provisioned one or the dashboard's
 * `${datasource}` variable.
 */
export function dashboardProblems(dashboard: unknown, context: DashboardContext): string[] {
  const file = 'deploy/grafana/dashboards/optex.json';
  const d = asObject(dashboard);
  const problems: string[] = [];
  if (typeof d['uid'] !== 'string' || typeof d['title'] !== 'string') problems.push(`${file}: uid and title are required`);
  const variables = new Set(asArray(asObject(d['templating'])['list']).map((v) => `\${${String(asObject(v)['name'])}}`));
  const datasourceOk = (ds: unknown) => ds === undefined || (isObject(ds) && (ds['uid'] === context.datasourceUid || variables.has(String(ds['uid']))));
  const panels = asArray(d['panels']).flatMap((p) => [p, ...asArray(asObject(p)['panels'])]);
  if (panels.length === 0) problems.push(`${file}: no panels`);
  const ids = new Set<unknown>();
  const used = new Set<string>();
  for (const panel of panels.map(asObject)) {
    const where = `${file}: panel ${JSON.stringify(panel['title'] ?? panel['id'])}`;
    if (ids.has(panel['id'])) problems.push(`${where}: duplicate id ${String(panel['id'])}`);
    ids.add(panel['id']);
    if (panel['type'] === 'row') continue;
    if (!panel['title']) problems.push(`${where}: no title`);
    if (!datasourceOk(panel['datasource'])) problems.push(`${where}: datasource ${JSON.stringify(panel['datasource'])} is neither ${context.datasourceUid} nor a dashboard variable`);
    const targets = asArray(panel['targets']).map(asObject);
    if (targets.length === 0) problems.push(`${where}: no targets`);
    for (const [i, target] of targets.entries()) {
      const expr = target['expr'];
      if (typeof expr !== 'string' || expr.trim() === '') {
        problems.push(`${where}: targets[${i}] has no PromQL expr`);
        continue;
      }
      if (!datasourceOk(target['datasource'])) problems.push(`${where}: targets[${i}].datasource is neither ${context.datasourceUid} nor a dashboard variable`);
      if (!balanced(expr)) problems.push(`${where}: targets[${i}].expr has unbalanced parentheses: ${expr}`);
      const names = promqlMetricNames(expr);
      if (names.length === 0) problems.push(`${where}: targets[${i}].expr selects no metric: ${expr}`);
      for (const name of names) {
        if (!name.startsWith('optex_')) problems.push(`${where}: targets[${i}] uses ${name}, not an optex_ metric`);
        else if (!context.allowedMetrics.has(name)) problems.push(`${where}: targets[${i}] uses ${name}, which the services do not export`);
        used.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
      for (const counter of countersReadRaw(expr)) problems.push(`${where}: targets[${i}] reads the counter ${counter} raw; use increase() or rate() over a range, which a restart does not reset`);
    }
  }
  for (const metric of context.requiredMetrics) if (!used.has(metric)) problems.push(`${file}: no panel shows ${metric}`);
  return problems;
}

/**
 * Problems with the Grafana provisioning files: the datasource points at the compose Prometheus
 * service, and the dashboard provider reads the directory compose mounts deploy/grafana/dashboards on.
 */
export function grafanaProvisioningProblems(datasources: unknown, providers: unknown, compose: unknown): string[] {
  const problems: string[] = [];
  const services = asObject(asObject(compose)['services']);
  const grafana = asObject(services['grafana']);
  const ds = asArray(asObject(datasources)['datasources']).map(asObject);
  const prometheus = ds.find((d) => d['type'] === 'prometheus');
  if (!prometheus) problems.push('deploy/grafana/provisioning/datasources: no prometheus datasource');
  else {
    const url = new URL(String(prometheus['url']));
    if (!(url.hostname in services)) problems.push(`deploy/grafana/provisioning/datasources: url ${String(prometheus['url'])} is not a compose service`);
    if (!prometheus['uid']) problems.push('deploy/grafana/provisioning/datasources: the prometheus datasource needs a fixed uid (the dashboard refers to it)');
  }
  const mounts = asArray(grafana['volumes']).map((v) => String(v).split(':'));
  const dashboardsMount = mounts.find(([source]) => source === './deploy/grafana/dashboards')?.[1];
  const provisioningMount = mounts.find(([source]) => source === './deploy/grafana/provisioning')?.[1];
  if (provisioningMount !== '/etc/grafana/provisioning') problems.push('docker-compose.yml: services.grafana does not mount ./deploy/grafana/provisioning on /etc/grafana/provisioning');
  const paths = asArray(asObject(providers)['providers']).map((p) => asObject(asObject(p)['options'])['path']);
  if (!dashboardsMount || !paths.includes(dashboardsMount)) problems.push(`deploy/grafana/provisioning/dashboards: no provider reads ${dashboardsMount ?? '(deploy/grafana/dashboards is not mounted)'}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

interface K8sModel {
  new (data: unknown): { validate(): void };
  readonly apiVersion: string;
  readonly kind: string;
}

let k8sModels: Map<string, K8sModel> | undefined;

/** The kubernetes-models classes of core/v1, apps/v1, networking.k8s.io/v1 and policy/v1, by `apiVersion/kind`. */
function k8sModelRegistry(): Map<string, K8sModel> {
  if (!k8sModels) {
    k8sModels = new Map();
    for (const group of [k8sCore, k8sApps, k8sNetworking, k8sPolicy] as unknown as Record<string, unknown>[]) {
      for (const value of Object.values(group)) {
        const model = value as Partial<K8sModel>;
        if (typeof value === 'function' && typeof model.apiVersion === 'string' && typeof model.kind === 'string') k8sModels.set(`${model.apiVersion}/${model.kind}`, value as K8sModel);
      }
    }
  }
  return k8sModels;
}

/**
 * Validates one manifest against the Kubernetes OpenAPI schema of its apiVersion and kind (the
 * validators `kubernetes-models` generates from the official OpenAPI document). An apiVersion/kind
 * it does not know is a problem too.
 */
export function k8sSchemaProblems(doc: unknown, file: string): string[] {
  const d = asObject(doc);
  const key = `${String(d['apiVersion'])}/${String(d['kind'])}`;
  const Model = k8sModelRegistry().get(key);
  if (!Model) return [`${file}: unknown apiVersion/kind ${key}`];
  try {
    new Model(doc).validate();
    return [];
  } catch (error) {
    return [`${file}: ${String(d['kind'])} ${String(asObject(d['metadata'])['name'])}: ${(error as Error).message}`];
  }
}

/** A parsed manifest and the file it came from. */
export interface Manifest {
  readonly file: string;
  readonly doc: Json;
}

const KUSTOMIZATION_FIELDS = new Set([
  'apiVersion', 'kind', 'metadata', 'namespace', 'namePrefix', 'nameSuffix', 'resources', 'components', 'images', 'labels', 'commonLabels',
  'commonAnnotations', 'patches', 'replicas', 'configMapGenerator', 'secretGenerator', 'generatorOptions', 'replacements', 'buildMetadata',
]);

/** The keys of a Secret, from `stringData` and `data`. */
const secretKeysOf = (secret: Json): string[] => Object.keys({ ...asObject(secret['stringData']), ...asObject(secret['data']) });

/** Whether a Secret's keys are environment variable names (taken with envFrom), not file names (mounted as a volume). */
const isEnvSecret = (secret: Json): boolean => secretKeysOf(secret).every((key) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(key));

/** A `$(VAR)` reference in a container's arguments, which Kubernetes expands (`$$(VAR)` is an escaped one). */
const VARIABLE_REFERENCE = /(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g;

/** A container's command line: `args` under the image's entry point, or `command` followed by `args`. */
const containerCommand = (container: Json): string[] => [...commandLine(container['command']), ...commandLine(container['args'])];

/**
 * What the Kubernetes schemas cannot check: the kustomization lists exactly the other manifests and
 * names the Namespace; each of the five services has one Deployment (image, `OPTEX_SERVICE`,
 * a readiness probe on GET /health and a liveness probe on GET /live at the container's HTTP port, Prometheus scrape
 * annotations, CPU and memory requests and limits, non-root with a read-only root filesystem) and a
 * Service selecting its pods; `envFrom` names a ConfigMap or Secret that exists, and each service takes every
 * environment Secret, optionally; the ConfigMap sets the README variables; Secret values are placeholders (no real keys
 * in git), in `*.example.yaml` files the kustomization does not apply. One Deployment runs `optex api`, with the same
 * probes, limits and security, a Service, and the checks of {@link k8sApiProblems}.
 */
export function k8sProblems(
  manifests: readonly Manifest[],
  kustomization: { file: string; doc: unknown; dirFiles: readonly string[] },
  readme: readonly ReadmeEnvVar[],
  options: { readonly apiOptions?: ReadonlySet<string> } = {},
): string[] {
  const problems: string[] = [];
  const k = asObject(kustomization.doc);
  const kfile = kustomization.file;
  if (k['apiVersion'] !== 'kustomize.config.k8s.io/v1beta1' || k['kind'] !== 'Kustomization') problems.push(`${kfile}: apiVersion/kind must be kustomize.config.k8s.io/v1beta1 Kustomization`);
  for (const key of Object.keys(k)) if (!KUSTOMIZATION_FIELDS.has(key)) problems.push(`${kfile}: unknown field "${key}"`);
  const resources = asArray(k['resources']).map(String);
  const isExample = (f: string) => /\.example\.ya?ml$/.test(f);
  const expectedFiles = kustomization.dirFiles.filter((f) => f !== posix.basename(kfile) && !isExample(f));
  for (const f of expectedFiles) if (!resources.includes(f)) problems.push(`${kfile}: resources does not list ${f}`);
  for (const f of resources) {
    if (isExample(f)) problems.push(`${kfile}: resources lists ${f}, an example to create out of band (applied, its placeholders would replace the real values)`);
    else if (!expectedFiles.includes(f)) problems.push(`${kfile}: resources lists ${f}, which is not a manifest in this directory`);
  }
  const ofKind = (kind: string) => manifests.filter((m) => m.doc['kind'] === kind);
  const namespaces = ofKind('Namespace').map((m) => String(asObject(m.doc['metadata'])['name']));
  if (!namespaces.includes(String(k['namespace']))) problems.push(`${kfile}: namespace ${JSON.stringify(k['namespace'])} is not the Namespace manifest's (${namespaces.join(', ') || 'none'})`);
  for (const m of manifests) if (!asObject(m.doc['metadata'])['name']) problems.push(`${m.file}: ${String(m.doc['kind'])} has no metadata.name`);

  const names = (kind: string) => new Set(ofKind(kind).map((m) => String(asObject(m.doc['metadata'])['name'])));
  const configMaps = names('ConfigMap');
  const secrets = names('Secret');
  const serviceAccounts = names('ServiceAccount');

  for (const m of ofKind('ConfigMap')) problems.push(...envProblems(`${m.file}: data`, asObject(m.doc['data']), readme));
  for (const m of ofKind('Secret')) {
    for (const [key, value] of Object.entries({ ...asObject(m.doc['stringData']), ...asObject(m.doc['data']) })) {
      if (value !== 'CHANGE_ME') problems.push(`${m.file}: ${key} must stay the placeholder CHANGE_ME in git (create the real Secret out of band)`);
    }
  }

  const deployments = ofKind('Deployment');
  const k8sServices = ofKind('Service');
  const envSecrets = ofKind('Secret')
    .filter((secret) => isEnvSecret(secret.doc))
    .map((secret) => String(asObject(secret.doc['metadata'])['name']));
  const podContainers = (m: Manifest) => asArray(asObject(asObject(asObject(m.doc['spec'])['template'])['spec'])['containers']).map(asObject);
  const apiDeployments = deployments.filter((m) => podContainers(m).some((c) => runsOptexApi(containerCommand(c))));
  if (apiDeployments.length !== 1) problems.push(`deploy/k8s: ${apiDeployments.length} Deployments run optex api; expected exactly one (the HTTP API, the approval console and the webhooks)`);
  for (const m of apiDeployments) problems.push(...k8sApiProblems(m, manifests, options.apiOptions));
  for (const name of OPTEX_SERVICES) {
    const found = deployments.filter((m) => podContainers(m).some((c) => asArray(c['env']).some((e) => asObject(e)['name'] === 'OPTEX_SERVICE' && asObject(e)['value'] === name)));
    if (found.length !== 1) problems.push(`deploy/k8s: ${found.length} Deployments run OPTEX_SERVICE=${name}; expected exactly one`);
  }
  for (const m of deployments) {
    const where = `${m.file}: Deployment ${String(asObject(m.doc['metadata'])['name'])}`;
    const spec = asObject(m.doc['spec']);
    const template = asObject(spec['template']);
    const podLabels = asObject(asObject(template['metadata'])['labels']);
    const annotations = asObject(asObject(template['metadata'])['annotations']);
    const pod = asObject(template['spec']);
    const selector = asObject(asObject(spec['selector'])['matchLabels']);
    for (const [key, value] of Object.entries(selector)) if (podLabels[key] !== value) problems.push(`${where}: selector ${key}=${String(value)} does not match the pod template labels`);
    // The API's /metrics needs a reader token: it is not scraped (k8sApiProblems checks that it is not annotated).
    const isApi = apiDeployments.includes(m);
    if (!isApi && (annotations['prometheus.io/scrape'] !== 'true' || annotations['prometheus.io/path'] !== '/metrics' || !annotations['prometheus.io/port'])) problems.push(`${where}: pod template needs prometheus.io/scrape "true", prometheus.io/port and prometheus.io/path /metrics annotations`);
    if (pod['serviceAccountName'] && !serviceAccounts.has(String(pod['serviceAccountName']))) problems.push(`${where}: serviceAccountName ${String(pod['serviceAccountName'])} is not defined`);
    const podSecurity = asObject(pod['securityContext']);
    const containers = asArray(pod['containers']).map(asObject);
    if (containers.length === 0) problems.push(`${where}: no containers`);
    for (const c of containers) {
      const cw = `${where} container ${String(c['name'])}`;
      if (typeof c['image'] !== 'string' || c['image'] === '') problems.push(`${cw}: no image`);
      const ports = asArray(c['ports']).map(asObject);
      const env = Object.fromEntries(asArray(c['env']).map((e) => [String(asObject(e)['name']), asObject(e)['value']]));
      const configEnv = Object.assign({}, ...asArray(c['envFrom']).map((e) => asObject(e)['configMapRef']).filter(isObject).map((ref) => asObject(ofKind('ConfigMap').find((cm) => asObject(cm.doc['metadata'])['name'] === ref['name'])?.doc['data'])));
      const httpPort = Number(env['OPTEX_HTTP_PORT'] ?? configEnv['OPTEX_HTTP_PORT'] ?? 8080);
      const http = ports.find((p) => p['containerPort'] === httpPort);
      if (!http) problems.push(`${cw}: no containerPort ${httpPort} (OPTEX_HTTP_PORT)`);
      if (!isApi && String(annotations['prometheus.io/port']) !== String(httpPort)) problems.push(`${where}: prometheus.io/port ${String(annotations['prometheus.io/port'])} is not OPTEX_HTTP_PORT ${httpPort}`);
      // Readiness follows the store (/health); liveness must not (/live), or an outage of the store restarts every pod.
      for (const [probeName, path] of [['livenessProbe', '/live'], ['readinessProbe', '/health']] as const) {
        const get = asObject(asObject(c[probeName])['httpGet']);
        if (get['path'] !== path) problems.push(`${cw}: ${probeName} must be an httpGet on ${path}`);
        else if (get['port'] !== httpPort && (http === undefined || get['port'] !== http['name'])) problems.push(`${cw}: ${probeName} port ${String(get['port'])} is not the HTTP port ${httpPort}`);
      }
      const resources = asObject(c['resources']);
      for (const kind of ['requests', 'limits']) for (const r of ['cpu', 'memory']) if (!asObject(resources[kind])[r]) problems.push(`${cw}: resources.${kind}.${r} missing`);
      const security = asObject(c['securityContext']);
      if ((security['runAsNonRoot'] ?? podSecurity['runAsNonRoot']) !== true) problems.push(`${cw}: runAsNonRoot is not true`);
      if (security['readOnlyRootFilesystem'] !== true) problems.push(`${cw}: readOnlyRootFilesystem is not true`);
      if (security['allowPrivilegeEscalation'] !== false) problems.push(`${cw}: allowPrivilegeEscalation is not false`);
      // Secrets are created out of band (the manifests hold examples only): every service takes each environment Secret,
      // optionally (a file Secret, such as the API's auth file, is mounted where it is needed; the API takes the
      // environment Secrets its flags read, k8sApiProblems).
      for (const name of isApi ? [] : envSecrets) {
        const ref = asArray(c['envFrom']).map((e) => asObject(asObject(e)['secretRef'])).find((r) => r['name'] === name);
        if (ref?.['optional'] !== true) problems.push(`${cw}: envFrom must take Secret ${name} with optional: true`);
      }
      for (const from of asArray(c['envFrom']).map(asObject)) {
        const cm = asObject(from['configMapRef']);
        const secret = asObject(from['secretRef']);
        if (cm['name'] && !configMaps.has(String(cm['name'])) && cm['optional'] !== true) problems.push(`${cw}: envFrom ConfigMap ${String(cm['name'])} is not defined`);
        if (secret['name'] && !secrets.has(String(secret['name'])) && secret['optional'] !== true) problems.push(`${cw}: envFrom Secret ${String(secret['name'])} is not defined`);
      }
    }
    const svc = k8sServices.find((s) => {
      const sel = asObject(asObject(s.doc['spec'])['selector']);
      return Object.keys(sel).length > 0 && Object.entries(sel).every(([key, value]) => podLabels[key] === value);
    });
    if (!svc) problems.push(`${where}: no Service selects its pods`);
  }
  return problems;
}

/**
 * The checks of the Deployment that runs `optex api`: one replica with the Recreate strategy (the webhooks are sent by
 * exactly one process, and a rolling update would start a second beside it); no `prometheus.io/scrape` (its /metrics
 * needs a reader token, so an anonymous scrape would only show it down); every option one `optex api` declares;
 * `--host 0.0.0.0`, `--port` the HTTP port its probes and containerPort use, `--notifications on`, `--read-model`
 * `memory:` or under an emptyDir on a read-only root filesystem; `--store`, `--bus` and `--policy` the ConfigMap's
 * OPTEX_STORE, OPTEX_BUS and OPTEX_POLICY; every `$(VAR)` in its arguments defined by what it takes, and every Secret
 * that defines such a VAR taken (the optex-store override); `--auth` a key of a Secret the manifests define, mounted
 * read-only, from a volume that is not optional.
 */
export function k8sApiProblems(deployment: Manifest, manifests: readonly Manifest[], apiOptions?: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const where = `${deployment.file}: Deployment ${String(asObject(deployment.doc['metadata'])['name'])}`;
  const spec = asObject(deployment.doc['spec']);
  const template = asObject(spec['template']);
  const pod = asObject(template['spec']);
  const named = (kind: string, name: unknown) => manifests.find((m) => m.doc['kind'] === kind && asObject(m.doc['metadata'])['name'] === name);
  const replicas = spec['replicas'] ?? 1;
  if (replicas !== 1) problems.push(`${where}: replicas ${String(replicas)}; keep 1: the webhooks must be sent by exactly one process`);
  if (asObject(spec['strategy'])['type'] !== 'Recreate') problems.push(`${where}: strategy must be Recreate: a rolling update starts a second notifier beside the first`);
  if (asObject(asObject(template['metadata'])['annotations'])['prometheus.io/scrape'] === 'true') problems.push(`${where}: prometheus.io/scrape "true", but the API's /metrics needs a reader token: an anonymous scrape is refused (401) and shows the target down`);
  const volumes = asArray(pod['volumes']).map(asObject);
  for (const c of asArray(pod['containers']).map(asObject)) {
    const command = containerCommand(c);
    if (!runsOptexApi(command)) continue;
    const cw = `${where} container ${String(c['name'])}`;
    const options = commandOptions(command.slice(2));
    const shown = (name: string) => (options.has(name) ? JSON.stringify(options.get(name)) : 'not given');
    if (apiOptions) for (const name of options.keys()) if (!apiOptions.has(name)) problems.push(`${cw}: ${name} is not an option of optex api`);

    // What the container's environment defines: env, then envFrom's ConfigMaps and Secrets (as Kubernetes expands $(VAR)).
    const envFrom = asArray(c['envFrom']).map(asObject);
    const takenSecrets = new Set(envFrom.map((e) => asObject(e['secretRef'])['name']).filter(Boolean).map(String));
    const configData = Object.assign({}, ...envFrom.map((e) => asObject(e['configMapRef'])['name']).filter(Boolean).map((name) => asObject(named('ConfigMap', name)?.doc['data']))) as Json;
    const secretKeys = (m: Manifest) => secretKeysOf(m.doc);
    const defined = new Set([...asArray(c['env']).map((e) => String(asObject(e)['name'])), ...Object.keys(configData), ...manifests.filter((m) => m.doc['kind'] === 'Secret' && takenSecrets.has(String(asObject(m.doc['metadata'])['name']))).flatMap(secretKeys)]);
    for (const [, variable] of command.join(' ').matchAll(VARIABLE_REFERENCE)) {
      if (!defined.has(variable!)) problems.push(`${cw}: $(${variable}) is defined by no env, ConfigMap or Secret it takes: Kubernetes would pass it on literally`);
      for (const secret of manifests.filter((m) => m.doc['kind'] === 'Secret' && secretKeys(m).includes(variable!))) {
        const name = String(asObject(secret.doc['metadata'])['name']);
        if (!takenSecrets.has(name)) problems.push(`${cw}: envFrom must take Secret ${name} (optional: true): it overrides ${variable}, which its arguments use`);
      }
    }
    const env = Object.fromEntries(asArray(c['env']).map((e) => [String(asObject(e)['name']), asObject(e)['value']]));
    const resolve = (value: string | undefined) => value?.replace(VARIABLE_REFERENCE, (whole, name: string) => String(env[name] ?? configData[name] ?? whole));
    for (const [option, variable] of [['--store', 'OPTEX_STORE'], ['--bus', 'OPTEX_BUS'], ['--policy', 'OPTEX_POLICY']] as const) {
      const expected = configData[variable] === undefined ? undefined : String(configData[variable]);
      if (resolve(options.get(option)) !== expected) problems.push(`${cw}: ${option} ${shown(option)} is not the ConfigMap's ${variable} (${expected === undefined ? 'not set' : JSON.stringify(expected)}); give $(${variable})`);
    }
    if (options.get('--host') !== '0.0.0.0') problems.push(`${cw}: --host ${shown('--host')}: must be 0.0.0.0 in a pod (the default is loopback)`);
    const httpPort = Number(env['OPTEX_HTTP_PORT'] ?? configData['OPTEX_HTTP_PORT'] ?? 8080);
    if (Number(options.get('--port') ?? 8080) !== httpPort) problems.push(`${cw}: --port ${shown('--port')} is not the HTTP port ${httpPort} its probes and containerPort use`);
    if (options.get('--notifications') !== 'on') problems.push(`${cw}: --notifications ${shown('--notifications')}: the one API process must say on explicitly (it sends the policy's webhooks)`);

    const mounts = asArray(c['volumeMounts']).map(asObject);
    const volumeOf = (mount: Json) => volumes.find((v) => v['name'] === mount['name']);
    if (asObject(c['securityContext'])['readOnlyRootFilesystem'] === true) {
      const readModel = options.get('--read-model');
      const path = (readModel ?? '').replace(/^sqlite:/i, '');
      const emptyDirs = mounts.filter((m) => volumeOf(m)?.['emptyDir'] !== undefined).map((m) => String(m['mountPath']));
      const writable = readModel !== undefined && (/^memory:$/i.test(readModel.trim()) || (path.startsWith('/') && emptyDirs.some((dir) => isUnder(path, dir) && path !== dir)));
      if (!writable) problems.push(`${cw}: --read-model ${readModel === undefined ? 'not given (.optex/read-model.db)' : JSON.stringify(readModel)} cannot be written on a read-only root filesystem; give memory: or a file under an emptyDir (${emptyDirs.join(', ') || 'none'})`);
    }

    const auth = options.get('--auth');
    if (!auth) {
      problems.push(`${cw}: --auth FILE missing (the API refuses to start without its auth file)`);
      continue;
    }
    const mount = mounts.filter((m) => isUnder(auth, String(m['mountPath']))).sort((a, b) => String(b['mountPath']).length - String(a['mountPath']).length)[0];
    const secretVolume = mount ? asObject(volumeOf(mount)?.['secret']) : {};
    if (!mount || !secretVolume['secretName']) {
      problems.push(`${cw}: --auth ${auth} is not in a mounted Secret volume`);
      continue;
    }
    if (mount['readOnly'] !== true) problems.push(`${cw}: volumeMount ${String(mount['name'])} (--auth) must be readOnly: true`);
    if (secretVolume['optional'] === true) problems.push(`${cw}: the Secret volume of --auth is optional, but the API cannot start without its auth file`);
    const secret = named('Secret', secretVolume['secretName']);
    if (!secret) {
      problems.push(`${cw}: Secret ${String(secretVolume['secretName'])} (--auth) is not defined: add its example to secret.example.yaml`);
      continue;
    }
    const relative = mount['subPath'] ? String(mount['subPath']) : auth.slice(String(mount['mountPath']).replace(/\/+$/, '').length + 1);
    const items = asArray(secretVolume['items']).map(asObject);
    const key = items.length > 0 ? items.find((item) => item['path'] === relative)?.['key'] : relative;
    const keys = secretKeys(secret);
    if (typeof key !== 'string' || !keys.includes(key)) problems.push(`${cw}: Secret ${String(secretVolume['secretName'])} has no key for --auth ${auth} (its keys: ${keys.join(', ') || 'none'})`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Dockerfile and .dockerignore

/** One instruction of a Dockerfile: keyword and arguments, continuation lines joined. */
export interface DockerInstruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

/** Splits a Dockerfile into instructions (comments dropped, `\` continuations joined). */
export function parseDockerfile(text: string): DockerInstruction[] {
  const instructions: DockerInstruction[] = [];
  let buffer = '';
  let start = 0;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (buffer === '' && (line === '' || line.startsWith('#'))) continue;
    if (buffer !== '' && line.startsWith('#')) continue;
    if (buffer === '') start = i + 1;
    buffer += (buffer ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(buffer)!;
    instructions.push({ keyword: m[1]!.toUpperCase(), args: m[2]!, line: start });
    buffer = '';
  }
  return instructions;
}

/**
 * Whether `.dockerignore` keeps `path` out of the build context (Docker's rules: patterns relative to
 * the context root, `*` within one segment, `**` across segments, a pattern also matches everything
 * below a matched directory, the last matching pattern wins, `!` re-includes).
 */
export function dockerIgnored(dockerignore: string, path: string): boolean {
  let ignored = false;
  for (const raw of dockerignore.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pattern = posix.normalize((negate ? line.slice(1) : line).trim()).replace(/^\/+/, '').replace(/\/+$/, '');
    const source = pattern
      .split('/')
      .map((seg) => (seg === '**' ? '(?:.*)' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
      .join('/')
      .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
    if (new RegExp(`^${source}(?:/.*)?$`).test(path)) ignored = !negate;
  }
  return ignored;
}

/**
 * Problems with the Dockerfile: a multi-stage build on node 20 slim with a build stage (python3,
 * make, g++, `npm ci`, `npm run build`, `npm prune --omit=dev`) and a runtime stage that runs as a
 * non-root user with NODE_ENV=production, OPTEX_SERVICE, a HEALTHCHECK and an entry point; every
 * `COPY` from the context names a file that exists and that `.dockerignore` does not exclude.
 */
export function dockerfileProblems(dockerfile: string, dockerignore: string, exists: (relativePath: string) => boolean): string[] {
  const file = 'Dockerfile';
  const problems: string[] = [];
  const all = parseDockerfile(dockerfile);
  const args = new Map(all.filter((i) => i.keyword === 'ARG').map((i) => i.args.split('=') as [string, string?]).map(([k, v]) => [k.trim(), v?.trim() ?? '']));
  const stages: DockerInstruction[][] = [];
  for (const instruction of all) {
    if (instruction.keyword === 'FROM') stages.push([]);
    stages.at(-1)?.push(instruction);
  }
  if (stages.length < 2) problems.push(`${file}: expected a multi-stage build (build + runtime), found ${stages.length} stage(s)`);
  for (const stage of stages) {
    const from = stage[0]!.args.split(/\s+/)[0]!.replace(/^\$\{(\w+)\}$/, (_, name: string) => args.get(name) ?? name);
    if (!/^node:20(\.[\d.]+)?-bookworm-slim$/.test(from)) problems.push(`${file}:${stage[0]!.line}: FROM ${from}: expected node:20-bookworm-slim`);
  }
  const build = stages[0] ?? [];
  const runtime = stages.at(-1) ?? [];
  const runs = build.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' && ');
  for (const needed of ['python3', 'make', 'g++', 'npm ci', 'npm run build', 'npm prune --omit=dev']) if (!runs.includes(needed)) problems.push(`${file}: the build stage does not run "${needed}"`);
  const env = runtime.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
  if (!/\bNODE_ENV=production\b/.test(env)) problems.push(`${file}: the runtime stage does not set NODE_ENV=production`);
  if (!/\bOPTEX_SERVICE=/.test(env) || !runtime.some((i) => i.keyword === 'ARG' && i.args.startsWith('OPTEX_SERVICE'))) problems.push(`${file}: the runtime stage needs ARG and ENV OPTEX_SERVICE`);
  const user = runtime.filter((i) => i.keyword === 'USER').at(-1)?.args;
  if (!user || /^(root|0)(:|$)/.test(user)) problems.push(`${file}: the runtime stage must end as a non-root USER, got ${JSON.stringify(user)}`);
  if (!runtime.some((i) => i.keyword === 'HEALTHCHECK' && /\/health|healthcheck/.test(i.args))) problems.push(`${file}: the runtime stage has no HEALTHCHECK on /health`);
  if (!runtime.some((i) => i.keyword === 'ENTRYPOINT' || i.keyword === 'CMD')) problems.push(`${file}: the runtime stage has neither ENTRYPOINT nor CMD`);
  for (const copy of all.filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))) {
    const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    for (const source of parts.slice(0, -1)) {
      const path = posix.normalize(source).replace(/\/$/, '');
      if (!exists(path)) problems.push(`${file}:${copy.line}: COPY ${source}: no such file in the build context`);
      else if (dockerIgnored(dockerignore, path)) problems.push(`${file}:${copy.line}: COPY ${source}: excluded by .dockerignore`);
    }
  }
  return problems;
}
