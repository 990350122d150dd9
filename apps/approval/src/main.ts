import 'reflect-metadata';
import { runServiceProcess } from '@optex/runtime';

void runServiceProcess('approval').catch((error: unknown) => {
  process.stderr.write(`approval: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
