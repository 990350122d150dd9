import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimulatedFleet } from '@optex/cloud';
import { ensureBuilt, ROOT, tempDir } from './support/cli';

jest.setTimeout(120_000);

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const VOLUMES = 3000;

beforeAll(() => ensureBuilt());

/**
 * A process that modifies volume after volume through the compiled simulated fleet, printing each id
 * once the call has resolved, until it is killed.
 */
const CHILD = `
const { SimulatedFleet } = require(${JSON.stringify(join(ROOT, 'dist/libs/platform/cloud/src/index.js'))});
(async () => {
  const [fleetFile, statePath] = process.argv.slice(1);
  const fleet = await SimulatedFleet.open({ fleetFile, statePath });
  for (let i = 0; i < ${VOLUMES}; i++) {
    const id = 'vol-' + i;
    await fleet.modifyVolume({ accountId: '${ACCOUNT}', region: '${REGION}', id }, { volumeType: 'gp3' }, { clientToken: 'tok-' + i });
    process.stdout.write('answered ' + id + '\\n');
  }
})().catch((error) => { console.error(error); process.exit(1); });
`;

describe('simulated fleet: a SIGKILL between calls loses nothing that was answered', () => {
  it('every call the killed process saw answered is in the state and once in the call log, and state and log agree', async () => {
    const dir = tempDir('fleet-crash');
    const fleetFile = join(dir, 'fleet.json');
    const statePath = join(dir, 'events.db.fleet.db');
    writeFileSync(
      fleetFile,
      JSON.stringify({
        volumes: Array.from({ length: VOLUMES }, (_, i) => ({ id: `vol-${i}`, accountId: ACCOUNT, region: REGION, volumeType: 'gp2', sizeGiB: 100, state: 'available' })),
      }),
    );

    const answered: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', CHILD, fleetFile, statePath], { cwd: ROOT });
      let buffer = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => {
        buffer += d.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        for (const line of lines) answered.push(line.replace(/^answered /, ''));
        if (answered.length >= 300 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child ended ${code ?? signal} before the kill: ${stderr}`))));
    });
    expect(answered.length).toBeGreaterThanOrEqual(300);

    const fleet = await SimulatedFleet.open({ fleetFile, statePath });
    try {
      const state = fleet.snapshot();
      const modified = new Set(state.volumes.filter((v) => v.volumeType === 'gp3').map((v) => v.id));
      const ok = fleet.calls().filter((c) => c.operation === 'modifyVolume' && c.result === 'ok');
      for (const id of answered) expect(modified.has(id)).toBe(true);
      // the one call in flight at the kill may have committed without being printed
      expect(modified.size - answered.length).toBeGreaterThanOrEqual(0);
      expect(modified.size - answered.length).toBeLessThanOrEqual(1);
      // the state and the call log are written in one transaction: they agree, each effect logged once
      expect(ok.map((c) => c.resourceId).sort()).toEqual([...modified].sort());
      expect(new Set(ok.map((c) => c.clientToken)).size).toBe(ok.length);
    } finally {
      fleet.close();
    }
  });
});
