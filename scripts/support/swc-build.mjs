// How scripts/build.mjs compiles each file with SWC, and the one change it makes to SWC's output (tested in
// swc-build.spec.ts).
//
// Re-exports as values: SWC compiles `export * from './x'` to a call of its `_export_star` helper, which defines one getter on the barrel's
// `exports` per name. A barrel such as `@optex/domain` re-exports hundreds of names, so V8 keeps its `exports` as a
// dictionary and every `(0, _domain.decide)(…)` in another library is a lookup plus a getter call that TurboFan cannot
// inline. In `bench:engine --cpu-prof` the barrels' getters took 58–67 µs of a dry run's ~3,100 (the domain's 43–47) (10,000 dry runs), and the
// functions behind them were not inlined either: with values, a dry run took 7 % less CPU (2 pairs, 3,265/3,028 →
// 2,908/2,942 µs).
//
// The rewritten helper copies each name's value when the module it comes from has already set it, which is when the
// barrel runs unless the two are in an import cycle. A name that is undefined then, or throws (a class or const not
// yet initialised inside a cycle), keeps SWC's getter, so it still reads what the module sets later. A copied value
// would miss a later reassignment of an `export let`; optex exports none, and a lint rule (eslint.config.mjs,
// `no-restricted-syntax`) refuses `export let` and `export var`.

/** SWC's options for every file: TypeScript with legacy decorators and their metadata (Nest injects by them), CommonJS. */
export const SWC_OPTIONS = {
  sourceMaps: true,
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs', ignoreDynamic: true },
};

/** The `_export_star` helper as @swc/core 1.x writes it into a CommonJS module. */
export const SWC_EXPORT_STAR = `function _export_star(from, to) {
    Object.keys(from).forEach(function(k) {
        if (k !== "default" && !Object.prototype.hasOwnProperty.call(to, k)) {
            Object.defineProperty(to, k, {
                enumerable: true,
                get: function() {
                    return from[k];
                }
            });
        }
    });
    return from;
}`;

/** {@link SWC_EXPORT_STAR} re-exporting values, in as many lines (the source map's lines after it stay right). */
export const VALUE_EXPORT_STAR = `function _export_star(from, to) {
    Object.keys(from).forEach(function(k) {
        if (k !== "default" && !Object.prototype.hasOwnProperty.call(to, k)) {
            var value; try { value = from[k]; } catch (_) { value = undefined; }
            Object.defineProperty(to, k, value !== undefined ? { enumerable: true, value: value } : { enumerable: true,
                get: function() {
                    return from[k];
                }
            });
        }
    });
    return from;
}`;

/**
 * `code` (SWC's CommonJS output of `file`) with its `_export_star` helper replaced by one that re-exports values.
 * Code without the helper comes back as it is.
 * @throws Error naming `file` when the code calls `_export_star` but its helper is not {@link SWC_EXPORT_STAR} (an SWC
 *   upgrade changed it: the build must not ship getters silently).
 */
export function valueReExports(code, file) {
  if (!code.includes('_export_star(')) return code;
  const at = code.indexOf(SWC_EXPORT_STAR);
  if (at === -1) throw new Error(`${file}: SWC's _export_star helper is not the one scripts/support/swc-build.mjs rewrites; update SWC_EXPORT_STAR`);
  return code.slice(0, at) + VALUE_EXPORT_STAR + code.slice(at + SWC_EXPORT_STAR.length);
}
