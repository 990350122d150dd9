// Where a CPU profile's time goes, by layer of optex (bench:engine --cpu-prof); tested in cpu-layers.spec.ts.
//
// A V8 CPU profile (what `node --cpu-prof` writes, or the inspector's Profiler.stop returns) is a call tree and the
// node each sample landed in. Each sample's time goes to one layer: start-up when module loading is anywhere on its stack; else the layer of the nearest frame,
// itself first and then its callers, whose file belongs to one (so better-sqlite3, node:crypto and Node's own
// internals count for the optex code that called them); V8's garbage collector, `(program)` and `(idle)` are layers
// of their own; what no frame places is "Node.js".
import { readFileSync } from 'node:fs';

/** The parts of a `.cpuprofile` this reads. */
export interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: { readonly functionName: string; readonly url: string }; readonly children?: readonly number[] }[];
  readonly samples: readonly number[];
  /** Microseconds before each sample. */
  readonly timeDeltas: readonly number[];
}

export const START_UP = 'start-up (module loading)';
export const IDLE = '(idle)';

/** Layers by the file a frame runs in, first match first (the event store's hash chain before the rest of it). */
export const OPTEX_LAYERS: readonly (readonly [RegExp, string])[] = [
  [/\/libs\/platform\/event-store\/src\/chain\//, 'hash chain (canonical JSON, SHA-256)'],
  [/\/libs\/platform\/event-store\//, 'event store (SQLite, serialization)'],
  [/\/libs\/platform\/cloud\/src\/simulated\//, 'simulated fleet (its SQLite included)'],
  [/\/libs\/platform\/cloud\//, 'cloud adapters'],
  [/\/libs\/platform\/messaging\/src\/(relay\/|cloudevents)/, 'relay (CloudEvents encoding, publish)'],
  [/\/libs\/platform\/messaging\/|\/node_modules\/(@nestjs|rxjs|kafkajs)\//, 'bus and Nest dispatch'],
  [/\/libs\/domain\/|\/node_modules\/uuid\//, 'domain (decide, evolve, ids)'],
  [/\/node_modules\/zod\//, 'zod (parsing)'],
  [/\/libs\/services\/|\/libs\/platform\/projections\//, 'services and read models'],
  [/\/libs\/platform\/observability\/|\/node_modules\/(prom-client|pino)\//, 'metrics and logs'],
  [/\/libs\/(runtime|platform\/ports|api)\/|\/node_modules\/cockatiel\//, 'runtime and ports'],
  [/\/scripts\//, 'the benchmark itself'],
];

const SPECIAL = new Map([
  ['(garbage collector)', 'garbage collection'],
  ['(program)', 'V8 (program)'],
  ['(idle)', IDLE],
]);
const LOADER = /^node:internal\/modules\//;

export interface LayerTime {
  readonly layer: string;
  readonly micros: number;
}

/** Microseconds of the profile by layer, largest first; the layers named in `layers`, start-up, V8's own and "Node.js". */
export function layerTimes(profile: CpuProfile, layers: readonly (readonly [RegExp, string])[] = OPTEX_LAYERS): LayerTime[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const memo = new Map<number, { layer: string | undefined; loading: boolean }>();
  // Iterative, root first: a deep stack must not overflow this one.
  const resolve = (id: number): { layer: string | undefined; loading: boolean } => {
    const chain: number[] = [];
    for (let at: number | undefined = id; at !== undefined && !memo.has(at); at = parentOf.get(at)) chain.push(at);
    for (let i = chain.length - 1; i >= 0; i--) {
      const node = byId.get(chain[i]);
      if (!node) throw new Error(`cpu profile: a child names node ${chain[i]}, which the profile does not have`);
      const parent = parentOf.has(chain[i]) ? memo.get(parentOf.get(chain[i])!) : undefined;
      const own = SPECIAL.get(node.callFrame.functionName) ?? layers.find(([pattern]) => pattern.test(node.callFrame.url))?.[1];
      memo.set(chain[i], { layer: own ?? parent?.layer, loading: (parent?.loading ?? false) || LOADER.test(node.callFrame.url) });
    }
    return memo.get(id)!;
  };
  if (profile.samples.length !== profile.timeDeltas.length) throw new Error(`cpu profile: ${profile.samples.length} samples but ${profile.timeDeltas.length} time deltas`);
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    if (!byId.has(id)) throw new Error(`cpu profile: a sample names node ${id}, which the profile does not have`);
    const { layer, loading } = resolve(id);
    const name = loading ? START_UP : (layer ?? 'Node.js');
    totals.set(name, (totals.get(name) ?? 0) + Math.max(0, profile.timeDeltas[i]));
  });
  return [...totals].map(([layer, micros]) => ({ layer, micros })).sort((a, b) => b.micros - a.micros || a.layer.localeCompare(b.layer));
}

export function readCpuProfile(path: string): CpuProfile {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || !Array.isArray(profile.timeDeltas)) throw new Error(`${path}: not a V8 CPU profile (nodes, samples and timeDeltas expected)`);
  return profile;
}

/**
 * Lines of a table: each layer's CPU time per unit of work (µs per optimization) and share of the busy time (all but
 * idle); start-up is shown but left out of the per-unit figures, which are the cost of the work itself.
 */
export function layerTable(times: readonly LayerTime[], units: number, unitName: string): string[] {
  const busy = times.filter((t) => t.layer !== IDLE).reduce((sum, t) => sum + t.micros, 0);
  const working = times.filter((t) => t.layer !== IDLE && t.layer !== START_UP).reduce((sum, t) => sum + t.micros, 0);
  const rows = times
    .filter((t) => t.layer !== IDLE)
    .map((t) => [t.layer, t.layer === START_UP ? '' : (t.micros / units).toFixed(0), `${((100 * t.micros) / busy).toFixed(1)} %`]);
  rows.push(['all but start-up', (working / units).toFixed(0), `${((100 * working) / busy).toFixed(1)} %`]);
  const header = ['layer', `µs per ${unitName}`, 'of busy CPU'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
}
