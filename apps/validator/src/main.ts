import 'reflect-metadata';
import { runServiceProcess } from '@optex/runtime';

void runServiceProcess('validator').catch((error: unknown) => {
  process.stderr.write(`validator: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
