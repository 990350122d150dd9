// Writes docs/recommendation.schema.json from the domain's zod schema (the analyzers' contract), and
// docs/analyzers/<format>.schema.json: the analyzers' own formats `optex import` reads.
// Run: npm run -s build && node dist/scripts/export-schema.js [--check]
// With --check it only compares and exits 1 when the committed file has drifted.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { analyzerJsonSchemas, recommendationJsonSchema } from '@optex/domain';

/** The file's exact text: 2-space JSON with a trailing newline. */
export const schemaText = (): string => `${JSON.stringify(recommendationJsonSchema(), null, 2)}\n`;

/** Each exported file, relative to the workspace root, with its exact text. */
export const schemaFiles = (): Record<string, string> => ({
  [join('docs', 'recommendation.schema.json')]: schemaText(),
  ...Object.fromEntries(Object.entries(analyzerJsonSchemas()).map(([name, schema]) => [join('docs', 'analyzers', `${name}.schema.json`), `${JSON.stringify(schema, null, 2)}\n`])),
});

/** The workspace root: the nearest directory above this file holding nx.json (works from scripts/ and dist/scripts/). */
function workspaceRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no nx.json above ${from}`);
  }
}

function main(argv: readonly string[]): number {
  const root = workspaceRoot(__dirname);
  let drifted = 0;
  for (const [file, text] of Object.entries(schemaFiles())) {
    const target = join(root, file);
    if (argv.includes('--check')) {
      let current = '';
      try {
        current = readFileSync(target, 'utf8');
      } catch {
        // missing file: drifted
      }
      if (current !== text) {
        process.stderr.write(`${target} is out of date: run node dist/scripts/export-schema.js\n`);
        drifted++;
      }
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
    process.stderr.write(`wrote ${target}\n`);
  }
  return drifted > 0 ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
