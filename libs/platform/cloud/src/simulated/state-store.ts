import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { TurnBatcher, sqliteFileOf } from '@optex/ports';
import { validateFleetState, type FleetState } from './fleet-schema';
import { FLEET_KINDS, FleetTransaction, LiveFleet, SIMULATOR_KINDS, type FleetChanges, type IndexedKind, type RecordKind } from './fleet-transaction';
import { compactJsonParser } from './compact-json';

/**
 * Where the simulated fleet's state persists beside an event store, so successive CLI commands
 * against the same store see the effects of earlier ones: `sqlite:.optex/events.db` →
 * `.optex/events.db.fleet.db` (a SQLite file of its own: the event store's file belongs to the event store).
 * `undefined` for stores without a file (`memory:`, `esdb://…`): the fleet then lives in memory.
 */
export function stateFileFor(storeUrl: string): string | undefined {
  const path = sqliteFileOf(storeUrl);
  return path === undefined ? undefined : `${path}.fleet.db`;
}

/** One EC2 call the simulated fleet answered, as its call log keeps it. */
export interface FleetCall {
  /** Position in the log, from 1. */
  readonly seq: number;
  /** When the fleet answered (its clock), ISO 8601. */
  readonly at: string;
  /** The `Ec2Gateway` method, e.g. `deleteVolume`. */
  readonly operation: string;
  /** The resource the call named (for creating calls: the source volume or snapshot, the asked IP, the offering; `*` for none). */
  readonly resourceId: string;
  readonly accountId: string;
  readonly region: string;
  readonly dryRun: boolean;
  /** `ok`, or the AWS error code it failed with (`DryRunOperation` for a dry run that would have succeeded). */
  readonly result: string;
  readonly clientToken?: string;
}

/** A call about to be answered, before its result is known. */
export interface CallInfo {
  readonly operation: string;
  readonly target: { readonly accountId: string; readonly region: string; readonly id: string };
  readonly dryRun: boolean;
  readonly clientToken?: string;
  /** Whether the call may change the fleet (it then works on a {@link FleetTransaction} view). */
  readonly mutating: boolean;
  readonly at: Date;
}

/** What a call's work sees: the state (a tracked view for a mutating call, the live state otherwise). */
export interface CallScope {
  readonly state: FleetState;
  /** Present for mutating calls and for reads (to keep a consumed fault). */
  readonly transaction: FleetTransaction;
}

function resultOf(error: unknown): string {
  const code = (error as { awsCode?: unknown } | null)?.awsCode;
  if (typeof code === 'string' && code !== '') return code;
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name !== '' ? name : 'Error';
}

/** A call waiting for its store to answer it (see {@link StateStore.call}). */
interface PendingCall {
  readonly info: CallInfo;
  readonly work: (scope: CallScope) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** The outcome of one call's work, before its commit. */
type CallOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * Holds the fleet state and its call log. Every call runs through {@link call}: its changes are
 * tracked, written (rows of what changed only) together with the call's log entry, or undone when
 * the call fails.
 */
export abstract class StateStore {
  protected live!: LiveFleet;
  private active: FleetTransaction | undefined;

  /** The live state, refreshed first when another process changed the store. Do not change it. */
  current(): FleetState {
    this.refresh();
    return this.live.state;
  }

  /** The record of `kind` with that id in that account and region: through the running call's view, if any. O(1). */
  lookup<T>(kind: IndexedKind, ref: { readonly accountId: string; readonly region: string; readonly id: string }): T | undefined {
    const record = this.live.lookup(kind, ref.accountId, ref.region, ref.id);
    return (this.active && record ? this.active.wrap(kind, record) : record) as T | undefined;
  }

  /**
   * Answers one call: `work` runs on the live state (a tracked view when mutating). When it returns, its
   * changes and the call's log entry (`ok`) are recorded; when it throws, its changes are undone except what
   * it {@link FleetTransaction.keep kept} (a consumed fault), the failure is logged with its code, and the
   * promise rejects with the error. The promise settles only once the call's rows are written (for a file: committed).
   * When and with which other calls the work runs is the subclass's ({@link answer}): calls are answered in the
   * order they were made.
   */
  call<T>(info: CallInfo, work: (scope: CallScope) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => this.answer({ info, work, resolve: resolve as (value: unknown) => void, reject }));
  }

