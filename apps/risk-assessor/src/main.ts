import 'reflect-metadata';
import { runServiceProcess } from '@optex/runtime';

void runServiceProcess('risk-assessor').catch((error: unknown) => {
  process.stderr.write(`risk-assessor: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
