import type { FleetState } from './fleet-schema';

// ── Records and their keys ──

/** The lists of the fleet state, each record of which is one row of the persisted state. */
export const FLEET_KINDS = ['instances', 'volumes', 'addresses', 'snapshots', 'reservedInstanceOfferings', 'faults'] as const;
export const SIMULATOR_KINDS = ['reservedInstances', 'listings', 'releasedAddresses'] as const;
export type RecordKind = (typeof FLEET_KINDS)[number] | (typeof SIMULATOR_KINDS)[number];

/** Lists looked up by id on every call, kept in a map as well. */
export type IndexedKind = 'instances' | 'volumes' | 'snapshots' | 'addresses';
const INDEXED: ReadonlySet<string> = new Set<IndexedKind>(['instances', 'volumes', 'snapshots', 'addresses']);

/** Where a record is stored: one row per (kind, account, region, id). */
export interface RowKey {
  readonly kind: RecordKind;
  readonly account: string;
  readonly region: string;
  readonly id: string;
}

type AnyRecord = Record<string, unknown>;

function idOf(kind: RecordKind, record: AnyRecord): string {
  switch (kind) {
    case 'instances':
    case 'volumes':
    case 'snapshots':
      return String(record['id']);
    case 'addresses':
    case 'releasedAddresses':
      return String(record['allocationId']);
    case 'reservedInstanceOfferings':
      return String(record['offeringId']);
    case 'reservedInstances':
      return String(record['reservedInstancesId']);
    case 'listings':
      return String(record['listingId']);
    case 'faults':
      throw new Error('faults have no id of their own');
    default: {
      const exhaustive: never = kind;
      return exhaustive;
    }
  }
}

const indexKey = (account: string, region: string, id: string): string => `${account}\u0000${region}\u0000${id}`;

/**
 * The fleet state held in memory, as loaded from (or seeded into) a store: the plain {@link FleetState}
 * plus a map per looked-up list, so finding a resource by id costs O(1) whatever the fleet's size.
 */
export class LiveFleet {
  /** Faults have no id: each keeps the one it was stored under (its position in the fleet file). */
  private readonly faultIds = new WeakMap<object, string>();
  private readonly indexes = new Map<IndexedKind, Map<string, AnyRecord>>();

  constructor(
    readonly state: FleetState,
    faultIds?: readonly string[],
  ) {
    state.faults.forEach((fault, index) => this.faultIds.set(fault, faultIds?.[index] ?? `#${index}`));
    for (const kind of INDEXED as ReadonlySet<IndexedKind>) {
      const map = new Map<string, AnyRecord>();
      for (const record of this.list(kind)) map.set(this.indexKeyOf(kind, record), record);
      this.indexes.set(kind, map);
    }
  }

  /** The list of `kind` (a live array). */
  list(kind: RecordKind): AnyRecord[] {
    return ((FLEET_KINDS as readonly string[]).includes(kind) ? this.state[kind as (typeof FLEET_KINDS)[number]] : this.state.simulator[kind as (typeof SIMULATOR_KINDS)[number]]) as unknown as AnyRecord[];
  }

  rowKey(kind: RecordKind, record: AnyRecord): RowKey {
    if (kind === 'faults') return { kind, account: '', region: '', id: this.faultIds.get(record) ?? '#?' };
    const account = kind === 'reservedInstanceOfferings' ? '' : String(record['accountId']);
    return { kind, account, region: String(record['region']), id: idOf(kind, record) };
  }

  /** The record of `kind` with that id in that account and region (offerings: region only), if any. */
  lookup(kind: IndexedKind, account: string, region: string, id: string): AnyRecord | undefined {
    return this.indexes.get(kind)!.get(indexKey(account, region, id));
  }

  added(kind: RecordKind, record: AnyRecord): void {
    if (INDEXED.has(kind)) this.indexes.get(kind as IndexedKind)!.set(this.indexKeyOf(kind, record), record);
  }

  removed(kind: RecordKind, record: AnyRecord): void {
    if (!INDEXED.has(kind)) return;
    const map = this.indexes.get(kind as IndexedKind)!;
    const key = this.indexKeyOf(kind, record);
    if (map.get(key) === record) map.delete(key);
  }

  private indexKeyOf(kind: RecordKind, record: AnyRecord): string {
    const key = this.rowKey(kind, record);
    return indexKey(key.account, key.region, key.id);
  }
}

// ── One call's changes ──

/** What a call changed: rows to write, rows to delete, and which bookkeeping values. */
export interface FleetChanges {
  readonly upserts: ReadonlyArray<{ readonly key: RowKey; readonly record: AnyRecord }>;
  readonly deletes: readonly RowKey[];
  /** `counters` (the simulator's id counters) and/or top-level fleet flags such as `dryRunUnauthorized`. */
  readonly meta: ReadonlySet<string>;
}