  /** Runs the waiting calls, in order, in one {@link atomically} (one transaction for a file), then settles each. */
  protected runCalls(calls: readonly PendingCall[]): void {
    const outcomes: CallOutcome[] = [];
    try {
      this.atomically(() => {
        this.refreshNow();
        for (const pending of calls) outcomes.push(this.runOne(pending));
      });
    } catch (error) {
      // Nothing of the group was written: every call of it fails (the subclass reloads the state before its next use).
      for (const pending of calls) pending.reject(error);
      return;
    }
    calls.forEach((pending, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }

  private runOne({ info, work }: PendingCall): CallOutcome {
    const transaction = new FleetTransaction(this.live);
    this.active = info.mutating ? transaction : undefined;
    let outcome: CallOutcome;
    let result = 'ok';
    try {
      outcome = { ok: true, value: work({ state: info.mutating ? transaction.state : this.live.state, transaction }) };
    } catch (error) {
      transaction.rollback();
      outcome = { ok: false, error };
      result = resultOf(error);
    } finally {
      this.active = undefined;
    }
    this.write(transaction.changes(), {
      at: info.at.toISOString(),
      operation: info.operation,
      resourceId: info.target.id,
      accountId: info.target.accountId,
      region: info.target.region,
      dryRun: info.dryRun,
      result,
      ...(info.clientToken !== undefined ? { clientToken: info.clientToken } : {}),
    });
    return outcome;
  }

  /** Every call answered so far, oldest first. */
  abstract calls(): FleetCall[];
  /** Releases the file, if any. */
  abstract close(): void;

  /** Runs `pending` through {@link runCalls}, now or together with other calls. */
  protected abstract answer(pending: PendingCall): void;
  protected abstract atomically(body: () => void): void;
  /** Reloads the state when another process changed it (the cheap check is the subclass's). */
  protected abstract refresh(): void;
  /** Like {@link refresh}, inside {@link atomically}. */
  protected refreshNow(): void {
    this.refresh();
  }
  protected abstract write(changes: FleetChanges, call: Omit<FleetCall, 'seq'>): void;
}

/** The fleet in memory only (no store file): the call log too. */
export class MemoryStateStore extends StateStore {
  private readonly log: FleetCall[] = [];
  constructor(state: FleetState) {
    super();
    this.live = new LiveFleet(state);
  }
  calls(): FleetCall[] {
    return this.log.map((c) => ({ ...c }));
  }
  close(): void {}
  protected answer(pending: PendingCall): void {
    this.runCalls([pending]);
  }
  protected atomically(body: () => void): void {
    body();
  }
  protected refresh(): void {}
  protected write(_changes: FleetChanges, call: Omit<FleetCall, 'seq'>): void {
    this.log.push({ seq: this.log.length + 1, ...call });
  }
}

const SCHEMA_VERSION = 1;
/** Most calls one transaction of {@link SqliteStateStore} answers. */
const MAX_GROUP = 1000;

/**
 * The fleet in a SQLite file of its own (better-sqlite3): one row per record in `fleet_resources`,
 * keyed by kind + account + region + id (faults by their position in the fleet file) and holding the
 * record as JSON; the simulator's counters and flags in `fleet_meta`; every answered call in `calls`.
 *
 * A call writes only the rows it changed plus its `calls` row, so its cost does not grow with the fleet.
 * Group commit, as in the event store: the calls made in one turn of the event loop are answered together, in
 * call order, in one `BEGIN IMMEDIATE` transaction (at most 1,000), on the next turn; each call's work sees the
 * changes of the calls before it, and a call whose work fails fails alone (its changes undone, its log entry
 * written). A commit that fails rejects every call of its group and the state is reloaded from the file.
 * WAL with `synchronous=NORMAL`, like the event store: a commit is in the WAL (the OS's page cache) before
 * any call of it resolves, so a SIGKILL of the process loses nothing that was answered; only a power loss or OS
 * crash can lose the last commits, and the event store beside it makes the same trade. Other processes'
 * commits are seen through `PRAGMA data_version`, checked at the start of every transaction (the state is
 * then reloaded) and by {@link current}.
 */
export class SqliteStateStore extends StateStore {
  private dataVersion = -1;
  private stale = false;
  private nextOrd = 0;
  private readonly statements;
  /** `BEGIN IMMEDIATE`, the body, `COMMIT`: made once (better-sqlite3 builds a transaction function in ~14 µs). */
  private readonly transaction: Database.Transaction<(body: () => void) => void>;
  /** Calls made since the last group was answered (see the class comment). */
  private readonly pending = new TurnBatcher<PendingCall>(MAX_GROUP, (group) => this.runCalls(group));

  private constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {
    super();
    this.transaction = db.transaction((body: () => void) => body());
    this.statements = {
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      rows: db.prepare('SELECT kind, id, body FROM fleet_resources ORDER BY ord'),
      maxOrd: db.prepare('SELECT COALESCE(MAX(ord), -1) FROM fleet_resources').pluck(),
      meta: db.prepare('SELECT key, value FROM fleet_meta'),
      upsert: db.prepare(
        'INSERT INTO fleet_resources (kind, account, region, id, ord, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, account, region, id) DO UPDATE SET body = excluded.body',
      ),
      delete: db.prepare('DELETE FROM fleet_resources WHERE kind = ? AND account = ? AND region = ? AND id = ?'),
      setMeta: db.prepare('INSERT INTO fleet_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      deleteMeta: db.prepare('DELETE FROM fleet_meta WHERE key = ?'),
      insertCall: db.prepare(
        'INSERT INTO calls (at, operation, resource_id, account, region, dry_run, result, client_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      calls: db.prepare('SELECT seq, at, operation, resource_id, account, region, dry_run, result, client_token FROM calls ORDER BY seq'),
    };
  }

  /** Whether `path` holds a seeded fleet state. */
  static isSeeded(path: string): boolean {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { fileMustExist: true, readonly: true });
      const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fleet_meta'").get();
      return table !== undefined && db.prepare("SELECT 1 FROM fleet_meta WHERE key = 'simulator'").get() !== undefined;
    } catch {
      return false;
    } finally {
      db?.close();
    }
  }

  /**
   * Opens (creating its directory and file when needed) the store at `path`. A store without state is
   * seeded with `seed()` in one transaction; one with state is loaded and validated (errors name `path`).
   */
  static open(path: string, seed: () => FleetState): SqliteStateStore {
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { timeout: 5000 });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(`
        CREATE TABLE IF NOT EXISTS fleet_resources (
          kind TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL, id TEXT NOT NULL,
          ord INTEGER NOT NULL, body TEXT NOT NULL,
          PRIMARY KEY (kind, account, region, id)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS fleet_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS calls (
          seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, operation TEXT NOT NULL, resource_id TEXT NOT NULL,
          account TEXT NOT NULL, region TEXT NOT NULL, dry_run INTEGER NOT NULL, result TEXT NOT NULL, client_token TEXT
        );
      `);
      const version = Number(db.pragma('user_version', { simple: true }));
      if (version > SCHEMA_VERSION) throw new Error(`${path}: fleet state schema version ${version} is newer than this optex understands (${SCHEMA_VERSION})`);
      if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
      const store = new SqliteStateStore(db, path);
      db.transaction(() => {
        if (db.prepare("SELECT 1 FROM fleet_meta WHERE key = 'simulator'").get() === undefined) store.seed(seed());
        store.load(true);
      }).immediate();
      return store;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  calls(): FleetCall[] {
    type Row = { seq: number; at: string; operation: string; resource_id: string; account: string; region: string; dry_run: number; result: string; client_token: string | null };
    return (this.statements.calls.all() as Row[]).map((r) => ({
      seq: r.seq,
      at: r.at,
      operation: r.operation,
      resourceId: r.resource_id,
      accountId: r.account,
      region: r.region,
      dryRun: r.dry_run === 1,
      result: r.result,
      ...(r.client_token !== null ? { clientToken: r.client_token } : {}),
    }));
  }

  /** Answers the calls already made (see the class comment), then closes the file. */
  close(): void {
    if (!this.db.open) return;
    this.pending.drain();
    this.db.close();
  }

  protected answer(pending: PendingCall): void {
    if (this.db.open) this.pending.add(pending);
    else pending.reject(new Error(`the simulated fleet's state store ${this.path} is closed`));
  }

  protected atomically(body: () => void): void {
    try {
      this.transaction.immediate(body);
    } catch (error) {
      // The memory may now hold changes the file does not: reload before the next call.
      this.stale = true;
      throw error;
    }
  }

  protected refresh(): void {
    const version = Number(this.statements.dataVersion.get());
    if (this.stale || version !== this.dataVersion) this.load(false);
  }

  protected write(changes: FleetChanges, call: Omit<FleetCall, 'seq'>): void {
    const s = this.statements;
    for (const key of changes.deletes) s.delete.run(key.kind, key.account, key.region, key.id);
    for (const { key, record } of changes.upserts) s.upsert.run(key.kind, key.account, key.region, key.id, this.nextOrd++, JSON.stringify(record));
    for (const name of changes.meta) this.writeMeta(name);
    s.insertCall.run(call.at, call.operation, call.resourceId, call.accountId, call.region, call.dryRun ? 1 : 0, call.result, call.clientToken ?? null);
  }

  private writeMeta(name: string): void {
    const state = this.live.state;
    if (name === 'counters' || name === 'simulator') {
      const { version, fleetSha256, counters } = state.simulator;
      this.statements.setMeta.run('simulator', JSON.stringify({ version, ...(fleetSha256 !== undefined ? { fleetSha256 } : {}), counters }));
      return;
    }
    const value = (state as unknown as Record<string, unknown>)[name];
    if (value === undefined) this.statements.deleteMeta.run(`fleet.${name}`);
    else this.statements.setMeta.run(`fleet.${name}`, JSON.stringify(value));
  }

  private seed(state: FleetState): void {
    let ord = 0;
    const live = new LiveFleet(state);
    for (const kind of [...FLEET_KINDS, ...SIMULATOR_KINDS] as RecordKind[]) {
      for (const record of live.list(kind)) {
        const key = live.rowKey(kind, record);
        this.statements.upsert.run(key.kind, key.account, key.region, key.id, ord++, JSON.stringify(record));
      }
    }
    this.live = live;
    this.writeMeta('simulator');
    for (const name of Object.keys(state)) {
      if (name !== 'simulator' && !(FLEET_KINDS as readonly string[]).includes(name)) this.writeMeta(name);
    }
  }

  /** Rebuilds the state from the rows (validated when `validate`, e.g. on open). */
  private load(validate: boolean): void {
    const meta = new Map((this.statements.meta.all() as Array<{ key: string; value: string }>).map((r) => [r.key, JSON.parse(r.value) as unknown]));
    const simulator = meta.get('simulator') as Record<string, unknown>;
    const state: Record<string, unknown> = { simulator: { ...simulator, reservedInstances: [], listings: [], releasedAddresses: [] } };
    for (const kind of FLEET_KINDS) state[kind] = [];
    for (const [key, value] of meta) if (key.startsWith('fleet.')) state[key.slice('fleet.'.length)] = value;
    const faultIds: string[] = [];
    const parse = compactJsonParser();
    for (const row of this.statements.rows.all() as Array<{ kind: RecordKind; id: string; body: string }>) {
      const record = parse(row.body);
      if ((SIMULATOR_KINDS as readonly string[]).includes(row.kind)) ((state['simulator'] as Record<string, unknown[]>)[row.kind] ??= []).push(record);
      else ((state[row.kind] as unknown[] | undefined) ?? (state[row.kind] = [])).push(record);
      if (row.kind === 'faults') faultIds.push(row.id);
    }
    const parsed = validate ? validateFleetState(state, this.path) : (state as unknown as FleetState);
    this.live = new LiveFleet(parsed, faultIds);
    this.nextOrd = Number(this.statements.maxOrd.get()) + 1;
    this.dataVersion = Number(this.statements.dataVersion.get());
    this.stale = false;
  }
}
