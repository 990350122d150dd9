// Writes docs/openapi.json, the HTTP API's OpenAPI document (what GET /openapi.json serves).
// Run: npm run -s openapi (build, then node dist/scripts/export-openapi.js [--check]).
// With --check it only compares and exits 1 when the committed file has drifted; libs/api/src/openapi.spec.ts does the same in the unit tier.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openApiText } from '@optex/api';
import { SqliteEventStore } from '@optex/event-store';

function workspaceRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no nx.json above ${from}`);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const target = join(workspaceRoot(__dirname), 'docs', 'openapi.json');
  const store = SqliteEventStore.open(':memory:');
  const text = await openApiText(store).finally(() => store.close());
  if (argv.includes('--check')) {
    const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
    if (current !== text) {
      process.stderr.write(`${target} is out of date: run npm run -s openapi\n`);
      return 1;
    }
    return 0;
  }
  writeFileSync(target, text);
  process.stderr.write(`wrote ${target}\n`);
  return 0;
}

if (require.main === module) main(process.argv.slice(2)).then((code) => (process.exitCode = code));
