import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join, resolve } from 'node:path';
import { TOPICS } from '@optex/ports';
import { deadLetterTopicOf, openBus } from '@optex/runtime';
import { KafkaBus } from '@optex/messaging';
import { SERVICE_GROUPS } from '@optex/engine';
import { isProcessAlive, repoRoot, restartKafka, startKafka, startMoto } from '@optex/testing';

export const STACK_SERVICES = ['risk-assessor', 'approval', 'scheduler', 'executor', 'validator'] as const;
export type StackService = (typeof STACK_SERVICES)[number];

export interface StackUpOptions {
  /** Where state, logs and data live. @defaultValue `.optex/stack` */
  readonly dir: string;
  /** `aws:ENDPOINT` to use instead of starting moto. */
  readonly cloud?: string;
  /** Partitions of the optex topics. @defaultValue 3 */
  readonly partitions: number;
  /** Progress lines (stderr). */
  readonly progress: (line: string) => void;
  /** Extra environment for the service processes (e.g. a wait timeout for tests). */
  readonly serviceEnv?: Readonly<Record<string, string>>;
}

/** What `stack up` started: printed as JSON and kept in `<dir>/stack.json` for `stack down`. */
export interface StackState {
  readonly bus: string;
  readonly store: string;
  readonly cloud: string;
  readonly services: Record<StackService, { pid: number; port: number; log: string }>;
  readonly infrastructure: {
    readonly kafka: { pid: number; dataDir: string; log: string };
    readonly esdb: { pid: number; log: string; data: string };
    readonly moto?: { pid: number; log: string };
  };
  readonly startedInMs: number;
  readonly dir: string;
  /** Partitions of the optex topics, and the extra service environment: what `stack restart` starts a service with. */
  readonly partitions?: number;
  readonly serviceEnv?: Readonly<Record<string, string>>;
}

/** What `stack restart` can restart: a service, Kafka, or the store (the ESDB emulator). */
export const STACK_COMPONENTS = [...STACK_SERVICES, 'kafka', 'store'] as const;
export type StackComponent = (typeof STACK_COMPONENTS)[number];

const stateFile = (dir: string) => join(dir, 'stack.json');

/** The contract's topics and each service group's dead-letter topic. */
const ALL_TOPICS = [...new Set([...Object.values(TOPICS), ...Object.values(SERVICE_GROUPS).map(deadLetterTopicOf)])];

export function readStackState(dir: string): StackState | undefined {
  const file = stateFile(dir);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as StackState;
}

/** Environment of a service process in the stack. */
export function serviceEnv(state: Pick<StackState, 'bus' | 'store' | 'cloud'>, partitions: number, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OPTEX_STORE: state.store,
    OPTEX_BUS: state.bus,
    OPTEX_CLOUD: state.cloud,
    OPTEX_PARTITIONS: String(partitions),
    OPTEX_HTTP_HOST: '127.0.0.1',
    OPTEX_HTTP_PORT: '0',
    AWS_ACCESS_KEY_ID: process.env['AWS_ACCESS_KEY_ID'] ?? 'testing',
    AWS_SECRET_ACCESS_KEY: process.env['AWS_SECRET_ACCESS_KEY'] ?? 'testing',
    AWS_REGION: process.env['AWS_REGION'] ?? 'us-east-1',
    OPTEX_LOG_LEVEL: process.env['OPTEX_LOG_LEVEL'] ?? 'info',
    ...extra,
  };
}

/**
 * Starts one service process detached (it outlives this command), logging to `log`, and resolves
 * with its pid and HTTP port once it printed its ready line and `GET /health` answers 200.
 */
export async function startServiceProcess(service: StackService, env: NodeJS.ProcessEnv, log: string, timeoutMs = 60_000): Promise<{ pid: number; port: number }> {
  const root = repoRoot();
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [join(root, 'dist/apps', service, 'src/main.js')], { cwd: root, env, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (!pid) throw new Error(`could not start ${service}`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) throw new Error(`${service} exited during start; its log ${log} ends with:\n${tail(log)}`);
    const ready = readFileSync(log, 'utf8')
      .split('\n')
      .map((l) => {
        try {
          return JSON.parse(l) as { ready?: string; pid?: number; port?: number };
        } catch {
          return {};
        }
      })
      .find((l) => l.ready === service && l.pid === pid);
    if (ready?.port && (await healthy(ready.port))) return { pid, port: ready.port };
    await sleep(100);
  }
  process.kill(pid, 'SIGKILL');
  throw new Error(`${service} did not become healthy within ${timeoutMs} ms; its log ${log} ends with:\n${tail(log)}`);
}

