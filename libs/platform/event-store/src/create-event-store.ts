import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InfrastructureError, type EventStore } from '@optex/ports';
import { SqliteEventStore, type SqliteEventStoreOptions } from './sqlite/sqlite-event-store';
import { EsdbEventStore } from './esdb/esdb-event-store';
import { HashChainedEventStore } from './chain/hash-chain';

/** Options passed to whichever adapter the url selects (each takes what concerns it). */
export type CreateEventStoreOptions = SqliteEventStoreOptions;

/** Opens the store a url names; `url` is the whole url, scheme included. */
type EventStoreOpener = (url: string, options: CreateEventStoreOptions) => Promise<EventStore>;

/** One line per scheme (the part before the first `:`). */
const OPENERS: Readonly<Record<string, EventStoreOpener>> = {
  sqlite: async (url, options) => openSqliteFile(url.slice('sqlite:'.length), url, options),
  memory: async (_url, options) => SqliteEventStore.open(':memory:', options),
  esdb: async (url) => EsdbEventStore.connect(url),
  'esdb+discover': async (url) => EsdbEventStore.connect(url),
};

/**
 * Opens the event store a url names:
 * - `sqlite:PATH` — the SQLite log at PATH (relative to the working directory), creating the
 *   file and its parent directories if missing;
 * - `memory:` — a private in-memory SQLite log, gone on close;
 * - `esdb://HOST:PORT?tls=false`, `esdb+discover://…` (EventStoreDB connection strings) — an
 *   EventStoreDB node or cluster.
 *
 * Whichever it is, every event appended through the store returned carries a hash chained to the previous event of
 * its stream ({@link HashChainedEventStore}; `verifyLog` checks the chains).
 *
 * @throws TypeError naming the url when its scheme is unknown or PATH is empty;
 *         InfrastructureError when the store cannot be opened.
 */
export async function createEventStore(url: string, options: CreateEventStoreOptions = {}): Promise<EventStore> {
  if (typeof url !== 'string') throw new TypeError(`event store url must be a string, got ${typeof url}`);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const open = scheme === undefined ? undefined : OPENERS[scheme];
  if (!open) {
    throw new TypeError(`unsupported event store url ${JSON.stringify(url)}: expected one of ${Object.keys(OPENERS).map((s) => `${s}:`).join(', ')}`);
  }
  return new HashChainedEventStore(await open(url, options));
}

function openSqliteFile(path: string, url: string, options: CreateEventStoreOptions): EventStore {
  if (path.length === 0) throw new TypeError(`event store url ${JSON.stringify(url)} names no file: use sqlite:PATH`);
  if (path === ':memory:') return SqliteEventStore.open(path, options);
  const file = resolve(path);
  try {
    mkdirSync(dirname(file), { recursive: true });
  } catch (error) {
    throw new InfrastructureError(`cannot create the directory of ${file} for event store url ${url}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return SqliteEventStore.open(file, options);
}
