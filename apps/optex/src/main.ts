#!/usr/bin/env node
import 'reflect-metadata';
import { main } from './cli/program';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`optex: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
