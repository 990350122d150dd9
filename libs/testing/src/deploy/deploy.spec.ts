// The deployment files (Dockerfile, docker-compose.yml, deploy/**) cannot be run on this machine
// (no Docker engine, no cluster), so they are checked here: every YAML file parses, compose against
// the Compose specification schema, each Kubernetes manifest against the Kubernetes OpenAPI schema
// of its kind, and the cross-file facts a schema cannot see (deploy-checks.ts). Every check is also
// run once on a deliberately broken copy, so that none of them can pass vacuously.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { join, relative } from 'node:path';
import {
  alertRulesProblems,
  OPTEX_API,
  OPTEX_SERVICES,
  commandOptions,
  composeInterpolated,
  composeLintProblems,
  composeProblems,
  composeSchemaProblems,
  dashboardProblems,
  dockerIgnored,
  dockerfileProblems,
  grafanaProvisioningProblems,
  k8sProblems,
  k8sSchemaProblems,
  optexApiOptions,
  parseYamlDocuments,
  prometheusProblems,
  promqlMetricNames,
  readmeEnvVars,
  type Manifest,
} from './deploy-checks';

const root = join(__dirname, '../../../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const exists = (path: string) => existsSync(join(root, path));
const yamlOf = (path: string) => parseYamlDocuments(read(path), path);
const clone = <T>(value: T): T => structuredClone(value);
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- free-form edits of parsed files
type EditableManifest = Manifest & { readonly doc: Json };

/** Every YAML file of the deployment, relative to the repository root. */
function yamlFiles(): string[] {
  const found: string[] = ['docker-compose.yml'];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(entry.name)) found.push(path);
    }
  };
  walk('deploy');
  return found.sort();
}

