import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A running `moto_server` started by {@link startMoto}. */
export interface MotoServer {
  /** Base URL to give the AWS SDK as `endpoint`, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  /** Process id of the `moto_server` process (the one {@link MotoServer.stop} kills). */
  readonly pid: number;
  /** File that receives moto's stdout and stderr (request log, tracebacks). Removed by `stop()` unless it is in the caller's `logDir`. */
  readonly logFile: string;
  /** Drops every resource moto holds (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  /** Kills exactly this process (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

export interface StartMotoOptions {
  /**
   * How long to wait for the server to answer `GET /moto-api/`.
   * @defaultValue 30000
   */
  readonly startTimeoutMs?: number;
  /**
   * The executable to run.
   * @defaultValue `"moto_server"` (looked up on `PATH`)
   */
  readonly command?: string;
  /**
   * Directory for the log file (`moto-<port>.log`), which is then the caller's: kept after `stop()` and after a start
   * that fails, beside the caller's other logs (`stack up` puts it in the stack's directory).
   * @defaultValue the system's temporary directory, the file removed by `stop()` and by a failed start
   */
  readonly logDir?: string;
}

const INSTALL_HINT = "install it with `pip install 'moto[server]==5.2.1'` so that `moto_server` is on PATH";

/** Full path of the `moto_server` executable on `PATH`, or `undefined` when it is not installed. */
export function motoServerPath(command = 'moto_server'): string | undefined {
  if (command.includes('/')) return existsSync(command) ? command : undefined;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Whether a test suite that needs moto should run: `true` when `OPTEX_TEST_EC2_ENDPOINT` is set,
 * when `moto_server` is installed, or under `CI=true` (so that a missing server fails the suite
 * loudly instead of skipping it). Outside CI without moto it returns `false` and says why on stderr.
 */
export function shouldRunMotoTests(): boolean {
  if (process.env['OPTEX_TEST_EC2_ENDPOINT']) return true;
  if (motoServerPath() !== undefined) return true;
  if (process.env['CI'] === 'true') return true;
  process.stderr.write(`[optex/testing] moto_server not found; skipping the EC2 integration suite (${INSTALL_HINT}).\n`);
  return false;
}

/**
 * Starts `moto_server -H 127.0.0.1 -p <free port>` as a detached process and resolves once it answers
 * `GET /moto-api/`. Rejects with a message naming the cause when the executable is missing (always —
 * in particular under `CI=true` nothing is skipped), when the process exits early, or when it does not
 * answer within `startTimeoutMs` (the process is then killed). Usable outside jest.
 */
export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  const command = options.command ?? 'moto_server';
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const executable = motoServerPath(command);
  if (executable === undefined) {
    const ci = process.env['CI'] === 'true' ? ' (CI=true: the EC2 integration tier cannot run without it)' : '';
    throw new Error(`startMoto: ${command} not found on PATH${ci}; ${INSTALL_HINT}`);
  }
  let lastError: Error | undefined;
  // A port found free can be taken before moto binds it; try a few times.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freeLoopbackPort();
    try {
      return await launch(executable, port, startTimeoutMs, options.logDir);
    } catch (error) {
      lastError = error as Error;
      if (!(error instanceof PortInUseError)) throw error;
    }
  }
  throw lastError ?? new Error('startMoto: could not start moto_server');
}

class PortInUseError extends Error {}

async function launch(executable: string, port: number, startTimeoutMs: number, logDir?: string): Promise<MotoServer> {
  const logFile = logDir ? join(logDir, `moto-${port}.log`) : join(tmpdir(), `optex-moto-${process.pid}-${port}.log`);
  /** A log in the system's temporary directory is this launcher's, gone with the process; one in `logDir` the caller's. */
  const dropLog = () => (logDir ? undefined : rmSync(logFile, { force: true }));
  const logFd = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(executable, ['-H', '127.0.0.1', '-p', String(port)], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    const spawnError = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`startMoto: could not run ${executable}: ${spawnError.message}`);
  }
  // Do not keep the caller's event loop alive just because moto runs; stop() is what ends it.
  child.unref();
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return exited;
    stopped = true;
    if (exit === undefined) {
      killPid(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 5_000))),
      ]);
      clearTimeout(timer);
      if (!killed) {
        killPid(pid, 'SIGKILL');
        await exited;
      }
    }
    dropLog();
  };

  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exit !== undefined) {
      const log = tail(logFile);
      dropLog();
      if (/address already in use/i.test(log)) throw new PortInUseError(`port ${port} in use`);
      throw new Error(
        `startMoto: ${executable} exited before answering (code ${String(exit.code)}, signal ${String(exit.signal)}); its output:\n${log}`,
      );
    }
    if (await answers(`${endpoint}/moto-api/`)) break;
    if (Date.now() >= deadline) {
      const log = tail(logFile);
      await stop();
      throw new Error(`startMoto: ${executable} (pid ${pid}) did not answer GET ${endpoint}/moto-api/ within ${startTimeoutMs} ms; its output:\n${log}`);
    }
    await delay(100);
  }

  return {
    endpoint,
    pid,
    logFile,
    stop,
    reset: async () => {
      const status = await httpStatus(`${endpoint}/moto-api/reset`, 'POST');
      if (status !== 200) throw new Error(`moto reset: POST ${endpoint}/moto-api/reset answered HTTP ${String(status)}`);
    },
  };
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function tail(file: string, bytes = 4_000): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.length > bytes ? `…${text.slice(-bytes)}` : text;
  } catch {
    return '(no output)';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function answers(url: string): Promise<boolean> {
  return (await httpStatus(url, 'GET')) === 200;
}

function httpStatus(url: string, method: 'GET' | 'POST'): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { method, timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('no free port')) : resolve(port)));
    });
  });
}
