import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';

/**
 * A single-node Apache Kafka 4.x (KRaft combined mode: broker and controller in one JVM) for
 * integration tests and local runs, started from its Maven Central jars with the machine's Java:
 * no Docker, no tarball. `scripts/kafka/fetch.sh` fetches the jars once into a cache directory;
 * this module formats a fresh temporary data directory, starts the broker on free loopback ports
 * and stops exactly the process it started. Usable from jest and from compiled scripts alike
 * (no test-framework globals).
 */

export interface StartKafkaOptions {
  /** `num.partitions`: partitions of topics the broker creates without being told a count. @defaultValue 1 */
  readonly partitions?: number;
  /**
   * Directory for the broker's own log (`kafka.log`, stdout and stderr of the JVM). When given it
   * is kept after {@link RunningKafka.stop}; by default the log lives in the data directory and
   * goes with it.
   */
  readonly logDir?: string;
  /** Whether the broker creates a topic on first use. Prefer explicit creation. @defaultValue false */
  readonly autoCreateTopics?: boolean;
  /** How long to wait for the broker to answer before giving up. @defaultValue 120000 */
  readonly startTimeoutMs?: number;
  /** Maximum JVM heap. @defaultValue '512m' */
  readonly heap?: string;
  /** How long {@link RunningKafka.stop} waits after SIGTERM before SIGKILL. @defaultValue 10000 */
  readonly stopGraceMs?: number;
  /**
   * Kill the broker when this process exits without `stop()`. `false` lets it outlive the caller
   * (the local stack: `stack down` stops it by pid). @defaultValue true
   */
  readonly killOnExit?: boolean;
  /**
   * Require SASL PLAIN on the broker's listener (SASL_PLAINTEXT, no TLS) with this one user; the controller listener
   * stays PLAINTEXT. The launcher's own readiness check authenticates as this user. Such a broker cannot be restarted
   * by {@link restartKafka}. The username is letters, digits, `.`, `_` and `-`; the password must not hold `"`, `\`
   * or a line break (both go into the broker's JAAS configuration). @defaultValue none (PLAINTEXT, no authentication)
   */
  readonly sasl?: { readonly username: string; readonly password: string };
}

export interface RunningKafka {
  /** `127.0.0.1:<port>` of the broker listener (PLAINTEXT, or SASL_PLAINTEXT with `sasl`), for kafkajs `brokers`. */
  readonly brokers: string;
  /** The JVM's pid (leader of its own process group). */
  readonly pid: number;
  /** The temporary directory holding `server.properties` and the log dirs; removed by `stop()`. */
  readonly dataDir: string;
  /** The broker's log file. */
  readonly logFile: string;
  /** Milliseconds from spawning the JVM to the broker answering `describeCluster`. */
  readonly startedInMs: number;
  /** SIGTERM, then SIGKILL after the grace period; then removes `dataDir`. Idempotent. */
  stop(): Promise<void>;
}

/** Where the jars are, and whether this call fetched them. */
export interface KafkaJars {
  /** Directory holding `lib/*.jar`. */
  readonly dir: string;
  /** Milliseconds `fetch.sh` took (near zero when the cache was already complete). */
  readonly fetchMs: number;
}

const FETCH_SCRIPT = join('scripts', 'kafka', 'fetch.sh');

