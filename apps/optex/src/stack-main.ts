#!/usr/bin/env node
import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { STACK_COMPONENTS, stackDown, stackRestart, stackUp, type StackComponent } from './stack/stack';
import { downFlag, MAX_PARTITIONS, partitionsFlag } from './stack-flags';

/** Where `stack` keeps state, logs and data unless `--dir` says otherwise. */
export const DEFAULT_STACK_DIR = '.optex/stack';

/** `dir` as one shell word (quoted when it holds anything but plain path characters). */
const shellWord = (dir: string): string => (/^[\w@%+=:,./-]+$/.test(dir) ? dir : `'${dir.replace(/'/g, `'\\''`)}'`);

/** The command that stops the stack `stack up --dir DIR` started: `--dir DIR` again, unless DIR is the default. */
export function stopCommand(dir: string): string {
  return `npm run -s stack -- down${dir === DEFAULT_STACK_DIR ? '' : ` --dir ${shellWord(dir)}`}`;
}

/** The line `stack up` ends with (without `--json`): how long it took, where the logs are, how to stop it. */
export function upSummary(state: { readonly startedInMs: number; readonly dir: string }, dir: string): string {
  return `stack up in ${(state.startedInMs / 1000).toFixed(1)} s; logs in ${state.dir}; stop it with: ${stopCommand(dir)}`;
}

/** `npm run -s stack -- up|down`: the production topology on this machine, without Docker. */
async function main(argv: readonly string[]): Promise<number> {
  const err = (s: string) => process.stderr.write(`${s}\n`);
  const program = new Command('stack').exitOverride().configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => err(s.trimEnd()) });
  let code = 0;
  program
    .command('up')
    .description('start Kafka, the ESDB emulator, moto (unless --cloud) and the five services; print where they are')
    .option('--cloud <target>', 'aws:ENDPOINT to use instead of starting moto_server')
    .addOption(new Option('--partitions <n>', `partitions of the optex topics (1 to ${MAX_PARTITIONS})`).default('3'))
    .addOption(new Option('--dir <dir>', 'state, logs and data').default(DEFAULT_STACK_DIR))
    .option('--json', 'print only JSON on stdout')
    .action(async (flags: { cloud?: string; partitions: string; dir: string; json?: boolean }) => {
      const partitionsOrError = partitionsFlag(flags.partitions);
      if (!partitionsOrError.ok) {
        err(partitionsOrError.error);
        code = 2;
        return;
      }
      const partitions = partitionsOrError.value;
      if (flags.cloud !== undefined && !/^aws:https?:\/\/.+/.test(flags.cloud)) {
        err(`stack: --cloud must be aws:http(s)://ENDPOINT, got ${JSON.stringify(flags.cloud)}`);
        code = 2;
        return;
      }
      const state = await stackUp({ dir: flags.dir, partitions, ...(flags.cloud ? { cloud: flags.cloud } : {}), progress: flags.json ? () => undefined : err });
      const services = Object.fromEntries(Object.entries(state.services).map(([k, v]) => [k, { pid: v.pid, port: v.port }]));
      const out = { bus: state.bus, store: state.store, cloud: state.cloud, services };
      process.stdout.write(flags.json ? `${JSON.stringify(out)}\n` : `${JSON.stringify(out, null, 2)}\n${upSummary(state, flags.dir)}\n`);
    });
  program
    .command('down')
    .description('stop exactly what stack up started')
    .addOption(new Option('--dir <dir>', 'state, logs and data').default(DEFAULT_STACK_DIR))
    .option('--json', 'print only JSON on stdout')
    .action(async (flags: { dir: string; json?: boolean }) => {
      const result = await stackDown(flags.dir, flags.json ? () => undefined : err);
      process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : result.stopped.length ? '' : 'no stack was up\n');
    });
  program
    .command('restart <component>')
    .description(`stop one process of the stack and start it again with what it had (${STACK_COMPONENTS.join(', ')})`)
    .addOption(new Option('--dir <dir>', 'state, logs and data').default(DEFAULT_STACK_DIR))
    .addOption(new Option('--signal <signal>', 'how to stop it: TERM finishes the message in hand, KILL is a crash').choices(['TERM', 'KILL']).default('TERM'))
    .addOption(new Option('--down <ms>', 'how long it stays down before it starts again').default('0'))
    .option('--json', 'print only JSON on stdout')
    .action(async (component: string, flags: { dir: string; signal: 'TERM' | 'KILL'; down: string; json?: boolean }) => {
      if (!(STACK_COMPONENTS as readonly string[]).includes(component)) {
        err(`stack: restart: expected one of ${STACK_COMPONENTS.join(', ')}, got ${JSON.stringify(component)}`);
        code = 2;
        return;
      }
      const downOrError = downFlag(flags.down);
      if (!downOrError.ok) {
        err(downOrError.error);
        code = 2;
        return;
      }
      const downMs = downOrError.value;
      const result = await stackRestart(flags.dir, component as StackComponent, { signal: `SIG${flags.signal}`, downMs, progress: flags.json ? undefined : err });
      process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : `${component} restarted: pid ${result.oldPid} → ${result.pid}${result.port ? `, port ${result.port}` : ''}\n`);
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

if (require.main === module) main(process.argv.slice(2)).then((code) => (process.exitCode = code));
