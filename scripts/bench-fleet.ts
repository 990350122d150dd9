// Benchmark of the simulated fleet's persistence: prints figures, asserts nothing.
//
//   npm run -s build && node dist/scripts/bench-fleet.js [--volumes N] [--calls N]
//
// Opens a fleet of N volumes (default 2000) persisted beside a store in a temp directory, then makes
// `--calls` calls (default 10000): for each volume in turn a describeVolume, a dry-run modifyVolume
// and, every tenth, a real modifyVolume (a write). Prints the wall time and calls/s.
// The temp directory is removed after the run; kept, its path printed, after a failure.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimulatedFleet, stateFileFor } from '@optex/cloud';
import { inScratchDir } from './support/scratch-dir';

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
  return value;
}

async function main(): Promise<void> {
  const volumes = arg('--volumes', 2000);
  const calls = arg('--calls', 10_000);
  await inScratchDir('bench-fleet', { keep: false, holds: 'the fleet file and its state', report: (line) => process.stderr.write(`bench-fleet: ${line}\n`) }, async (dir) => {
    const fleetFile = join(dir, 'fleet.json');
    const accountId = '111122223333';
    const region = 'us-east-1';
    writeFileSync(
      fleetFile,
      JSON.stringify({
        volumes: Array.from({ length: volumes }, (_, i) => ({ id: `vol-${i}`, accountId, region, volumeType: 'gp2', sizeGiB: 100, state: 'available' })),
      }),
    );
    const opened = Date.now();
    const fleet = await SimulatedFleet.open({ fleetFile, statePath: stateFileFor(`sqlite:${join(dir, 'events.db')}`) });
    const openMs = Date.now() - opened;
    const started = process.hrtime.bigint();
    let made = 0;
    for (let i = 0; made < calls; i++) {
      const ref = { accountId, region, id: `vol-${i % volumes}` };
      await fleet.describeVolume(ref);
      made++;
      await fleet.modifyVolume(ref, { volumeType: 'gp3' }, { dryRun: true }).catch(() => undefined);
      made++;
      if (i % 10 === 0 && i < volumes) {
        await fleet.modifyVolume(ref, { volumeType: 'gp3' });
        made++;
      }
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`volumes ${volumes}, calls ${made}: open ${openMs} ms, calls ${ms.toFixed(0)} ms, ${Math.round((made / ms) * 1000)} calls/s`);
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
