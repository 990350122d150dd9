import { existsSync } from 'node:fs';
import { request } from 'node:http';
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

  it('fails with the install hint when the executable is missing', async () => {
    await expect(startMoto({ command: 'optex-no-such-moto-server' })).rejects.toThrow(/optex-no-such-moto-server not found on PATH.*pip install/);
  });
});
