#!/usr/bin/env node
import 'reflect-metadata';
import { startTracing } from '@optex/observability';
import { limitHeapGrowth } from '@optex/runtime';
import { main } from './cli/program';

// V8 may otherwise let a long run's heap grow to four times what it keeps (OPTEX_HEAP_GROWTH_PERCENT, default 50 %).
try {
  limitHeapGrowth();
} catch (error) {
  process.stderr.write(`optex: ${(error as Error).message}\n`);
  process.exit(2);
}

// Traces go out over OTLP/HTTP when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set (the all-in-one engine of `optex run`
// and `optex api` traces all five services in this one process); otherwise this registers nothing.
const stopTracing = startTracing({ serviceName: 'optex' });

main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`optex: ${String(error)}\n`);
      process.exitCode = 1;
    },
  )
  .finally(() => stopTracing());