/** The repository root: the nearest ancestor of this file (source or `dist/` copy) holding `scripts/kafka/fetch.sh`. */
export function repoRoot(from: string = __dirname): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, FETCH_SCRIPT))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${FETCH_SCRIPT} in any parent of ${from}`);
    dir = parent;
  }
}

function javaBinary(): string {
  const home = process.env['JAVA_HOME'];
  return home && existsSync(join(home, 'bin', 'java')) ? join(home, 'bin', 'java') : 'java';
}

/**
 * Why Kafka cannot be started here (Java or Maven missing), or `undefined` when it can.
 * Maven is only needed while the jar cache is incomplete, but it is checked anyway so that
 * a machine that passes once passes on a clean cache too.
 */
export function kafkaToolingProblem(): string | undefined {
  const missing: string[] = [];
  const java = spawnSync(javaBinary(), ['-version'], { encoding: 'utf8' });
  if (java.error || java.status !== 0) missing.push('java (17+)');
  else {
    const version = /version "(\d+)/.exec(`${java.stderr}${java.stdout}`)?.[1];
    if (version !== undefined && Number(version) < 17) missing.push(`java 17+ (found ${version})`);
  }
  const mvn = spawnSync('bash', ['-c', 'command -v mvn'], { encoding: 'utf8' });
  if (mvn.status !== 0) missing.push('mvn (Maven 3.8+)');
  if (missing.length === 0) return undefined;
  return `Kafka for the integration tests needs ${missing.join(' and ')} on PATH (Debian: apt-get install openjdk-17-jdk-headless maven); or point OPTEX_TEST_KAFKA_BROKERS at a running broker`;
}

/** Runs `scripts/kafka/fetch.sh` (idempotent: returns at once when the cache is complete). */
export async function ensureKafkaJars(): Promise<KafkaJars> {
  const script = join(repoRoot(), FETCH_SCRIPT);
  const started = Date.now();
  const { code, stdout, stderr } = await run('bash', [script], { timeoutMs: 15 * 60_000 });
  if (code !== 0) throw new Error(`${FETCH_SCRIPT} failed (exit ${code}):\n${tail(stderr, 40)}`);
  const dir = stdout.trim().split('\n').pop() ?? '';
  if (!existsSync(join(dir, 'lib'))) throw new Error(`${FETCH_SCRIPT} printed ${JSON.stringify(dir)}, which has no lib/ directory`);
  return { dir, fetchMs: Date.now() - started };
}

/**
 * Starts a fresh single-node Kafka on free loopback ports and resolves once it answers a
 * kafkajs `describeCluster`. The caller owns the result and must `stop()` it; a process exit
 * hook also kills the JVM if the caller forgets.
 *
 * @throws Error naming what went wrong, with the tail of the broker log, when the JVM exits early
 *   or does not answer within `startTimeoutMs`.
 */
export async function startKafka(options: StartKafkaOptions = {}): Promise<RunningKafka> {
  const partitions = options.partitions ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`startKafka: partitions must be a positive integer, got ${String(options.partitions)}`);
  const sasl = options.sasl;
  if (sasl !== undefined) {
    if (!/^[A-Za-z0-9._-]+$/.test(sasl.username)) throw new Error(`startKafka: sasl.username must be letters, digits, '.', '_' or '-', got ${JSON.stringify(sasl.username)}`);
    if (sasl.password.length === 0 || /["\\\r\n]/.test(sasl.password)) throw new Error('startKafka: sasl.password must be non-empty, without ", \\ or a line break');
  }
  const problem = kafkaToolingProblem();
  if (problem) throw new Error(problem);
  const jars = await ensureKafkaJars();
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(jars.dir, partitions, options);
    } catch (error) {
      lastError = error as Error;
      // Another process may have taken a port between picking and binding it: try new ones.
      if (!/Address already in use|BindException/.test(lastError.message)) throw lastError;
    }
  }
  throw lastError ?? new Error('startKafka failed');
}

async function startOnce(kafkaDir: string, partitions: number, options: StartKafkaOptions): Promise<RunningKafka> {
  const dataDir = mkdtempSync(join(tmpdir(), 'optex-kafka-'));
  const logDir = options.logDir ? resolve(options.logDir) : dataDir;
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, 'kafka.log');
  const [brokerPort, controllerPort] = await freePorts(2);
  const propsFile = join(dataDir, 'server.properties');
  writeFileSync(propsFile, serverProperties({ dataDir, brokerPort: brokerPort!, controllerPort: controllerPort!, partitions, autoCreate: options.autoCreateTopics ?? false, sasl: options.sasl }));
  const log4jFile = join(dataDir, 'log4j2.properties');
  writeFileSync(log4jFile, LOG4J2_PROPERTIES);

  const jvm = jvmArgs(kafkaDir, log4jFile, options.heap);
  const cleanup = (): void => rmSync(dataDir, { recursive: true, force: true });

  const clusterId = newClusterId();
  const format = await run(javaBinary(), [...jvm.filter((a) => !a.startsWith('-Xms')), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile, '--standalone'], { timeoutMs: 120_000 });
  if (format.code !== 0) {
    cleanup();
    throw new Error(`kafka-storage format failed (exit ${format.code}):\n${tail(format.stdout + format.stderr, 30)}`);
  }

  const out = openSync(logFile, 'a');
  const spawned = Date.now();
  let child: ChildProcess;
  try {
    child = spawn(javaBinary(), [...jvm, 'kafka.Kafka', propsFile], { cwd: dataDir, detached: true, stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) {
    cleanup();
    throw new Error(`could not spawn ${javaBinary()} for Kafka`);
  }
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exitInfo = signal ? `signal ${signal}` : `exit code ${String(code)}`;
      resolveExit();
    });
  });
  child.once('error', () => undefined);
  child.unref();
  const killOnExit = (): void => {
    if (exitInfo === undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    cleanup();
  };
  if (options.killOnExit ?? true) process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (exitInfo === undefined) {
        signal(pid, 'SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const graceful = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), options.stopGraceMs ?? 10_000)))]);
        clearTimeout(timer);
        if (!graceful) {
          signal(pid, 'SIGKILL');
          await exited;
        }
      }
      cleanup();
    })();
    return stopping;
  };

  const brokers = `127.0.0.1:${brokerPort}`;
  const deadline = spawned + (options.startTimeoutMs ?? 120_000);
  const admin = new Kafka({
    clientId: 'optex-kafka-launcher',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
    ...(options.sasl ? { sasl: { mechanism: 'plain' as const, username: options.sasl.username, password: options.sasl.password } } : {}),
  }).admin();
  try {
    for (;;) {
      if (exitInfo !== undefined) {
        throw new Error(`Kafka exited during start-up (${exitInfo}); last lines of ${logFile}:\n${tailOfFile(logFile, 40)}`);
      }
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length > 0 && cluster.controller !== null) break;
      } catch {
        // not up yet
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      if (Date.now() > deadline) {
        throw new Error(`Kafka did not answer on ${brokers} within ${options.startTimeoutMs ?? 120_000} ms; last lines of ${logFile}:\n${tailOfFile(logFile, 40)}`);
      }
      await delay(250);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { brokers, pid, dataDir, logFile, startedInMs: Date.now() - spawned, stop };
}

/**
 * Starts again, on the same data directory and ports, a broker that {@link startKafka} started (with `killOnExit:
 * false`) and that is gone — killed, crashed, or stopped without removing its data (the local stack's chaos runs and
 * `stack restart kafka`). Topics, committed offsets and messages survive. Resolves with the new JVM's pid once the
 * broker answers again; the caller stops it by pid.
 */
export async function restartKafka(options: { readonly dataDir: string; readonly logFile: string; readonly heap?: string; readonly startTimeoutMs?: number }): Promise<{ pid: number; brokers: string }> {
  const propsFile = join(options.dataDir, 'server.properties');
  const props = readFileSync(propsFile, 'utf8');
  const port = /^advertised\.listeners=PLAINTEXT:\/\/127\.0\.0\.1:(\d+)$/m.exec(props)?.[1];
  if (!port) throw new Error(`restartKafka: ${propsFile} names no PLAINTEXT listener`);
  const jars = await ensureKafkaJars();
  const jvm = jvmArgs(jars.dir, join(options.dataDir, 'log4j2.properties'), options.heap);
  const out = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(javaBinary(), [...jvm, 'kafka.Kafka', propsFile], { cwd: options.dataDir, detached: true, stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${javaBinary()} for Kafka`);
  let exitInfo: string | undefined;
  child.once('exit', (code, sig) => (exitInfo = sig ? `signal ${sig}` : `exit code ${String(code)}`));
  child.once('error', () => undefined);
  child.unref();
  const brokers = `127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
  const admin = new Kafka({ clientId: 'optex-kafka-launcher', brokers: [brokers], logLevel: logLevel.NOTHING, connectionTimeout: 1000, retry: { retries: 0 } }).admin();
  for (;;) {
    if (exitInfo !== undefined) throw new Error(`Kafka exited during its restart (${exitInfo}); last lines of ${options.logFile}:\n${tailOfFile(options.logFile, 40)}`);
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0 && cluster.controller !== null) return { pid, brokers };
    } catch {
      // not up yet
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    if (Date.now() > deadline) {
      signal(pid, 'SIGKILL');
      throw new Error(`Kafka did not answer on ${brokers} within ${options.startTimeoutMs ?? 120_000} ms after its restart; last lines of ${options.logFile}:\n${tailOfFile(options.logFile, 40)}`);
    }
    await delay(250);
  }
}

/**
 * A KRaft cluster id: 16 random bytes in base64url (22 characters), never starting with `-`, which `kafka-storage
 * format -t ID` would take for an option ("argument --cluster-id/-t: expected one argument", 1 start in 64). Kafka's own
 * `Uuid.randomUuid()` draws again for the same reason.
 */
export function newClusterId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** The JVM's arguments for a broker: heap, GC, the log4j file, the jars' classpath. */
function jvmArgs(kafkaDir: string, log4jFile: string, heap = '512m'): string[] {
  return [
    `-Xmx${heap}`,
    '-Xms64m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${log4jFile}`,
    '-cp',
    `${join(kafkaDir, 'lib')}/*`,
  ];
}