const READ_ONLY_ARRAY_METHODS: ReadonlySet<PropertyKey> = new Set(['map', 'some', 'every', 'reduce', 'forEach', 'findIndex', 'findLastIndex', 'join', 'length']);

/**
 * A view of the live fleet state for one mutating call that records what the call changes, so the store
 * writes only those rows (O(1) per call, whatever the fleet's size), and can undo the changes when the
 * call fails after making some.
 *
 * The view looks like a plain {@link FleetState}: records obtained from it (by index, `find`, `filter`,
 * iteration, {@link LiveFleet.lookup} through {@link wrap}) are proxies whose writes are tracked, and the
 * lists track `push` and `splice`. Callbacks (`find`, `map`, `some`, …) see the plain records: a change
 * made to a record inside a callback is not tracked. Other array mutators (`pop`, `sort`, index writes, …)
 * throw, so an untracked change cannot slip through.
 */
export class FleetTransaction {
  /** The view the call works on. */
  readonly state: FleetState;
  private readonly undoLog: Array<() => void> = [];
  private readonly touched = new Map<AnyRecord, RecordKind>();
  private readonly removedRecords = new Map<AnyRecord, { kind: RecordKind; key: RowKey }>();
  private readonly metaChanged = new Set<string>();
  /** Changes that survive {@link rollback} (a consumed fault). */
  private readonly kept = new Map<AnyRecord, RecordKind>();
  private readonly proxies = new Map<object, object>();
  private readonly raws = new WeakMap<object, object>();

  constructor(private readonly live: LiveFleet) {
    this.state = this.viewOfState();
  }

  /** The tracked view of a live record of `kind` (`undefined` stays `undefined`). */
  wrap<T>(kind: RecordKind, record: T): T {
    if (record === undefined || record === null) return record;
    return this.wrapObject(kind, record as unknown as AnyRecord, record as unknown as AnyRecord) as T;
  }

  /** Applies `change` to a live record and keeps it even when the call then fails (a consumed fault). */
  keep<T extends object>(kind: RecordKind, record: T, change: (record: T) => void): void {
    const raw = (this.raws.get(record) ?? record) as T;
    change(raw);
    this.kept.set(raw as unknown as AnyRecord, kind);
  }

  /** Undoes every tracked change except the kept ones, newest first. */
  rollback(): void {
    for (let i = this.undoLog.length - 1; i >= 0; i--) this.undoLog[i]!();
    this.undoLog.length = 0;
    this.touched.clear();
    this.removedRecords.clear();
    this.metaChanged.clear();
  }

  /** The rows to write for what the call changed. */
  changes(): FleetChanges {
    const deletes = [...this.removedRecords.values()].map((r) => r.key);
    const upserts: Array<{ key: RowKey; record: AnyRecord }> = [];
    for (const [record, kind] of [...this.touched, ...this.kept]) {
      if (!this.removedRecords.has(record)) upserts.push({ key: this.live.rowKey(kind, record), record });
    }
    return { upserts, deletes, meta: new Set(this.metaChanged) };
  }

  // ── Proxies ──

  private unwrap(value: unknown): unknown {
    if (typeof value !== 'object' || value === null) return value;
    const raw = this.raws.get(value);
    if (raw !== undefined) return raw;
    // A new object (e.g. a record being pushed) may hold proxies handed out earlier: store plain objects only.
    for (const key of Object.keys(value)) {
      const inner = (value as AnyRecord)[key];
      const plain = this.unwrap(inner);
      if (plain !== inner) (value as AnyRecord)[key] = plain;
    }
    return value;
  }

  private remember<T extends object>(raw: object, proxy: T): T {
    this.proxies.set(raw, proxy);
    this.raws.set(proxy, raw);
    return proxy;
  }

  private noteWrite(target: AnyRecord, property: PropertyKey): void {
    const had = Object.prototype.hasOwnProperty.call(target, property);
    const before = target[property as string];
    this.undoLog.push(() => {
      if (had) target[property as string] = before;
      else delete target[property as string];
    });
  }

  /** A record (or an object inside one, e.g. its tags): writes mark the record `top` as changed. */
  private wrapObject(kind: RecordKind, raw: AnyRecord, top: AnyRecord): object {
    const cached = this.proxies.get(raw);
    if (cached !== undefined) return cached;
    return this.remember(
      raw,
      new Proxy(raw, {
        get: (target, property) => {
          const value = Reflect.get(target, property) as unknown;
          return typeof value === 'object' && value !== null ? this.wrapObject(kind, value as AnyRecord, top) : value;
        },
        set: (target, property, value) => {
          this.noteWrite(target, property);
          this.touched.set(top, kind);
          return Reflect.set(target, property, this.unwrap(value));
        },
        deleteProperty: (target, property) => {
          this.noteWrite(target, property);
          this.touched.set(top, kind);
          return Reflect.deleteProperty(target, property);
        },
      }),
    );
  }

