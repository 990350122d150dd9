import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashChainedEventStore, SqliteEventStore } from '@optex/event-store';
import { startEsdbEmulator } from '@optex/testing';
import { main } from './program';

// show, history and list as the CLI runs them (`main`), on SQLite logs written here through the hash chain.

const dir = mkdtempSync(join(tmpdir(), 'optex-commands-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ID = '8a0c6c2e-6c1f-5f39-9d0e-3a1f4a2b9c11';
const AT = '2026-12-02T10:00:00.000Z';
const recommendation = { recommendationId: 'rec-1', source: 'spec', accountId: '123456789012', region: 'eu-west-1', resource: { type: 'ec2:volume', id: 'vol-1' }, action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 2, currency: 'USD' };
const AWAITING: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ['OptimizationReceived', { recommendation, dryRun: false, deliveryId: 'd' }],
  ['RiskAssessed', { baseLevel: 'MEDIUM', level: 'MEDIUM', factors: [], policyVersion: 'default-v1' }],
  ['ApprovalRequested', { authority: 'finops-manager', requiredApprovals: 1, expiresAt: '2026-12-09T10:00:00.000Z' }],
];

let n = 0;
async function seed(events: ReadonlyArray<readonly [string, Record<string, unknown>]>): Promise<string> {
  const file = join(dir, `log-${++n}.db`);
  const store = new HashChainedEventStore(SqliteEventStore.open(file));
  try {
    for (const [type, data] of events) {
      await store.appendToStream(`optimization-${ID}`, [{ id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, type, data: { optimizationId: ID, at: AT, ...data }, metadata: { schemaVersion: 1, recordedBy: 'spec' } }], 'any');
    }
  } finally {
    await store.close();
  }
  return `sqlite:${file}`;
}

async function optex(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('show and history: field values cannot forge lines', () => {
  it('a deny reason with a line break prints on its own line, the break escaped', async () => {
    const store = await seed([...AWAITING, ['ApprovalDenied', { by: 'bob', reason: 'ok\n  approvals so far: alice (finops-manager)' }]]);
    const show = await optex(['show', ID, '--store', store]);
    expect(show.code).toBe(0);
    const lines = show.stdout.split('\n');
    expect(lines.filter((l) => /^\s*approvals so far:/.test(l))).toEqual(['  approvals so far: none']);
    expect(lines).toContain('  denied by bob: ok\\n  approvals so far: alice (finops-manager)');

    const history = await optex(['history', ID, '--store', store, '--wide']);
    expect(history.code).toBe(0);
    expect(history.stdout.split('\n').filter((l) => /^\s*approvals so far:/.test(l))).toEqual([]);
    expect(history.stdout).toMatch(/ApprovalDenied\s+spec\s+by bob: ok\\n {2}approvals so far: alice \(finops-manager\)$/m);
  });
});

describe('a store file optex cannot use: exit 1 (refused), not 3 (infrastructure unreachable, which scripts retry)', () => {
  it('not a database, written by a newer optex, or another program\'s database: every command that opens it says so and exits 1; the file is left as it was', async () => {
    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, Buffer.alloc(8192, 0x5a));
    const newer = join(dir, 'newer.db');
    const raw = new Database(newer);
    raw.pragma('user_version = 9');
    raw.close();
    const foreign = join(dir, 'someone-elses.db');
    const other = new Database(foreign);
    other.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY)');
    other.close();
    for (const [path, reason] of [
      [garbage, /file is not a database/],
      [newer, /schema version 9 is newer than the 2 this optex knows/],
      [foreign, /it is not an optex event log: it holds another program's tables \(invoices\)/],
    ] as const) {
      const before = readFileSync(path);
      for (const args of [['list'], ['show', ID], ['metrics'], ['approve', ID, '--by', 'alice']]) {
        const result = await optex([...args, '--store', `sqlite:${path}`]);
        expect({ args, code: result.code }).toEqual({ args, code: 1 });
        expect(result.stderr).toMatch(reason);
      }
      expect(readFileSync(path).equals(before)).toBe(true);
    }
  });
});

describe('a store that refuses access: exit 1 (refused), not 3 (infrastructure unreachable, which scripts retry)', () => {
  it('EventStoreDB answering access denied: every command says so, naming the connection string to check, and exits 1; a node gone away is still exit 3', async () => {
    const emulator = await startEsdbEmulator();
    try {
      emulator.denyAccess(true);
      for (const args of [['list'], ['show', ID], ['approve', ID, '--by', 'alice']]) {
        const result = await optex([...args, '--store', emulator.url]);
        expect({ args, code: result.code }).toEqual({ args, code: 1 });
        expect(result.stderr).toMatch(/refused \(access denied\): .*Access Denied \(check the user and password of the connection string and the streams' ACLs\)/);
      }
    } finally {
      await emulator.stop();
    }
    const gone = await optex(['list', '--store', emulator.url]);
    expect(gone.code).toBe(3);
  });
});

describe('list: an approval request past its expiry reads expired before a resume records it', () => {
  it('approval expired (status still awaiting-approval) once past expiresAt; pending before it', async () => {
    const withExpiry = (expiresAt: string) => AWAITING.map(([type, data]) => [type, type === 'ApprovalRequested' ? { ...data, expiresAt } : data] as const);
    const lapsed = await seed(withExpiry('2020-01-01T00:00:00.000Z'));
    const list = JSON.parse((await optex(['list', '--store', lapsed, '--json'])).stdout) as { optimizations: { status: string; approval: unknown }[] };
    expect(list.optimizations).toEqual([expect.objectContaining({ status: 'awaiting-approval', approval: 'expired' })]);
    expect((await optex(['list', '--store', lapsed])).stdout).not.toContain('pending');
    const open = await seed(withExpiry('2999-01-01T00:00:00.000Z'));
    const openList = JSON.parse((await optex(['list', '--store', open, '--json'])).stdout) as { optimizations: { approval: unknown }[] };
    expect(openList.optimizations).toEqual([expect.objectContaining({ approval: 'pending' })]);
  });
});

describe('approve --requested-at: only the request the approver looked at', () => {
  it('show prints when the request was asked; approving with another time is refused (exit 1, nothing appended), a bad time exit 2, the time shown approves', async () => {
    const store = await seed(AWAITING.map(([type, data]) => [type, type === 'ApprovalRequested' ? { ...data, expiresAt: '2999-01-01T00:00:00.000Z' } : data] as const));
    expect((await optex(['show', ID, '--store', store])).stdout).toContain(`\n  asked: ${AT}\n`);
    const changed = await optex(['approve', ID, '--by', 'alice', '--requested-at', '2026-12-02T09:00:00Z', '--store', store]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain(`optex approve: Approve: the approval request of ${ID} you looked at (asked 2026-12-02T09:00:00.000Z) has been asked again since (at ${AT}: its plan changed)`);
    expect((await optex(['approve', ID, '--by', 'alice', '--requested-at', 'yesterday', '--store', store])).code).toBe(2);
    expect(JSON.parse((await optex(['history', ID, '--store', store, '--json'])).stdout).events).toHaveLength(3);
    const approved = await optex(['approve', ID, '--by', 'alice', '--requested-at', '2026-12-02T11:00:00+01:00', '--store', store, '--json']);
    expect(approved.code).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ status: 'approved', approvers: ['alice'] });
  });
});

describe('a cancelled optimization: not pending approval; who cancelled it and why', () => {
  let store: string;
  beforeAll(async () => {
    store = await seed([...AWAITING, ['OptimizationCancelled', { by: 'carol', reason: 'change freeze' }]]);
  });

  it('show: cancelled by whom and why; approval none, no expiry', async () => {
    const show = await optex(['show', ID, '--store', store]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('  status          cancelled\n  cancelled by    carol: change freeze\n');
    expect(show.stdout).toContain('Approval: none (cancelled before a decision)\n  authority asked for: finops-manager');
    expect(show.stdout).not.toMatch(/pending|expires/);
    const json = JSON.parse((await optex(['show', ID, '--store', store, '--json'])).stdout) as { approval: { state: unknown }; cancellation: unknown };
    expect(json.approval.state).toBeNull();
    expect(json.cancellation).toEqual({ by: 'carol', reason: 'change freeze' });
  });

  it('history: the cancellation with who and why', async () => {
    const history = await optex(['history', ID, '--store', store, '--wide']);
    expect(history.stdout).toMatch(/OptimizationCancelled\s+spec\s+by carol: change freeze$/m);
  });

  it('list and state: approval null, not pending', async () => {
    const list = JSON.parse((await optex(['list', '--store', store, '--json'])).stdout) as { optimizations: { status: string; approval: unknown }[] };
    expect(list.optimizations).toEqual([expect.objectContaining({ status: 'cancelled', approval: null })]);
    expect((await optex(['list', '--store', store, '--wide'])).stdout).not.toContain('pending');
    const state = JSON.parse((await optex(['state', ID, '--store', store, '--json'])).stdout) as { view: { approval: unknown } };
    expect(state.view.approval).toBeNull();
  });
});
