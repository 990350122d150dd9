import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transformSync } from '@swc/core';
import { SWC_EXPORT_STAR, SWC_OPTIONS, VALUE_EXPORT_STAR, valueReExports } from './swc-build.mjs';

/**
 * A barrel (`index`) re-exporting two modules, `a` and `b`, where `b` imports the barrel back: loaded from `b`, the
 * barrel runs while `b` has not yet set its exports (an import cycle); loaded from the barrel, it runs after both.
 */
const SOURCES: Record<string, string> = {
  'index.ts': `export * from './a';\nexport * from './b';\n`,
  'a.ts': `export function twice(n: number): number { return 2 * n; }\nexport const LIMIT = { max: 3 };\nexport class Counter { n = 0; }\n`,
  'b.ts': `import { twice } from './index';\nexport const LATE = 'set after the barrel ran';\nexport const four = (): number => twice(2);\n`,
};

interface Described {
  readonly name: string;
  readonly kind: 'value' | 'getter';
  readonly read: string;
}

/** Compiles the sources as the build does (`rewrite` or not), loads `entry` in a fresh node and describes the barrel. */
function loadBarrel(entry: string, rewrite: boolean): Described[] {
  const dir = mkdtempSync(join(tmpdir(), 'optex-swc-build-'));
  try {
    for (const [file, source] of Object.entries(SOURCES)) {
      const { code } = transformSync(source, { ...SWC_OPTIONS, sourceMaps: false, filename: file });
      writeFileSync(join(dir, file.replace(/\.ts$/, '.js')), rewrite ? valueReExports(code, file) : code);
    }
    const script = `
      require(${JSON.stringify(join(dir, entry))});
      const barrel = require(${JSON.stringify(join(dir, 'index.js'))});
      const out = Object.keys(barrel).sort().map((name) => {
        const d = Object.getOwnPropertyDescriptor(barrel, name);
        const v = barrel[name];
        const read = typeof v === 'function' ? (v.prototype && /^class/.test(String(v)) ? 'class ' + v.name : 'function ' + v.name + ' ' + (v.length === 0 ? v() : v(5))) : JSON.stringify(v);
        return { name, kind: 'value' in d ? 'value' : 'getter', read };
      });
      process.stdout.write(JSON.stringify(out));`;
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as Described[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the build’s SWC output', () => {
  it('has the _export_star helper the build rewrites, and the rewrite keeps its line count', () => {
    const { code } = transformSync(SOURCES['index.ts'], { ...SWC_OPTIONS, sourceMaps: false, filename: 'index.ts' });
    expect(code).toContain(SWC_EXPORT_STAR);
    expect(VALUE_EXPORT_STAR.split('\n')).toHaveLength(SWC_EXPORT_STAR.split('\n').length);
    expect(valueReExports(code, 'index.ts')).not.toContain(SWC_EXPORT_STAR);
  });

  it('re-exports values when the modules have set them, and the same reads as SWC’s getters', () => {
    const rewritten = loadBarrel('index.js', true);
    expect(rewritten).toEqual([
      { name: 'Counter', kind: 'value', read: 'class Counter' },
      { name: 'LATE', kind: 'value', read: JSON.stringify('set after the barrel ran') },
      { name: 'LIMIT', kind: 'value', read: JSON.stringify({ max: 3 }) },
      { name: 'four', kind: 'value', read: 'function four 4' },
      { name: 'twice', kind: 'value', read: 'function twice 10' },
    ]);
    const getters = loadBarrel('index.js', false);
    expect(getters.map((d) => d.kind)).toEqual(rewritten.map(() => 'getter'));
    expect(getters.map((d) => d.read)).toEqual(rewritten.map((d) => d.read));
  });

  it('keeps a getter for what an import cycle has not set yet, which then reads what the module set', () => {
    expect(loadBarrel('b.js', true)).toEqual([
      { name: 'Counter', kind: 'value', read: 'class Counter' },
      { name: 'LATE', kind: 'getter', read: JSON.stringify('set after the barrel ran') },
      { name: 'LIMIT', kind: 'value', read: JSON.stringify({ max: 3 }) },
      { name: 'four', kind: 'getter', read: 'function four 4' },
      { name: 'twice', kind: 'value', read: 'function twice 10' },
    ]);
  });

  it('refuses code that calls _export_star with a helper it does not know, naming the file', () => {
    const changed = `${SWC_EXPORT_STAR.replace('return from;', 'return to;')}\n_export_star(require("./a"), exports);\n`;
    expect(() => valueReExports(changed, 'libs/x/src/index.ts')).toThrow(/libs\/x\/src\/index\.ts: SWC's _export_star helper is not the one/);
    expect(valueReExports('exports.x = 1;\n', 'plain.ts')).toBe('exports.x = 1;\n');
  });
});