export function healthy(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const req = get({ host: '127.0.0.1', port, path: '/health', timeout: 2000 }, (res) => {
      res.resume();
      resolvePromise(res.statusCode === 200);
    });
    req.on('error', () => resolvePromise(false));
    req.on('timeout', () => {
      req.destroy();
      resolvePromise(false);
    });
  });
}

async function startEmulator(dir: string, port?: number): Promise<{ pid: number; url: string; log: string; data: string }> {
  const root = repoRoot();
  const log = join(dir, 'esdb-emulator.log');
  const data = join(dir, 'esdb-emulator.jsonl');
  const fd = openSync(log, 'a');
  const seen = readFileSync(log, 'utf8').split('\n').length; // a restart appends to the log: look only at new lines
  const child = spawn(process.execPath, [join(root, 'dist/libs/testing/src/esdb-emulator/main.js'), '--data', data, ...(port ? ['--port', String(port)] : [])], { cwd: root, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid!;
  for (let i = 0; i < 300; i++) {
    const line = readFileSync(log, 'utf8')
      .split('\n')
      .slice(seen - 1)
      .find((l) => l.includes('"url"'));
    if (line) return { pid, url: (JSON.parse(line) as { url: string }).url, log, data };
    if (!isProcessAlive(pid)) throw new Error(`the ESDB emulator exited during start:\n${tail(log)}`);
    await sleep(100);
  }
  throw new Error(`the ESDB emulator did not start:\n${tail(log)}`);
}

/** `stack up`: Kafka, the ESDB emulator, moto (unless `--cloud`), the five services. */
export async function stackUp(options: StackUpOptions): Promise<StackState> {
  const dir = resolve(options.dir);
  const existing = readStackState(dir);
  if (existing && Object.values(existing.services).some((s) => isProcessAlive(s.pid))) {
    throw new Error(`a stack is already up in ${dir} (risk-assessor pid ${existing.services['risk-assessor'].pid}); run stack down first`);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    options.progress('starting Kafka (KRaft)…');
    const kafka = await startKafka({ partitions: options.partitions, logDir: dir, killOnExit: false });
    cleanup.push(() => kafka.stop());
    options.progress(`Kafka on ${kafka.brokers} in ${kafka.startedInMs} ms; starting the ESDB emulator…`);
    const esdb = await startEmulator(dir);
    cleanup.push(() => kill(esdb.pid));
    let cloud = options.cloud;
    let moto: { pid: number; log: string } | undefined;
    if (!cloud) {
      options.progress('starting moto_server…');
      const m = await startMoto({ logDir: dir });
      moto = { pid: m.pid, log: m.logFile };
      cleanup.push(() => m.stop());
      cloud = `aws:${m.endpoint}`;
    }
    const bus = `kafka://${kafka.brokers}`;
    // Create every topic up front (the services would too, racing each other on a fresh broker).
    const topics = await openBus(bus, 'optex-stack', options.partitions);
    if (topics instanceof KafkaBus) await topics.ensureTopics(ALL_TOPICS, options.partitions);
    await topics.close();
    options.progress(`topics ${Object.values(TOPICS).join(', ')} ready with ${options.partitions} partitions; starting services…`);
    const env = serviceEnv({ bus, store: esdb.url, cloud }, options.partitions, options.serviceEnv);
    const services = {} as StackState['services'];
    await Promise.all(
      STACK_SERVICES.map(async (s) => {
        const log = join(dir, `${s}.log`);
        const { pid, port } = await startServiceProcess(s, env, log);
        cleanup.push(() => kill(pid));
        services[s] = { pid, port, log };
      }),
    );
    const state: StackState = {
      bus,
      store: esdb.url,
      cloud,
      services,
      infrastructure: { kafka: { pid: kafka.pid, dataDir: kafka.dataDir, log: kafka.logFile }, esdb: { pid: esdb.pid, log: esdb.log, data: esdb.data }, ...(moto ? { moto } : {}) },
      startedInMs: Date.now() - started,
      dir,
      partitions: options.partitions,
      ...(options.serviceEnv ? { serviceEnv: options.serviceEnv } : {}),
    };
    writeFileSync(stateFile(dir), JSON.stringify(state, null, 2));
    return state;
  } catch (error) {
    for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => undefined);
    throw error;
  }
}

/** `stack down`: stops exactly what `stack up` started (services first, gracefully), by pid. */
export async function stackDown(dir: string, progress: (line: string) => void): Promise<{ stopped: string[] }> {
  const state = readStackState(resolve(dir));
  if (!state) return { stopped: [] };
  const stopped: string[] = [];
  await Promise.all(
    STACK_SERVICES.map(async (s) => {
      if (await kill(state.services[s].pid)) stopped.push(`${s} (pid ${state.services[s].pid})`);
    }),
  );
  const { kafka, esdb, moto } = state.infrastructure;
  if (moto && (await kill(moto.pid))) stopped.push(`moto_server (pid ${moto.pid})`);
  if (await kill(esdb.pid)) stopped.push(`esdb-emulator (pid ${esdb.pid})`);
  if (await kill(kafka.pid, 15_000)) stopped.push(`kafka (pid ${kafka.pid})`);
  rmSync(kafka.dataDir, { recursive: true, force: true });
  rmSync(stateFile(state.dir), { force: true });
  for (const s of stopped) progress(`stopped ${s}`);
  return { stopped };
}

export interface RestartOptions {
  /** `SIGTERM` (default: the service finishes the message in hand) or `SIGKILL` (a crash, for chaos runs). */
  readonly signal?: 'SIGTERM' | 'SIGKILL';
  /** How long the component stays down before it is started again (an outage). @defaultValue 0 */
  readonly downMs?: number;
  readonly progress?: (line: string) => void;
}

/**
 * `stack restart COMPONENT`: stops one process of the stack `stack up` started in `dir` (a service, Kafka, or the store)
 * and starts it again with what it had: a service with the same environment (a new pid and HTTP port), Kafka on the same
 * data directory and port, the ESDB emulator on the same port and data file. Updates `stack.json`; resolves with the
 * old and new pids.
 */
export async function stackRestart(dir: string, component: StackComponent, options: RestartOptions = {}): Promise<{ component: StackComponent; oldPid: number; pid: number; port?: number }> {
  const state = readStackState(resolve(dir));
  if (!state) throw new Error(`no stack is up in ${resolve(dir)}`);
  const stop = async (pid: number, graceMs = 10_000) => {
    if (options.signal === 'SIGKILL') {
      if (!isProcessAlive(pid)) return;
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 200 && isProcessAlive(pid); i++) await sleep(25);
    } else await kill(pid, graceMs);
  };
  const progress = options.progress ?? (() => undefined);
  let next: StackState;
  let result: { component: StackComponent; oldPid: number; pid: number; port?: number };
  if (component === 'kafka') {
    const { kafka } = state.infrastructure;
    await stop(kafka.pid, 15_000);
    progress(`kafka (pid ${kafka.pid}) stopped`);
    await sleep(options.downMs ?? 0);
    const { pid } = await restartKafka({ dataDir: kafka.dataDir, logFile: kafka.log });
    next = { ...state, infrastructure: { ...state.infrastructure, kafka: { ...kafka, pid } } };
    result = { component, oldPid: kafka.pid, pid };
  } else if (component === 'store') {
    const { esdb } = state.infrastructure;
    await stop(esdb.pid);
    progress(`esdb-emulator (pid ${esdb.pid}) stopped`);
    await sleep(options.downMs ?? 0);
    const port = Number(new URL(state.store.replace(/^esdb:/, 'http:')).port);
    const started = await startEmulator(state.dir, port);
    next = { ...state, infrastructure: { ...state.infrastructure, esdb: { ...esdb, pid: started.pid } } };
    result = { component, oldPid: esdb.pid, pid: started.pid };
  } else {
    const old = state.services[component];
    await stop(old.pid);
    progress(`${component} (pid ${old.pid}) stopped`);
    await sleep(options.downMs ?? 0);
    const env = serviceEnv(state, state.partitions ?? 3, state.serviceEnv ?? {});
    const { pid, port } = await startServiceProcess(component, env, old.log);
    next = { ...state, services: { ...state.services, [component]: { ...old, pid, port } } };
    result = { component, oldPid: old.pid, pid, port };
  }
  writeFileSync(stateFile(state.dir), JSON.stringify(next, null, 2));
  progress(`${component} started again (pid ${result.pid})`);
  return result;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves true when it was running. */
export async function kill(pid: number, graceMs = 10_000): Promise<boolean> {
  if (!isProcessAlive(pid)) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return true;
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
  return true;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
