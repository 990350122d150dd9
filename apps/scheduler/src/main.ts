import 'reflect-metadata';
import { runServiceProcess } from '@optex/runtime';

void runServiceProcess('scheduler').catch((error: unknown) => {
  process.stderr.write(`scheduler: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
