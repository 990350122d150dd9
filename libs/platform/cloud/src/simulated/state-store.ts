import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseFleetState, type FleetState } from './fleet-schema';

/**
 * Where the simulated fleet's state persists beside an event store, so successive CLI commands
 * against the same store see the effects of earlier ones: `sqlite:.optex/events.db` →
 * `.optex/events.db.fleet.json`. `undefined` for stores without a file (`memory:`, `esdb://…`):
 * the fleet then lives in memory.
 */
export function stateFileFor(storeUrl: string): string | undefined {
  const match = /^sqlite:(.+)$/.exec(storeUrl.trim());
  if (!match) return undefined;
  const path = match[1]!;
  if (path === ':memory:') return undefined;
  return `${path}.fleet.json`;
}

/** Holds the fleet state: in memory, or in a JSON file rewritten atomically after every change. */
export interface StateStore {
  /** The current state; reloads the file when another process rewrote it. */
  current(): FleetState;
  /** Records `state` as current (and durably, for a file) before returning. */
  commit(state: FleetState): void;
}

export class MemoryStateStore implements StateStore {
  constructor(private state: FleetState) {}
  current(): FleetState {
    return this.state;
  }
  commit(state: FleetState): void {
    this.state = state;
  }
}

let tempCounter = 0;

/** Writes `content` to `path` atomically: a temporary file beside it, then a rename over it. */
export function writeFileAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${++tempCounter}.tmp`;
  try {
    writeFileSync(temp, content, { flush: true });
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // the temporary file was never created
    }
    throw error;
  }
}

export class FileStateStore implements StateStore {
  private state: FleetState;
  private stamp: string;

  constructor(
    private readonly path: string,
    initial: FleetState,
  ) {
    this.state = initial;
    this.stamp = this.fileStamp();
  }

  /** Loads an existing state file. */
  static load(path: string): FileStateStore {
    const state = parseFleetState(readFileSync(path, 'utf8'), path);
    return new FileStateStore(path, state);
  }

  /** Creates the state file with `state`. */
  static create(path: string, state: FleetState): FileStateStore {
    writeFileAtomic(path, serialize(state));
    return new FileStateStore(path, state);
  }

  current(): FleetState {
    const stamp = this.fileStamp();
    if (stamp !== this.stamp && stamp !== 'missing') {
      this.state = parseFleetState(readFileSync(this.path, 'utf8'), this.path);
      this.stamp = stamp;
    }
    return this.state;
  }

  commit(state: FleetState): void {
    writeFileAtomic(this.path, serialize(state));
    this.state = state;
    this.stamp = this.fileStamp();
  }

  /** Changes whenever the file is replaced (every atomic write creates a new inode). */
  private fileStamp(): string {
    try {
      const stat = statSync(this.path, { bigint: true });
      return `${stat.ino}:${stat.mtimeNs}:${stat.size}`;
    } catch {
      return 'missing';
    }
  }
}

function serialize(state: FleetState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}
