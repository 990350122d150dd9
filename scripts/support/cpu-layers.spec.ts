import { IDLE, START_UP, layerTable, layerTimes, type CpuProfile } from './cpu-layers';

const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({ id, callFrame: { functionName, url }, children });
const DIST = 'file:///work/optex/dist';

/**
 * (root) ─┬─ Module._load (loader) ── top-level of a service (optex, during start-up)
 *         ├─ append (event store) ─┬─ eventHash (hash chain)
 *         │                        └─ run (better-sqlite3)
 *         ├─ processTicksAndRejections (Node) ── handle (in-memory bus) ── onEvent (scheduler) ── parse (zod)
 *         ├─ processImmediate (Node) ── toString (Node)
 *         ├─ (garbage collector)
 *         └─ (idle)
 */
const profile = (samples: number[], timeDeltas: number[]): CpuProfile => ({
  nodes: [
    frame(1, '(root)', '', [2, 4, 7, 11, 12, 13]),
    frame(2, 'Module._load', 'node:internal/modules/cjs/loader', [3]),
    frame(3, '', `${DIST}/libs/services/scheduler/src/scheduler.service.js`),
    frame(4, 'append', `${DIST}/libs/platform/event-store/src/sqlite/sqlite-event-store.js`, [5, 6]),
    frame(5, 'eventHash', `${DIST}/libs/platform/event-store/src/chain/hash-chain.js`),
    frame(6, 'run', 'file:///work/optex/node_modules/better-sqlite3/lib/methods/wrappers.js'),
    frame(7, 'processTicksAndRejections', 'node:internal/process/task_queues', [8]),
    frame(8, 'handle', `${DIST}/libs/platform/messaging/src/memory/in-memory-bus.js`, [9]),
    frame(9, 'onEvent', `${DIST}/libs/services/scheduler/src/scheduler.service.js`, [10]),
    frame(10, 'parse', 'file:///work/optex/node_modules/zod/v4/core/schemas.cjs'),
    frame(11, 'processImmediate', 'node:internal/timers', [14]),
    frame(12, '(garbage collector)', ''),
    frame(13, '(idle)', ''),
    frame(14, 'toString', 'node:internal/util'), // a name that is also a property of every object
  ],
  samples,
  timeDeltas,
});

describe('bench:engine CPU by layer', () => {
  it('gives each sample to its nearest frame that belongs to a layer, start-up when module loading is on the stack', () => {
    const times = layerTimes(profile([3, 4, 5, 6, 6, 8, 9, 10, 11, 14, 12, 13], [100, 10, 20, 30, 40, 5, 6, 7, 5, 3, 9, 1000]));
    expect(Object.fromEntries(times.map((t) => [t.layer, t.micros]))).toEqual({
      [START_UP]: 100,
      'event store (SQLite, serialization)': 80, // its own frame and the better-sqlite3 call under it
      'hash chain (canonical JSON, SHA-256)': 20,
      'bus and Nest dispatch': 5,
      'services and read models': 6,
      'zod (parsing)': 7,
      'Node.js': 8,
      'garbage collection': 9,
      [IDLE]: 1000,
    });
    expect(times[0]).toEqual({ layer: IDLE, micros: 1000 });
  });

  it('refuses a profile whose samples and deltas disagree, or that names a node it does not have', () => {
    expect(() => layerTimes(profile([4, 4], [1]))).toThrow('cpu profile: 2 samples but 1 time deltas');
    expect(() => layerTimes(profile([99], [1]))).toThrow('cpu profile: a sample names node 99, which the profile does not have');
  });

  it('prints µs per unit of work without start-up and shares of the busy time without idle', () => {
    const lines = layerTable(
      [
        { layer: IDLE, micros: 9_000_000 },
        { layer: 'event store (SQLite, serialization)', micros: 600_000 },
        { layer: START_UP, micros: 200_000 },
        { layer: 'garbage collection', micros: 200_000 },
      ],
      1000,
      'optimization',
    );
    expect(lines).toEqual([
      'layer                                µs per optimization  of busy CPU',
      'event store (SQLite, serialization)                  600       60.0 %',
      'start-up (module loading)                                      20.0 %',
      'garbage collection                                   200       20.0 %',
      'all but start-up                                     800       80.0 %',
    ]);
  });
});
