// Writes docs/events/<type>.schema.json: the JSON Schema of each public integration event optex publishes on
// optex.events.v1 (the data of the CloudEvent whose ce_type is <type>), generated from the domain's zod schemas.
// Run: npm run -s events:schemas (build, then node dist/scripts/export-event-schemas.js [--check]).
// With --check it only compares and exits 1 when a committed file has drifted, is missing or is left over;
// libs/domain/src/integration-events.spec.ts does the same in the unit tier.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { integrationEventJsonSchemas } from '@optex/domain';

/** Each file under docs/events with its exact text: 2-space JSON with a trailing newline. */
export const eventSchemaFiles = (): Record<string, string> =>
  Object.fromEntries(Object.entries(integrationEventJsonSchemas()).map(([type, schema]) => [`${type}.schema.json`, `${JSON.stringify(schema, null, 2)}\n`]));

function workspaceRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no nx.json above ${from}`);
  }
}

function main(argv: readonly string[]): number {
  const dir = join(workspaceRoot(__dirname), 'docs', 'events');
  const files = eventSchemaFiles();
  const present = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.schema.json')) : [];
  const leftOver = present.filter((f) => !(f in files));
  if (argv.includes('--check')) {
    let drifted = leftOver.length;
    for (const f of leftOver) process.stderr.write(`${join(dir, f)} is no longer published: run npm run -s events:schemas\n`);
    for (const [file, text] of Object.entries(files)) {
      const target = join(dir, file);
      if (!existsSync(target) || readFileSync(target, 'utf8') !== text) {
        process.stderr.write(`${target} is out of date: run npm run -s events:schemas\n`);
        drifted++;
      }
    }
    return drifted > 0 ? 1 : 0;
  }
  mkdirSync(dir, { recursive: true });
  for (const f of leftOver) rmSync(join(dir, f));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  process.stderr.write(`wrote ${Object.keys(files).length} schemas to ${dir}\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
