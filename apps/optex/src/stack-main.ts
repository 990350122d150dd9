#!/usr/bin/env node
import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { stackDown, stackUp } from './stack/stack';

/** `npm run -s stack -- up|down`: the production topology on this machine, without Docker. */
async function main(argv: readonly string[]): Promise<number> {
  const err = (s: string) => process.stderr.write(`${s}\n`);
  const program = new Command('stack').exitOverride().configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => err(s.trimEnd()) });
  let code = 0;
  program
    .command('up')
    .description('start Kafka, the ESDB emulator, moto (unless --cloud) and the five services; print where they are')
    .option('--cloud <target>', 'aws:ENDPOINT to use instead of starting moto_server')
    .addOption(new Option('--partitions <n>', 'partitions of the optex topics').default('3'))
    .addOption(new Option('--dir <dir>', 'state, logs and data').default('.optex/stack'))
    .option('--json', 'print only JSON on stdout')
    .action(async (flags: { cloud?: string; partitions: string; dir: string; json?: boolean }) => {
      const partitions = Number(flags.partitions);
      if (!Number.isInteger(partitions) || partitions < 1) {
        err(`stack: --partitions must be a positive integer, got ${JSON.stringify(flags.partitions)}`);
        code = 2;
        return;
      }
      if (flags.cloud !== undefined && !/^aws:https?:\/\/.+/.test(flags.cloud)) {
        err(`stack: --cloud must be aws:http(s)://ENDPOINT, got ${JSON.stringify(flags.cloud)}`);
        code = 2;
        return;
      }
      const state = await stackUp({ dir: flags.dir, partitions, ...(flags.cloud ? { cloud: flags.cloud } : {}), progress: flags.json ? () => undefined : err });
      const services = Object.fromEntries(Object.entries(state.services).map(([k, v]) => [k, { pid: v.pid, port: v.port }]));
      const out = { bus: state.bus, store: state.store, cloud: state.cloud, services };
      process.stdout.write(flags.json ? `${JSON.stringify(out)}\n` : `${JSON.stringify(out, null, 2)}\nstack up in ${(state.startedInMs / 1000).toFixed(1)} s; logs in ${state.dir}; stop it with: npm run -s stack -- down\n`);
    });
  program
    .command('down')
    .description('stop exactly what stack up started')
    .addOption(new Option('--dir <dir>', 'state, logs and data').default('.optex/stack'))
    .option('--json', 'print only JSON on stdout')
    .action(async (flags: { dir: string; json?: boolean }) => {
      const result = await stackDown(flags.dir, flags.json ? () => undefined : err);
      process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : result.stopped.length ? '' : 'no stack was up\n');
    });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.code === 'commander.helpDisplayed' || error.code === 'commander.help' ? 0 : 2;
    err(`stack: ${(error as Error).message}`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
