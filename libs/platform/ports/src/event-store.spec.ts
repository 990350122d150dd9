import { sqliteFileOf } from './event-store';

// createEventStore opens `SQLite:x.db` (its scheme is case-insensitive), so everything kept beside that store — the
// writer lock, the simulated fleet's state, read-model checkpoints — must find the same file, or a second writer
// would go unlocked and the fleet's state would live in memory only.
describe('sqliteFileOf', () => {
  it('names the file of a sqlite: url, whatever the case of its scheme, and the path as given', () => {
    expect(sqliteFileOf('sqlite:.optex/events.db')).toBe('.optex/events.db');
    expect(sqliteFileOf('SQLite:/var/lib/optex/x.db')).toBe('/var/lib/optex/x.db');
    expect(sqliteFileOf('sqlite:dir with space/x.db')).toBe('dir with space/x.db');
  });

  it('names no file for stores that are not a file here, or a url without a path', () => {
    for (const url of ['sqlite::memory:', 'memory:', 'esdb://localhost:2113?tls=false', 'esdb+discover://a,b', 'sqlite:', 'events.db']) {
      expect(sqliteFileOf(url)).toBeUndefined();
    }
  });
});