  private wrapList(kind: RecordKind, raw: AnyRecord[]): AnyRecord[] {
    const cached = this.proxies.get(raw);
    if (cached !== undefined) return cached as AnyRecord[];
    const wrap = (record: AnyRecord | undefined) => (record === undefined ? undefined : this.wrapObject(kind, record, record));
    const methods: Record<PropertyKey, unknown> = {
      push: (...items: unknown[]) => this.splice(kind, raw, raw.length, 0, items) && raw.length,
      splice: (start: number, deleteCount?: number, ...items: unknown[]) => this.splice(kind, raw, start, deleteCount ?? raw.length - start, items),
      find: (predicate: (record: AnyRecord, index: number) => unknown) => wrap(raw.find(predicate)),
      filter: (predicate: (record: AnyRecord, index: number) => unknown) => raw.filter(predicate).map((r) => wrap(r)),
      slice: (start?: number, end?: number) => raw.slice(start, end).map((r) => wrap(r)),
      at: (index: number) => wrap(raw.at(index)),
      indexOf: (record: unknown, from?: number) => raw.indexOf(this.unwrap(record) as AnyRecord, from),
      includes: (record: unknown, from?: number) => raw.includes(this.unwrap(record) as AnyRecord, from),
      [Symbol.iterator]: () => raw.map((r) => wrap(r))[Symbol.iterator](),
      values: () => raw.map((r) => wrap(r))[Symbol.iterator](),
    };
    return this.remember(
      raw,
      new Proxy(raw, {
        get: (target, property) => {
          if (typeof property === 'string' && /^\d+$/.test(property)) return wrap(target[Number(property)]);
          if (Object.prototype.hasOwnProperty.call(methods, property)) return methods[property as string];
          if (READ_ONLY_ARRAY_METHODS.has(property)) {
            const value = Reflect.get(target, property) as unknown;
            return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
          }
          const value = Reflect.get(target, property) as unknown;
          if (typeof value === 'function') {
            return () => {
              throw new Error(`SimulatedFleet: ${String(property)}() on the ${kind} list is not tracked; use push or splice`);
            };
          }
          return value;
        },
        set: (_target, property) => {
          throw new Error(`SimulatedFleet: writing ${kind}[${String(property)}] is not tracked; use push or splice`);
        },
        deleteProperty: (_target, property) => {
          throw new Error(`SimulatedFleet: deleting ${kind}[${String(property)}] is not tracked; use splice`);
        },
      }),
    );
  }

  private splice(kind: RecordKind, list: AnyRecord[], start: number, deleteCount: number, items: readonly unknown[]): AnyRecord[] {
    const inserted = items.map((item) => this.unwrap(item) as AnyRecord);
    const at = start < 0 ? Math.max(0, list.length + start) : Math.min(start, list.length);
    const removed = list.splice(at, deleteCount, ...inserted);
    for (const record of removed) {
      this.live.removed(kind, record);
      this.removedRecords.set(record, { kind, key: this.live.rowKey(kind, record) });
    }
    for (const record of inserted) {
      this.live.added(kind, record);
      this.touched.set(record, kind);
      this.removedRecords.delete(record);
    }
    this.undoLog.push(() => {
      list.splice(at, inserted.length, ...removed);
      for (const record of inserted) this.live.removed(kind, record);
      for (const record of removed) this.live.added(kind, record);
    });
    return removed;
  }

  private viewOfState(): FleetState {
    const state = this.live.state;
    const simulator = new Proxy(state.simulator, {
      get: (target, property) => {
        const value = Reflect.get(target, property) as unknown;
        if ((SIMULATOR_KINDS as readonly PropertyKey[]).includes(property)) return this.wrapList(property as RecordKind, value as AnyRecord[]);
        if (property === 'counters') {
          return new Proxy(target.counters, {
            set: (counters, name, next) => {
              this.noteWrite(counters as unknown as AnyRecord, name);
              this.metaChanged.add('counters');
              return Reflect.set(counters, name, next);
            },
          });
        }
        return value;
      },
      set: (_target, property) => {
        throw new Error(`SimulatedFleet: writing simulator.${String(property)} is not tracked`);
      },
    });
    return new Proxy(state, {
      get: (target, property) => {
        if (property === 'simulator') return simulator;
        const value = Reflect.get(target, property) as unknown;
        if ((FLEET_KINDS as readonly PropertyKey[]).includes(property)) return this.wrapList(property as RecordKind, value as AnyRecord[]);
        return value;
      },
      set: (target, property, value) => {
        if ((FLEET_KINDS as readonly PropertyKey[]).includes(property) || property === 'simulator') {
          throw new Error(`SimulatedFleet: replacing ${String(property)} is not tracked`);
        }
        this.noteWrite(target as unknown as AnyRecord, property);
        this.metaChanged.add(String(property));
        return Reflect.set(target, property, value);
      },
    });
  }
}
