#!/usr/bin/env node
import 'reflect-metadata';
import { startTracing } from '@optex/observability';
import { main } from './cli/program';

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
