#!/usr/bin/env node
// Compiles apps/, libs/ and scripts/*.ts to dist/ with SWC: CommonJS, decorator metadata,
// `@optex/*` path aliases rewritten to relative requires, barrels re-exporting values (support/swc-build.mjs). Type checking is tsc's job (`npm run typecheck`).
import { transformFile } from '@swc/core';
import { mkdir, readdir, writeFile, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { SWC_OPTIONS, valueReExports } from './support/swc-build.mjs';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const out = join(root, 'dist');
const tsconfig = JSON.parse(await readFile(join(root, 'tsconfig.base.json'), 'utf8'));
const aliases = Object.fromEntries(
  Object.entries(tsconfig.compilerOptions.paths).map(([k, [v]]) => [k, join(root, v).replace(/\.ts$/, '')]),
);

async function* walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') yield* walk(path);
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !entry.name.endsWith('.spec.ts')) yield path;
  }
}

const files = [];
for (const dir of ['apps', 'libs', 'scripts']) for await (const f of walk(join(root, dir))) files.push(f);

const started = Date.now();
await Promise.all(
  files.map(async (file) => {
    const target = join(out, relative(root, file)).replace(/\.ts$/, '.js');
    const { code, map } = await transformFile(file, SWC_OPTIONS);
    const rewritten = valueReExports(code, file).replace(/require\("(@optex\/[a-z-]+)"\)/g, (whole, name) => {
      const to = aliases[name];
      if (!to) return whole;
      let rel = relative(dirname(file), to);
      if (!rel.startsWith('.')) rel = `./${rel}`;
      return `require(${JSON.stringify(rel)})`;
    });
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, `${rewritten}\n//# sourceMappingURL=${target.split('/').pop()}.map\n`);
    await writeFile(`${target}.map`, map ?? '');
  }),
);
if (!process.env.OPTEX_BUILD_QUIET) process.stderr.write(`built ${files.length} files into dist/ in ${Date.now() - started} ms\n`);
