import 'reflect-metadata';
import { runServiceProcess } from '@optex/runtime';

void runServiceProcess('executor').catch((error: unknown) => {
  process.stderr.write(`executor: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