/**
 * The broker's `server.properties`. With `sasl` the broker listener is SASL_PLAINTEXT with mechanism PLAIN and one user
 * (used by inter-broker traffic too); the controller listener stays PLAINTEXT.
 */
function serverProperties(p: { dataDir: string; brokerPort: number; controllerPort: number; partitions: number; autoCreate: boolean; sasl: StartKafkaOptions['sasl'] }): string {
  const listener = p.sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT';
  const sasl = p.sasl
    ? [
        'sasl.enabled.mechanisms=PLAIN',
        'sasl.mechanism.inter.broker.protocol=PLAIN',
        `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${p.sasl.username}" password="${p.sasl.password}" user_${p.sasl.username}="${p.sasl.password}";`,
      ]
    : [];
  return [
    '# Written by libs/testing/src/infra/kafka.ts: single-node KRaft, loopback only.',
    'node.id=1',
    'process.roles=broker,controller',
    `listeners=${listener}://127.0.0.1:${p.brokerPort},CONTROLLER://127.0.0.1:${p.controllerPort}`,
    `advertised.listeners=${listener}://127.0.0.1:${p.brokerPort}`,
    `listener.security.protocol.map=${listener}:${listener},CONTROLLER:PLAINTEXT`,
    `inter.broker.listener.name=${listener}`,
    ...sasl,
    'controller.listener.names=CONTROLLER',
    `controller.quorum.bootstrap.servers=127.0.0.1:${p.controllerPort}`,
    `log.dirs=${join(p.dataDir, 'logs')}`,
    `metadata.log.dir=${join(p.dataDir, 'metadata')}`,
    `num.partitions=${p.partitions}`,
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    // Fewer than the default 50 partitions: the offsets topic is created on the first group join.
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=4',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    `auto.create.topics.enable=${String(p.autoCreate)}`,
    'delete.topic.enable=true',
    'num.network.threads=2',
    'num.io.threads=4',
    'num.recovery.threads.per.data.dir=1',
    'log.retention.hours=24',
    '',
  ].join('\n');
}