const readme = readmeEnvVars(read('README.md'));
const compose = yamlOf('docker-compose.yml')[0] as Json;
/** The options `optex api` declares: every one the deployment files give it must be among them. */
const apiOptions = optexApiOptions(read('apps/optex/src/cli/program.ts'));
const composeContext = { readme, exists, apiOptions };
/** `command` with option `name` set to `value` (appended when missing), or left out (`undefined`). */
const withOption = (command: string[], name: string, value: string | undefined): string[] => {
  const i = command.indexOf(name);
  const without = i < 0 ? command : [...command.slice(0, i), ...command.slice(i + 2)];
  return value === undefined ? without : [...without, name, value];
};
const k8sDir = 'deploy/k8s';
const k8sFiles = readdirSync(join(root, k8sDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
const manifests: EditableManifest[] = k8sFiles.filter((f) => f !== 'kustomization.yaml').flatMap((f) => yamlOf(`${k8sDir}/${f}`).map((doc) => ({ file: `${k8sDir}/${f}`, doc: doc as Json })));
const kustomization = { file: `${k8sDir}/kustomization.yaml`, doc: yamlOf(`${k8sDir}/kustomization.yaml`)[0], dirFiles: k8sFiles };

/**
 * The series the services export, read from the metric definitions (libs/services/engine/src/metrics.ts;
 * read as text because importing @optex/engine here would make testing -> engine -> domain -> testing
 * a cycle). Histograms and summaries are expanded to their `_bucket`/`_sum`/`_count` series.
 */
function exportedSeries(files: readonly string[] = ['libs/services/engine/src/metrics.ts']): Set<string> {
  const source = files.map(read).join('\n');
  const names = new Set<string>();
  for (const m of source.matchAll(/new (Counter|Gauge|Histogram|Summary)\(\{\s*name:\s*'([a-z_:][a-z0-9_:]*)'/g)) {
    names.add(m[2]!);
    if (m[1] === 'Histogram' || m[1] === 'Summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m[2]}${suffix}`);
  }
  return names;
}
/** The metrics the dashboard must show (the contract list of the design and the brief). */
const REQUIRED_METRICS = [
  'optex_executions_total',
  'optex_execution_duration_seconds',
  'optex_rollbacks_total',
  'optex_realized_savings_usd_total',
  'optex_queue_depth',
  'optex_active_executions',
  'optex_approvals_total',
  'optex_pending_approvals',
  'optex_consumer_lag',
  'optex_messages_total',
  'optex_recommendations_total',
  'optex_validations_total',
];
const dashboardContext = () => ({ allowedMetrics: exportedSeries(), requiredMetrics: REQUIRED_METRICS, datasourceUid: 'optex-prometheus' });
const dashboard = () => JSON.parse(read('deploy/grafana/dashboards/optex.json')) as Json;

describe('every YAML file of the deployment', () => {
  it.each(yamlFiles())('%s parses (merge keys resolved, no duplicate keys)', (file) => {
    expect(yamlOf(file).length).toBeGreaterThan(0);
  });

  it('a syntax error or a duplicate key is reported with the file name', () => {
    expect(() => parseYamlDocuments('a: [1, 2\n', 'broken.yml')).toThrow(/broken\.yml/);
    expect(() => parseYamlDocuments('a: 1\na: 2\n', 'dup.yml')).toThrow(/dup\.yml.*[Dd]uplicate|dup\.yml.*unique/s);
  });
});

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema', () => {
    expect(composeSchemaProblems(compose)).toEqual([]);
  });

  it('the schema rejects an unknown service key and a wrong depends_on condition', () => {
    const broken = clone(compose);
    broken.services.executor.helthcheck = broken.services.executor.healthcheck;
    broken.services.approval.depends_on.kafka.condition = 'service_ready';
    const problems = composeSchemaProblems(broken);
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining('/services/executor must NOT have additional properties (helthcheck)')]));
    expect(problems.some((p) => p.includes('/services/approval/depends_on'))).toBe(true);
  });

  it('expands the x-optex-service anchor into five services built from the one Dockerfile', () => {
    for (const name of OPTEX_SERVICES) {
      expect(compose.services[name]).toMatchObject({ image: 'optex:local', build: { context: '.', dockerfile: 'Dockerfile' }, environment: { OPTEX_SERVICE: name } });
    }
  });

  it('has a healthcheck and restart policy everywhere, every README variable on each optex service, and consistent wiring', () => {
    expect(composeProblems(compose, composeContext)).toEqual([]);
  });

  it.each([
    ['a service without a healthcheck', (c: Json) => delete c.services.validator.healthcheck, 'services.validator.healthcheck: missing or disabled'],
    ['a misspelt OPTEX_ variable', (c: Json) => (c.services.scheduler.environment.OPTEX_BATCHMODE = 'parallel'), 'OPTEX_BATCHMODE is not a variable the README lists'],
    ['a README variable left out', (c: Json) => delete c.services.executor.environment.OPTEX_MAX_ATTEMPTS, 'services.executor.environment: OPTEX_MAX_ATTEMPTS is not set'],
    ['a bus address Kafka does not advertise', (c: Json) => (c.services.approval.environment.OPTEX_BUS = 'kafka://kafka:9999'), 'OPTEX_BUS: "kafka://kafka:9999" is not a listener Kafka advertises'],
    ['two relays', (c: Json) => (c.services.executor.environment.OPTEX_RELAY = 'true'), '2 optex services set OPTEX_RELAY=true'],
    ['a reused host port', (c: Json) => (c.services.validator.ports = ['127.0.0.1:9101:8080']), 'host port 9101 is already published by risk-assessor'],
    ['a host port open on every interface', (c: Json) => (c.services.moto.ports = ['5000:5000']), 'services.moto.ports: 5000:5000 is not bound to 127.0.0.1'],
    ['a dependency on a missing service', (c: Json) => (c.services.grafana.depends_on = { prometheus2: { condition: 'service_healthy' } }), 'services.grafana.depends_on.prometheus2: no such service'],
    ['an untagged image', (c: Json) => (c.services.prometheus.image = 'prom/prometheus'), 'has no explicit version tag'],
    ['a bind mount of a missing file', (c: Json) => (c.services.prometheus.volumes[0] = './deploy/prometheus/missing.yml:/etc/prometheus/prometheus.yml:ro'), './deploy/prometheus/missing.yml does not exist'],
    ['Kafka not in KRaft combined mode', (c: Json) => (c.services.kafka.environment.KAFKA_PROCESS_ROLES = 'broker'), 'KAFKA_PROCESS_ROLES: expected broker,controller'],
    ['a version key', (c: Json) => (c.version = '3.8'), 'has a "version" key'],
  ])('reports %s', (_, breakIt, expected) => {
    const broken = clone(compose);
    breakIt(broken);
    expect(composeProblems(broken, composeContext)).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  it('runs optex api: the CLI through the entry point, in the services\' image, on their store and bus, with its auth file read-only, on loopback only', () => {
    const api = compose.services[OPTEX_API];
    expect(api).toMatchObject({ image: compose.services.approval.image, read_only: true, ports: ['127.0.0.1:8080:8080'], healthcheck: { test: ['CMD', 'node', '/app/deploy/docker/healthcheck.cjs'] } });
    expect(api.command.slice(0, 2)).toEqual(['optex', 'api']);
    expect(Object.fromEntries(commandOptions(api.command.slice(2)))).toEqual({
      '--store': compose.services.approval.environment.OPTEX_STORE,
      '--bus': 'kafka://kafka:19092',
      '--auth': '/etc/optex/auth.json',
      '--host': '0.0.0.0',
      '--port': '8080',
      '--read-model': 'memory:',
      '--notifications': 'on',
    });
    // It gets no OPTEX_SERVICE (the entry point runs the CLI when given a command) and no AWS credentials.
    expect(Object.keys(api.environment).filter((name) => !name.startsWith('OPTEX_') || name === 'OPTEX_SERVICE')).toEqual([]);
    expect(api.volumes).toEqual([{ type: 'bind', source: '${OPTEX_API_AUTH:-./.optex/api-auth.json}', target: '/etc/optex/auth.json', read_only: true, bind: { create_host_path: false } }]);
  });

  const apiCommand = (c: Json, name: string, value: string | undefined) => (c.services.api.command = withOption(c.services.api.command, name, value));
  it.each([
    ['no api service', (c: Json) => delete c.services.api, 'services.api: missing'],
    ['no api service, so nothing sends the webhooks', (c: Json) => delete c.services.api, '0 optex api processes send the webhooks (none)'],
    ['an api service that runs a service instead of the CLI', (c: Json) => delete c.services.api.command, 'services.api.command: must run the CLI through the image\'s entry point'],
    ['another image', (c: Json) => (c.services.api.image = 'optex:other'), 'services.api.image: "optex:other" is not the services\' image "optex:local"'],
    ['an option optex api does not have', (c: Json) => apiCommand(c, '--read_model', 'memory:'), 'services.api.command: --read_model is not an option of optex api'],
    ['a misspelt OPTEX_ variable', (c: Json) => (c.services.api.environment.OPTEX_LOGLEVEL = 'info'), 'services.api.environment: OPTEX_LOGLEVEL is not a variable the README lists'],
    ['another store', (c: Json) => apiCommand(c, '--store', 'esdb://localhost:2113?tls=false'), 'services.api.command: --store "esdb://localhost:2113?tls=false" is not the services\' OPTEX_STORE ("esdb://eventstore:2113?tls=false")'],
    ['no store (the default sqlite: file)', (c: Json) => apiCommand(c, '--store', undefined), '--store not given is not the services\' OPTEX_STORE'],
    ['Kafka\'s EXTERNAL listener', (c: Json) => apiCommand(c, '--bus', 'kafka://localhost:9092'), '--bus "kafka://localhost:9092" is not the services\' OPTEX_BUS ("kafka://kafka:19092")'],
    ['a bus address Kafka does not advertise', (c: Json) => apiCommand(c, '--bus', 'kafka://kafka:9999'), '--bus "kafka://kafka:9999" is not a listener Kafka advertises'],
    ['not waiting for the store', (c: Json) => delete c.services.api.depends_on.eventstore, 'services.api.depends_on: does not wait for eventstore (--store)'],
    ['services on a policy file the API is not given', (c: Json) => OPTEX_SERVICES.forEach((name) => (c.services[name].environment.OPTEX_POLICY = '/app/examples/policy.json')), '--policy not given is not the services\' OPTEX_POLICY ("/app/examples/policy.json")'],
    ['no auth file', (c: Json) => apiCommand(c, '--auth', undefined), 'services.api.command: --auth FILE missing'],
    ['an auth file on no mount', (c: Json) => (c.services.api.volumes = []), 'services.api.volumes: --auth /etc/optex/auth.json is on no mounted file or directory'],
    ['an auth file mounted read-write (long syntax)', (c: Json) => (c.services.api.volumes[0].read_only = false), 'services.api.volumes: /etc/optex/auth.json (--auth) is mounted read-write'],
    ['an auth file mounted read-write (short syntax)', (c: Json) => (c.services.api.volumes = ['${OPTEX_API_AUTH:-./.optex/api-auth.json}:/etc/optex/auth.json']), 'services.api.volumes: /etc/optex/auth.json (--auth) is mounted read-write'],
    ['the default loopback host', (c: Json) => apiCommand(c, '--host', undefined), '--host not given: must be 0.0.0.0 in a container'],
    ['a port the health check does not ask', (c: Json) => apiCommand(c, '--port', '8081'), '--port 8081 is not OPTEX_HTTP_PORT 8080, where healthcheck.cjs asks /health'],
    ['a port not published', (c: Json) => apiCommand(c, '--port', '8081'), 'services.api.ports: does not publish --port 8081'],
    ['the API published on every interface', (c: Json) => (c.services.api.ports = ['8080:8080']), 'services.api.ports: 8080:8080 is not bound to 127.0.0.1'],
    ['a health check other than healthcheck.cjs', (c: Json) => (c.services.api.healthcheck.test = ['CMD', 'true']), 'services.api.healthcheck: must run the image\'s deploy/docker/healthcheck.cjs'],
    ['the default read model on the read-only root filesystem', (c: Json) => apiCommand(c, '--read-model', undefined), '--read-model not given (.optex/read-model.db) cannot be written on a read-only root filesystem; give memory: or a file under a tmpfs (/tmp)'],
    ['a read model file outside the tmpfs', (c: Json) => apiCommand(c, '--read-model', '/app/.optex/read-model.db'), '--read-model "/app/.optex/read-model.db" cannot be written'],
    ['notifications left to the default', (c: Json) => apiCommand(c, '--notifications', undefined), '--notifications not given: the one API process must say on explicitly'],
    ['notifications off', (c: Json) => apiCommand(c, '--notifications', 'off'), '0 optex api processes send the webhooks (none); exactly one must'],
    ['a second API process that notifies too', (c: Json) => (c.services['api-2'] = { ...clone(c.services.api), ports: ['127.0.0.1:8081:8080'] }), '2 optex api processes send the webhooks (api, api-2); exactly one must'],
    ['two replicas of the API', (c: Json) => (c.services.api.deploy = { replicas: 2 }), '2 optex api processes send the webhooks (api)'],
  ])('reports %s', (_, breakIt, expected) => {
    const broken = clone(compose);
    breakIt(broken);
    expect(composeProblems(broken, composeContext)).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  it('accepts a read model file under the tmpfs, and a second API process with --notifications off', () => {
    const variant = clone(compose);
    variant.services.api.command = withOption(variant.services.api.command, '--read-model', '/tmp/read-model.db');
    variant.services['api-readonly'] = { ...clone(variant.services.api), command: withOption(variant.services.api.command, '--notifications', 'off'), ports: ['127.0.0.1:8081:8080'] };
    expect(composeProblems(variant, composeContext)).toEqual([]);
  });

  it('reads the options of optex api from the CLI, and command lines and interpolations as Compose does', () => {
    expect([...apiOptions].sort()).toEqual(['--auth', '--bus', '--host', '--notifications', '--policy', '--port', '--read-model', '--store']);
    expect(Object.fromEntries(commandOptions(['--a', '1', '--b=2', '--c', '--d', 'x', '--a', '3']))).toEqual({ '--a': '3', '--b': '2', '--c': '', '--d': 'x' });
    expect(composeInterpolated('${OPTEX_API_AUTH:-./.optex/api-auth.json}')).toEqual({ value: './.optex/api-auth.json', fromVariable: true });
    expect(composeInterpolated('${OPTEX_CLOUD-aws:http://moto:5000}')).toEqual({ value: 'aws:http://moto:5000', fromVariable: true });
    expect(composeInterpolated('./deploy/prometheus/prometheus.yml')).toEqual({ value: './deploy/prometheus/prometheus.yml', fromVariable: false });
  });

  it('passes the correctness rules of dclint (bound ports, explicit tags, no duplicates)', () => {
    expect(composeLintProblems(join(root, 'docker-compose.yml'))).toEqual([]);
  });

  it('dclint reports an unbound port and an untagged image in a broken copy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'optex-deploy-'));
    try {
      const text = read('docker-compose.yml').replace('"127.0.0.1:9090:9090"', '"9090:9090"').replace('prom/prometheus:v3.5.0', 'prom/prometheus:latest');
      writeFileSync(join(dir, 'docker-compose.yml'), text);
      const problems = composeLintProblems(join(dir, 'docker-compose.yml'));
      expect(problems.some((p) => p.includes('no-unbound-port-interfaces'))).toBe(true);
      expect(problems.some((p) => p.includes('service-image-require-explicit-tag'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Prometheus and Grafana', () => {
  const prometheus = () => yamlOf('deploy/prometheus/prometheus.yml')[0] as Json;

  it('Prometheus scrapes exactly the five services on their HTTP port, and the API with a reader token from a read-only mount', () => {
    expect(prometheusProblems(prometheus(), compose)).toEqual([]);
    expect(alerts().groups[0].rules.map((r: Json) => r.alert)).toEqual(expect.arrayContaining(['OptexWebhookFailing', 'OptexApiNotScraped']));
  });

  it('reports a missing, an extra and a wrong-port target', () => {
    const broken = prometheus();
    const configs = broken.scrape_configs[0].static_configs;
    configs[0].targets = ['risk-assessor:9101'];
    configs.push({ targets: ['kafka:9092'] });
    configs.splice(1, 1);
    expect(prometheusProblems(broken, compose)).toEqual([
      'deploy/prometheus/prometheus.yml: scrapes risk-assessor:9101, which is not one of the five optex services nor the API',
      'deploy/prometheus/prometheus.yml: scrapes kafka:9092, which is not one of the five optex services nor the API',
      'deploy/prometheus/prometheus.yml: does not scrape risk-assessor:8080',
      'deploy/prometheus/prometheus.yml: does not scrape approval:8080',
    ]);
  });

  it('reports the API scraped without a token, a token file Prometheus is not given, and a token sent to a service', () => {
    const apiJob = (config: Json) => config.scrape_configs.findIndex((job: Json) => job.static_configs.some((c: Json) => c.targets.includes('api:8080')));
    const anonymous = prometheus();
    delete anonymous.scrape_configs[apiJob(anonymous)].authorization;
    const i = apiJob(anonymous);
    expect(prometheusProblems(anonymous, compose)).toEqual([`deploy/prometheus/prometheus.yml: scrape_configs[${i}]: scrapes api:8080 without a reader token (authorization.credentials_file, type Bearer): its /metrics answers 401`]);
    const unmounted = prometheus();
    unmounted.scrape_configs[i].authorization.credentials_file = '/run/secrets/api-token';
    expect(prometheusProblems(unmounted, compose)).toEqual([
      `deploy/prometheus/prometheus.yml: scrape_configs[${i}]: authorization.credentials_file /run/secrets/api-token is in no directory docker-compose.yml mounts read-only into the prometheus service (/etc/prometheus/prometheus.yml, /etc/prometheus/alerts.yml, /etc/prometheus/optex)`,
    ]);
    const leaking = prometheus();
    leaking.scrape_configs[0].authorization = { type: 'Bearer', credentials_file: '/etc/prometheus/optex/api-token' };
    expect(prometheusProblems(leaking, compose)).toEqual(
      ['risk-assessor', 'approval', 'scheduler', 'executor', 'validator'].map((s) => `deploy/prometheus/prometheus.yml: scrape_configs[0]: sends a token to ${s}:8080, whose /metrics needs none: keep tokens to the API's job`),
    );
  });

  const alerts = () => yamlOf('deploy/prometheus/alerts.yml')[0] as Json;
  /**
   * What optex exports: the services' metrics, the API's (its read model's gauges and the webhook notifier's) and
   * Node's process metrics (prom-client's defaults, prefixed optex_).
   */
  const seriesWithProcess = (): Set<string> => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'optex_' });
    const api = exportedSeries(['libs/api/src/api-app.ts', 'libs/platform/messaging/src/notify/webhook-notifier.ts']);
    return new Set([...exportedSeries(), ...api, ...registry.getMetricsAsArray().map((m) => m.name)]);
  };

  it('Prometheus loads the alerting rules compose mounts; each names exported metrics, reads counters over a range, has a severity and says what to do', () => {
    expect(alertRulesProblems(alerts(), prometheus(), compose, seriesWithProcess())).toEqual([]);
    expect(alerts().groups[0].rules.map((r: Json) => r.alert)).toEqual(expect.arrayContaining(['OptexServiceDown', 'OptexRollbackFailed', 'OptexDeadLetters']));
  });

  it('reports rules that are not loaded, a metric not exported, a raw counter, a bad severity and a missing description', () => {
    const broken = alerts();
    const [down, rollback, deadLetters] = broken.groups[0].rules as Json[];
    down!.expr = 'optex_service_up == 0';
    rollback!.expr = 'sum(optex_rollbacks_total{result="failed"}) > 0';
    deadLetters!.labels.severity = 'page';
    delete deadLetters!.annotations.description;
    const unloaded = { ...prometheus(), rule_files: ['/etc/prometheus/rules.yml'] };
    expect(alertRulesProblems(broken, unloaded, compose, seriesWithProcess())).toEqual([
      'deploy/prometheus/prometheus.yml: rule_files does not load deploy/prometheus/alerts.yml where docker-compose.yml mounts it (/etc/prometheus/rules.yml)',
      'deploy/prometheus/alerts.yml: optex.rules[0] OptexServiceDown: uses optex_service_up, which the services do not export',
      'deploy/prometheus/alerts.yml: optex.rules[1] OptexRollbackFailed: reads the counter optex_rollbacks_total raw; use increase() or rate() over a range, which a restart does not reset',
      'deploy/prometheus/alerts.yml: optex.rules[2] OptexDeadLetters: labels.severity must be critical or warning, got "page"',
      'deploy/prometheus/alerts.yml: optex.rules[2] OptexDeadLetters: annotations.description missing',
    ]);
  });

  it('the services define every metric the dashboard must show', () => {
    const series = exportedSeries();
    expect(series.has('optex_execution_duration_seconds_bucket')).toBe(true);
    expect(REQUIRED_METRICS.filter((m) => !series.has(m))).toEqual([]);
  });

  it('the dashboard parses and its panels name only exported optex_ metrics, covering every required one', () => {
    expect(dashboardProblems(dashboard(), dashboardContext())).toEqual([]);
  });

  it('reports a misspelt metric, a foreign metric, a raw counter, a broken expression and a missing panel', () => {
    const broken = dashboard();
    const panels = broken.panels as Json[];
    const executions = panels.find((p) => p.title === 'Executions by result')!;
    executions.targets[0].expr = 'sum by (result) (rate(optex_execution_total[$__rate_interval]))';
    const lag = panels.find((p) => p.title === 'Consumer lag')!;
    lag.targets[0].expr = 'sum(kafka_consumergroup_lag)';
    const queue = panels.find((p) => p.title === 'Queue depth')!;
    queue.targets[0].expr = 'sum(optex_queue_depth';
    const savings = panels.find((p) => p.title === 'Realized savings in range (USD / month)')!;
    savings.targets[0].expr = 'sum(optex_realized_savings_usd_total{action="rightsize"})';
    const problems = dashboardProblems(broken, dashboardContext());
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('reads the counter optex_realized_savings_usd_total raw; use increase() or rate()'),
        expect.stringContaining('uses optex_execution_total, which the services do not export'),
        expect.stringContaining('uses kafka_consumergroup_lag, not an optex_ metric'),
        expect.stringContaining('unbalanced parentheses'),
      ]),
    );
    // optex_executions_total is still shown by the success-rate stat; the consumer lag no longer is.
    expect(problems).toContain('deploy/grafana/dashboards/optex.json: no panel shows optex_consumer_lag');
  });

  it('reads metric names out of PromQL, skipping functions, labels, durations and variables', () => {
    expect(promqlMetricNames('histogram_quantile(0.95, sum by (le, action) (rate(optex_execution_duration_seconds_bucket{action=~"a|b"}[5m])))')).toEqual(['optex_execution_duration_seconds_bucket']);
    expect(promqlMetricNames('sum(increase(optex_executions_total{result="succeeded"}[$__range])) / sum(increase(optex_executions_total[1h] offset 1d))')).toEqual(['optex_executions_total']);
    expect(promqlMetricNames('up == 0 or optex_queue_depth > bool 2')).toEqual(['up', 'optex_queue_depth']);
  });

  it('Grafana provisions the compose Prometheus and the dashboard directory compose mounts', () => {
    const datasources = yamlOf('deploy/grafana/provisioning/datasources/prometheus.yml')[0];
    const providers = yamlOf('deploy/grafana/provisioning/dashboards/optex.yml')[0] as Json;
    expect(grafanaProvisioningProblems(datasources, providers, compose)).toEqual([]);
    expect((datasources as Json).datasources[0].uid).toBe(dashboardContext().datasourceUid);
    const broken = clone(providers);
    broken.providers[0].options.path = '/var/lib/grafana/elsewhere';
    expect(grafanaProvisioningProblems(datasources, broken, compose)).toEqual(['deploy/grafana/provisioning/dashboards: no provider reads /var/lib/grafana/dashboards/optex']);
  });
});

describe('Kubernetes manifests (deploy/k8s)', () => {
  it.each(manifests.map((m) => [`${m.file} ${String(m.doc.kind)}`, m] as const))('%s is valid against the Kubernetes schema of its kind', (_, manifest) => {
    expect(k8sSchemaProblems(manifest.doc, manifest.file)).toEqual([]);
  });

  it('the schema rejects a wrong type, a missing required field and an unknown kind', () => {
    const deployment = clone(manifests.find((m) => m.doc.kind === 'Deployment')!.doc);
    deployment.spec.template.spec.containers[0].ports[0].containerPort = '8080';
    expect(k8sSchemaProblems(deployment, 'x.yaml')).toEqual([expect.stringContaining('containerPort must be integer')]);
    const noSelector = clone(manifests.find((m) => m.doc.kind === 'Deployment')!.doc);
    delete noSelector.spec.selector;
    expect(k8sSchemaProblems(noSelector, 'x.yaml')).toEqual([expect.stringContaining('data/spec must have required property selector')]);
    expect(k8sSchemaProblems({ apiVersion: 'apps/v1', kind: 'Deploymnet' }, 'x.yaml')).toEqual(['x.yaml: unknown apiVersion/kind apps/v1/Deploymnet']);
  });

  it('has one probed, annotated, limited, non-root Deployment and a Service per optex service, and one for the API; the kustomization lists every file', () => {
    expect(manifests.filter((m) => m.doc.kind === 'Deployment').map((m) => m.doc.metadata.name).sort()).toEqual(['optex-api', ...OPTEX_SERVICES.map((name) => `optex-${name}`)].sort());
    expect(k8sProblems(manifests, kustomization, readme, { apiOptions })).toEqual([]);
  });

  it('runs optex api in one pod (Recreate), its flags from the ConfigMap, its auth file from a Secret, not scraped', () => {
    const api = manifests.find((m) => m.doc.kind === 'Deployment' && m.doc.metadata.name === 'optex-api')!.doc;
    expect(api.spec).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
    expect(api.spec.template.metadata.annotations).toBeUndefined();
    const container = api.spec.template.spec.containers[0];
    expect(container.args.slice(0, 2)).toEqual(['optex', 'api']);
    expect(Object.fromEntries(commandOptions(container.args.slice(2)))).toEqual({
      '--store': '$(OPTEX_STORE)',
      '--bus': '$(OPTEX_BUS)',
      '--auth': '/etc/optex/auth/auth.json',
      '--host': '0.0.0.0',
      '--port': '8080',
      '--read-model': 'memory:',
      '--notifications': 'on',
    });
    expect(container.envFrom.map((e: Json) => e.configMapRef?.name ?? e.secretRef?.name)).toEqual(['optex-config', 'optex-store']);
    expect(container.env).toBeUndefined();
    expect(api.spec.template.spec.volumes).toContainEqual({ name: 'auth', secret: { secretName: 'optex-api-auth', defaultMode: 0o440 } });
    expect(manifests.find((m) => m.doc.kind === 'Secret' && m.doc.metadata.name === 'optex-api-auth')?.file).toBe('deploy/k8s/secret.example.yaml');
  });

  const deploymentOf = (docs: EditableManifest[], service: string) => docs.find((m) => m.doc.kind === 'Deployment' && m.doc.metadata.name === `optex-${service}`)!.doc;
  it.each([
    ['a Deployment without a liveness probe', (d: EditableManifest[]) => delete deploymentOf(d, 'executor').spec.template.spec.containers[0].livenessProbe, 'container executor: livenessProbe must be an httpGet on /live'],
    ['a liveness probe on /health (an outage of the store would restart every pod)', (d: EditableManifest[]) => (deploymentOf(d, 'scheduler').spec.template.spec.containers[0].livenessProbe.httpGet.path = '/health'), 'container scheduler: livenessProbe must be an httpGet on /live'],
    ['a readiness probe on the wrong path', (d: EditableManifest[]) => (deploymentOf(d, 'approval').spec.template.spec.containers[0].readinessProbe.httpGet.path = '/healthz'), 'container approval: readinessProbe must be an httpGet on /health'],
    ['a Deployment without an image', (d: EditableManifest[]) => delete deploymentOf(d, 'scheduler').spec.template.spec.containers[0].image, 'container scheduler: no image'],
    ['a writable root filesystem', (d: EditableManifest[]) => (deploymentOf(d, 'validator').spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false), 'container validator: readOnlyRootFilesystem is not true'],
    ['no memory limit', (d: EditableManifest[]) => delete deploymentOf(d, 'validator').spec.template.spec.containers[0].resources.limits.memory, 'container validator: resources.limits.memory missing'],
    ['no scrape annotations', (d: EditableManifest[]) => delete deploymentOf(d, 'risk-assessor').spec.template.metadata.annotations, 'optex-risk-assessor: pod template needs prometheus.io/scrape'],
    ['a real-looking key in the Secret', (d: EditableManifest[]) => (d.find((m) => m.doc.kind === 'Secret')!.doc.stringData.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI'), 'AWS_SECRET_ACCESS_KEY must stay the placeholder CHANGE_ME'],
    ['a service without the AWS credentials Secret', (d: EditableManifest[]) => (deploymentOf(d, 'approval').spec.template.spec.containers[0].envFrom = deploymentOf(d, 'approval').spec.template.spec.containers[0].envFrom.filter((e: Json) => e.secretRef?.name !== 'optex-aws')), 'container approval: envFrom must take Secret optex-aws with optional: true'],
    ['a ConfigMap without OPTEX_BUS', (d: EditableManifest[]) => delete d.find((m) => m.doc.kind === 'ConfigMap')!.doc.data.OPTEX_BUS, 'data: OPTEX_BUS is not set'],
    ['a Deployment whose OPTEX_SERVICE names another service', (d: EditableManifest[]) => (deploymentOf(d, 'validator').spec.template.spec.containers[0].env[0].value = 'executor'), '0 Deployments run OPTEX_SERVICE=validator'],
  ])('reports %s', (_, breakIt, expected) => {
    const broken = clone(manifests);
    breakIt(broken);
    expect(k8sProblems(broken, kustomization, readme, { apiOptions })).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  const apiPod = (d: EditableManifest[]) => deploymentOf(d, OPTEX_API).spec.template.spec;
  const apiContainer = (d: EditableManifest[]) => apiPod(d).containers[0];
  const apiArgs = (d: EditableManifest[], name: string, value: string | undefined) => (apiContainer(d).args = withOption(apiContainer(d).args, name, value));
  const withoutDoc = (d: EditableManifest[], kind: string, name: string) => d.splice(d.findIndex((m) => m.doc.kind === kind && m.doc.metadata.name === name), 1);
  it.each([
    ['no Deployment running optex api', (d: EditableManifest[]) => (apiContainer(d).args = ['optex', 'list']), 'deploy/k8s: 0 Deployments run optex api; expected exactly one'],
    ['two Deployments running optex api', (d: EditableManifest[]) => d.push({ file: 'deploy/k8s/api-2.yaml', doc: { ...clone(deploymentOf(d, OPTEX_API)), metadata: { name: 'optex-api-2' } } }), 'deploy/k8s: 2 Deployments run optex api; expected exactly one'],
    ['two replicas of the API', (d: EditableManifest[]) => (deploymentOf(d, OPTEX_API).spec.replicas = 2), 'Deployment optex-api: replicas 2; keep 1: the webhooks must be sent by exactly one process'],
    ['a rolling update of the API', (d: EditableManifest[]) => (deploymentOf(d, OPTEX_API).spec.strategy = { type: 'RollingUpdate' }), 'Deployment optex-api: strategy must be Recreate'],
    ['the API annotated for an anonymous scrape', (d: EditableManifest[]) => (deploymentOf(d, OPTEX_API).spec.template.metadata.annotations = { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' }), 'Deployment optex-api: prometheus.io/scrape "true", but the API\'s /metrics needs a reader token'],
    ['no Service for the API', (d: EditableManifest[]) => withoutDoc(d, 'Service', 'optex-api'), 'Deployment optex-api: no Service selects its pods'],
    ['an API liveness probe on /health', (d: EditableManifest[]) => (apiContainer(d).livenessProbe.httpGet.path = '/health'), 'container api: livenessProbe must be an httpGet on /live'],
    ['an API without a readiness probe', (d: EditableManifest[]) => delete apiContainer(d).readinessProbe, 'container api: readinessProbe must be an httpGet on /health'],
    ['an option optex api does not have', (d: EditableManifest[]) => apiArgs(d, '--notification', 'on'), 'container api: --notification is not an option of optex api'],
    ['notifications off', (d: EditableManifest[]) => apiArgs(d, '--notifications', 'off'), 'container api: --notifications "off": the one API process must say on explicitly'],
    ['the default loopback host', (d: EditableManifest[]) => apiArgs(d, '--host', undefined), 'container api: --host not given: must be 0.0.0.0 in a pod'],
    ['a port the probes do not use', (d: EditableManifest[]) => apiArgs(d, '--port', '9000'), 'container api: --port "9000" is not the HTTP port 8080 its probes and containerPort use'],
    ['the default read model on the read-only root filesystem', (d: EditableManifest[]) => apiArgs(d, '--read-model', undefined), 'container api: --read-model not given (.optex/read-model.db) cannot be written on a read-only root filesystem; give memory: or a file under an emptyDir (/tmp)'],
    ['a store other than the ConfigMap\'s', (d: EditableManifest[]) => apiArgs(d, '--store', 'esdb://elsewhere:2113?tls=false'), 'container api: --store "esdb://elsewhere:2113?tls=false" is not the ConfigMap\'s OPTEX_STORE'],
    ['a misspelt variable reference', (d: EditableManifest[]) => apiArgs(d, '--bus', '$(OPTEX_BUSS)'), 'container api: $(OPTEX_BUSS) is defined by no env, ConfigMap or Secret it takes'],
    ['a policy the services do not use', (d: EditableManifest[]) => apiArgs(d, '--policy', '/app/examples/policy.json'), 'container api: --policy "/app/examples/policy.json" is not the ConfigMap\'s OPTEX_POLICY (not set)'],
    ['an API without the optex-store Secret its --store needs', (d: EditableManifest[]) => (apiContainer(d).envFrom = apiContainer(d).envFrom.filter((e: Json) => e.secretRef?.name !== 'optex-store')), 'container api: envFrom must take Secret optex-store (optional: true): it overrides OPTEX_STORE'],
    ['no --auth', (d: EditableManifest[]) => apiArgs(d, '--auth', undefined), 'container api: --auth FILE missing'],
    ['the auth Secret not mounted', (d: EditableManifest[]) => (apiContainer(d).volumeMounts = apiContainer(d).volumeMounts.filter((m: Json) => m.name !== 'auth')), 'container api: --auth /etc/optex/auth/auth.json is not in a mounted Secret volume'],
    ['the auth file in an emptyDir instead of the Secret', (d: EditableManifest[]) => apiArgs(d, '--auth', '/tmp/auth.json'), 'container api: --auth /tmp/auth.json is not in a mounted Secret volume'],
    ['the auth Secret mounted writable', (d: EditableManifest[]) => (apiContainer(d).volumeMounts.find((m: Json) => m.name === 'auth').readOnly = false), 'container api: volumeMount auth (--auth) must be readOnly: true'],
    ['the auth Secret optional', (d: EditableManifest[]) => (apiPod(d).volumes.find((v: Json) => v.name === 'auth').secret.optional = true), 'container api: the Secret volume of --auth is optional'],
    ['the auth Secret without its example', (d: EditableManifest[]) => withoutDoc(d, 'Secret', 'optex-api-auth'), 'container api: Secret optex-api-auth (--auth) is not defined: add its example to secret.example.yaml'],
    ['an auth file that is not a key of the Secret', (d: EditableManifest[]) => apiArgs(d, '--auth', '/etc/optex/auth/config.json'), 'container api: Secret optex-api-auth has no key for --auth /etc/optex/auth/config.json (its keys: auth.json)'],
    // File Secrets (keys like auth.json) are mounted where needed; an environment Secret is still taken by every service.
    ['an environment Secret a service does not take', (d: EditableManifest[]) => d.push({ file: 'deploy/k8s/secret.example.yaml', doc: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'optex-extra' }, stringData: { OPTEX_LOG_LEVEL: 'CHANGE_ME' } } }), 'container approval: envFrom must take Secret optex-extra with optional: true'],
  ])('reports %s', (_, breakIt, expected) => {
    const broken = clone(manifests);
    breakIt(broken);
    expect(k8sProblems(broken, kustomization, readme, { apiOptions })).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  it('reports a kustomization that leaves a file out, lists one that is not there or applies an example', () => {
    const broken = clone(kustomization);
    (broken.doc as Json).resources = (broken.doc as Json).resources.filter((r: string) => r !== 'executor.yaml').concat('ingress.yaml', 'secret.example.yaml');
    expect(k8sProblems(manifests, broken, readme, { apiOptions })).toEqual([
      'deploy/k8s/kustomization.yaml: resources does not list executor.yaml',
      'deploy/k8s/kustomization.yaml: resources lists ingress.yaml, which is not a manifest in this directory',
      'deploy/k8s/kustomization.yaml: resources lists secret.example.yaml, an example to create out of band (applied, its placeholders would replace the real values)',
    ]);
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = read('Dockerfile');
  const dockerignore = read('.dockerignore');

  it('is a multi-stage node 20 build whose COPY sources exist and are in the build context', () => {
    expect(dockerfileProblems(dockerfile, dockerignore, exists)).toEqual([]);
  });

  it('reports a COPY of an excluded or missing file, a root user and a missing prune', () => {
    const broken = dockerfile.replace('USER 1000:1000', 'USER root').replace('npm prune --omit=dev', 'true').replace('COPY examples ./examples', 'COPY examples docs/design.md ./examples/');
    const ignore = `${dockerignore}\nexamples\n`;
    expect(dockerfileProblems(broken, ignore, exists)).toEqual(
      expect.arrayContaining([
        'Dockerfile: the build stage does not run "npm prune --omit=dev"',
        'Dockerfile: the runtime stage must end as a non-root USER, got "root"',
        expect.stringMatching(/^Dockerfile:\d+: COPY examples: excluded by \.dockerignore$/),
        expect.stringMatching(/^Dockerfile:\d+: COPY docs\/design\.md: excluded by \.dockerignore$/),
      ]),
    );
    expect(dockerfileProblems(dockerfile.replace('COPY scripts ./scripts', 'COPY scriptz ./scripts'), dockerignore, exists)).toEqual([expect.stringMatching(/COPY scriptz: no such file in the build context/)]);
  });

  it('.dockerignore keeps local state out and the sources, the lockfile and the two deploy/docker files in', () => {
    for (const path of ['node_modules', 'libs/domain/node_modules/x', 'dist/apps/x.js', '.git/HEAD', '.optex/events.db', 'libs/domain/src/types.spec.ts', 'deploy/k8s/secret.yaml', '.env']) {
      expect([path, dockerIgnored(dockerignore, path)]).toEqual([path, true]);
    }
    for (const path of ['package.json', 'package-lock.json', 'libs/domain/src/types.ts', 'apps/executor/src/main.ts', 'scripts/build.mjs', 'deploy/docker/entrypoint.sh', 'deploy/docker/healthcheck.cjs']) {
      expect([path, dockerIgnored(dockerignore, path)]).toEqual([path, false]);
    }
  });

  it('every service the entrypoint accepts has an app whose build output it runs', () => {
    const entrypoint = read('deploy/docker/entrypoint.sh');
    const accepted = /\n\s*([a-z|-]+)\)\n\s*exec node "dist\/apps\/\$\{OPTEX_SERVICE\}\/src\/main\.js"/.exec(entrypoint)?.[1]?.split('|');
    expect(accepted).toEqual([...OPTEX_SERVICES]);
    for (const service of OPTEX_SERVICES) expect(exists(`apps/${service}/src/main.ts`)).toBe(true);
  });

  it('the entrypoint runs the CLI for `optex …` whatever OPTEX_SERVICE says (the api service sets none; the image\'s default names a service)', () => {
    // A stand-in for node on PATH prints what it was asked to run: the CLI's build output with the arguments as given.
    const bin = mkdtempSync(join(tmpdir(), 'optex-entrypoint-'));
    try {
      writeFileSync(join(bin, 'node'), '#!/bin/sh\necho "$@"\n');
      chmodSync(join(bin, 'node'), 0o755);
      const script = join(root, 'deploy/docker/entrypoint.sh');
      const args = compose.services[OPTEX_API].command as string[];
      const { OPTEX_SERVICE: _ignored, ...withoutService } = process.env;
      for (const env of [withoutService, { ...withoutService, OPTEX_SERVICE: 'risk-assessor' }, { ...withoutService, OPTEX_SERVICE: 'billing' }]) {
        const run = spawnSync('sh', [script, ...args], { env: { ...env, PATH: `${bin}:${process.env['PATH'] ?? ''}` }, encoding: 'utf8' });
        expect([run.status, run.stdout.trim()]).toEqual([0, `dist/apps/optex/src/main.js ${args.slice(1).join(' ')}`]);
      }
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('the entrypoint refuses an unknown OPTEX_SERVICE and runs other commands as given', () => {
    const script = join(root, 'deploy/docker/entrypoint.sh');
    const refused = spawnSync('sh', [script], { env: { ...process.env, OPTEX_SERVICE: 'billing' }, encoding: 'utf8' });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("OPTEX_SERVICE must be one of risk-assessor, approval, scheduler, executor, validator (got 'billing')");
    const passthrough = spawnSync('sh', [script, 'pwd'], { encoding: 'utf8' });
    expect([passthrough.status, relative(root, passthrough.stdout.trim())]).toEqual([0, '']);
  });
});

describe('the container health check (deploy/docker/healthcheck.cjs)', () => {
  let server: Server;
  let status = 200;
  let port = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/health' ? status : 404;
      res.end(JSON.stringify({ status: status === 200 ? 'ok' : 'failing' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });
  const check = (httpPort: number) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(root, 'deploy/docker/healthcheck.cjs')], { env: { ...process.env, OPTEX_HTTP_PORT: String(httpPort) } });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });

  it('is healthy on 200 from GET /health', async () => {
    status = 200;
    expect(await check(port)).toEqual({ code: 0, stderr: '' });
  });

  it('is unhealthy on 503, and when nothing listens', async () => {
    status = 503;
    const failing = await check(port);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain('HTTP 503');
    server.close();
    const refused = await check(port);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ECONNREFUSED/);
  });
});
