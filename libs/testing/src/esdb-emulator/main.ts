#!/usr/bin/env node
// Runs the EventStoreDB Streams emulator as its own process (a test double, see README.md):
//   node dist/libs/testing/src/esdb-emulator/main.js [--port N] [--data FILE]
// Prints one JSON line {"url": "esdb://127.0.0.1:N?tls=false", "port": N} on stdout once it
// listens, then serves until SIGTERM or SIGINT.
import { startEsdbEmulator } from './server';

interface Args {
  port?: number;
  dataFile?: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--port') {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected 0..65535, got ${JSON.stringify(value)}`);
      args.port = port;
      i++;
    } else if (flag === '--data') {
      if (!value) throw new Error('--data: expected a file path');
      args.dataFile = value;
      i++;
    } else {
      throw new Error(`unknown argument ${JSON.stringify(flag)} (usage: main.js [--port N] [--data FILE])`);
    }
  }
  return args;
}

async function main(): Promise<void> {
  const emulator = await startEsdbEmulator(parseArgs(process.argv.slice(2)));
  process.stdout.write(`${JSON.stringify({ url: emulator.url, port: emulator.port })}\n`);
  const shutdown = (): void => {
    void emulator.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`esdb emulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
