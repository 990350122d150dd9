import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { motoServerPath, startMoto, type MotoServer } from './moto';

// The launcher itself is under test: always starts its own server. Without moto_server it is skipped
// outside CI and fails under CI=true (startMoto rejects with the install hint).
const missing = motoServerPath() === undefined;
if (missing && process.env['CI'] !== 'true') console.warn('skipping the moto launcher test outside CI: moto_server is not on PATH');
const describeMoto = missing && process.env['CI'] !== 'true' ? describe.skip : describe;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const get = (url: string): Promise<number | undefined> =>
  new Promise((resolve) => {
    const req = request(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });

describeMoto('startMoto', () => {
  jest.setTimeout(60_000);
  let moto: MotoServer | undefined;

  afterAll(async () => {
    await moto?.stop();
  });

  it('starts moto on a loopback port, answers, resets, and stop() ends exactly that process', async () => {
    moto = await startMoto();
    expect(moto.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(alive(moto.pid)).toBe(true);
    expect(await get(`${moto.endpoint}/moto-api/`)).toBe(200);
    await moto.reset();

    const { pid, logFile, endpoint } = moto;
    await moto.stop();
    expect(alive(pid)).toBe(false);
    expect(existsSync(logFile)).toBe(false);
    expect(await get(`${endpoint}/moto-api/`)).toBeUndefined();
    await moto.stop(); // idempotent
  });

  it("writes its log into the caller's logDir and leaves it there after stop()", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'optex-moto-logdir-'));
    let server: MotoServer | undefined;
    try {
      server = await startMoto({ logDir: dir });
      expect(dirname(server.logFile)).toBe(dir);
      expect(await get(`${server.endpoint}/moto-api/`)).toBe(200);
      await server.stop();
      expect(alive(server.pid)).toBe(false);
      expect(readdirSync(dir)).toEqual([basename(server.logFile)]);
      expect(readFileSync(server.logFile, 'utf8')).toMatch(/moto-api/); // the request log: what a user reads after a failure
    } finally {
      await server?.stop(); // a failed expectation must not leave the server running (stop is idempotent)
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with the install hint when the executable is missing', async () => {
    await expect(startMoto({ command: 'optex-no-such-moto-server' })).rejects.toThrow(/optex-no-such-moto-server not found on PATH.*pip install/);
  });
});