const LOG4J2_PROPERTIES = [
  'status = warn',
  'appender.out.type = Console',
  'appender.out.name = STDOUT',
  'appender.out.layout.type = PatternLayout',
  'appender.out.layout.pattern = [%d] %p %m (%c)%n',
  'rootLogger.level = INFO',
  'rootLogger.appenderRef.out.ref = STDOUT',
  'logger.kafka.name = kafka',
  'logger.kafka.level = INFO',
  'logger.state.name = state.change.logger',
  'logger.state.level = WARN',
  'logger.request.name = kafka.request.logger',
  'logger.request.level = WARN',
  'logger.controller.name = org.apache.kafka.controller',
  'logger.controller.level = INFO',
  '',
].join('\n');

/** `count` distinct free TCP ports on 127.0.0.1 (bound, read and released; a small race remains, handled by retrying). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolveServer, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolveServer(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected server address');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Whether a process with this pid exists (and is not a zombie of ours). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return true;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function tailOfFile(file: string, lines: number): string {
  try {
    const size = statSync(file).size;
    const text = readFileSync(file, 'utf8');
    return size === 0 ? '(empty)' : tail(text, lines);
  } catch (error) {
    return `(cannot read: ${(error as Error).message})`;
  }
}

function run(command: string, args: string[], opts: { timeoutMs: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n(killed after ${opts.timeoutMs} ms)`;
    }, opts.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}
