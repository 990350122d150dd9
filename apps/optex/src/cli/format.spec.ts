import { summarize, type OptimizationDetail, type OptimizationView, type Summary } from '@optex/domain';
import { detailText, fleetText, optimizationsTable, rejectedTable, reportText, safe, safeLines, summaryText, table } from './format';
import type { RunReport } from '@optex/runtime';

// What a terminal would interpret: any C0/C1 control, DEL, or a bidirectional control.
const INTERPRETED = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const FORGED = 'i-1\n│ fake row │\u001b[2J\u001b]0;pwned\u0007\r\u009b31m\u202eevil\u007f';

const view: OptimizationView = {
  optimizationId: '0b6f3a1e-5c7d-4e8a-9f21-6d3c8b7a4e50',
  recommendationId: 'rec\u001b[31m-1',
  resourceId: FORGED,
  action: 'stop-idle',
  risk: 'MEDIUM',
  approval: 'pending',
  status: 'awaiting-approval',
  dryRun: false,
  estimatedMonthlySavings: 10,
  actualMonthlySavings: null,
  accuracyPct: null,
  reversible: 'yes',
  error: 'boom\nsecond line',
  executionMs: null,
  unpriced: null,
  rolledBack: false,
  conflicts: 0,
};

describe('terminal-safe text output', () => {
  it('shows control characters as escapes, never as themselves', () => {
    expect(safe(FORGED)).toBe('i-1\\n│ fake row │\\x1b[2J\\x1b]0;pwned\\x07\\r\\x9b31m\\u202eevil\\x7f');
    expect(safe('plain é 日本 😀')).toBe('plain é 日本 😀');
    expect(safe('lone \ud800')).toBe('lone \\ud800');
  });

  it('keeps the line breaks of multi-line text and escapes the rest', () => {
    expect(safeLines('one\u001b[0m\ntwo\r')).toBe('one\\x1b[0m\ntwo\\r');
  });

  it('the optimizations table (run, list, replay) prints a forged resource id on its own row, escaped', () => {
    const text = optimizationsTable([view], { wide: true });
    const lines = text.split('\n');
    expect(lines).toHaveLength(3); // header, rule, one row: the newline in the id made no extra row
    expect(text).not.toMatch(INTERPRETED);
    expect(lines[2]).toContain('i-1\\n│ fake row │\\x1b[2J');
    expect(lines[2]).toContain('rec\\x1b[31m-1');
    expect(lines[2]).toContain('boom\\nsecond line');
    // Fitted to 120 columns: the row, its note under it (escaped too), and the line that says so.
    const fitted = optimizationsTable([view]);
    expect(fitted).not.toMatch(INTERPRETED);
    expect(fitted.split('\n').slice(2)).toEqual([expect.stringContaining('i-1\\n│ fake row │\\x1b[2J'), '    note: boom\\nsecond line', expect.stringMatching(/^\(fitted to 120 columns/)]);
  });

  it('money in a row is rounded as the summary rounds it (half away from zero), so the rows add up to the total; a negative one reads −$', () => {
    const rows = [1.005, 2.675].map((estimatedMonthlySavings, i) => ({ ...view, optimizationId: `o-${i}`, resourceId: `vol-${i}`, recommendationId: `r-${i}`, error: null, estimatedMonthlySavings, actualMonthlySavings: -20 }));
    const table = optimizationsTable(rows, { wide: true });
    expect(table).toMatch(/\$1\.01 .*−\$20\.00/);
    expect(table).toMatch(/\$2\.68 .*−\$20\.00/);
    expect(summaryText(summarize(rows, { rejected: 0, duplicates: 0 }))).toContain('estimated $3.68');
  });

  it('the rejected table escapes ids and messages', () => {
    const text = rejectedTable([{ index: 0, recommendationId: 'r\n1', errors: ['x\u001b: bad'] }]);
    expect(text.split('\n')).toHaveLength(3);
    expect(text).toContain('r\\n1');
    expect(text).toContain('x\\x1b: bad');
  });

  it('aligns columns on the escaped text (what the terminal shows)', () => {
    const text = table(['A', 'B'], [['\u001b', 'x'], ['ab', 'y']]);
    expect(text.split('\n')).toEqual(['A     B', '────  ─', '\\x1b  x', 'ab    y']);
  });

  it('the summary and the fleet text escape what comes from the log or the fleet file', () => {
    const summary = { received: 1, rejected: 0, duplicates: 0, byStatus: { 'odd\nstatus': 1 }, totalExecutions: 0, successfulExecutions: 0, failedExecutions: 0, successRate: 0, averageExecutionMs: 0, estimatedMonthlySavings: 0, realizedMonthlySavings: 0 } as unknown as Summary;
    expect(summaryText(summary)).toContain('odd\\nstatus 1');
    const fleet = fleetText(
      { instances: [{ state: 'run\u001b[2Jning' }], volumes: [], addresses: [], snapshots: [], reservedInstanceOfferings: [], faults: [], reservedInstances: [], listings: [], calls: [{ operation: 'Stop\nInstances', dryRun: false, result: 'ok' }] },
      { fleetFile: 'fleet\u0007.json' },
    );
    expect(fleet).not.toMatch(INTERPRETED);
    expect(fleet).toContain('run\\x1b[2Jning');
    expect(fleet).toContain('Stop\\nInstances');
    expect(fleet).toContain('fleet\\x07.json');
  });
});

describe('tables fit 120 columns unless --wide', () => {
  const long = (n: number) => `x${'-abcdefghij'.repeat(n)}`;
  const rows = (n: number) =>
    Array.from({ length: n }, (_, i): OptimizationView => ({
      ...view,
      optimizationId: `${i}b6f3a1e-5c7d-4e8a-9f21-6d3c8b7a4e50`,
      recommendationId: `custodian-ebs-unattached-000${i}`,
      resourceId: '3e1f6a2b-7c4d-4e8f-9a0b-1c2d3e4f5a02',
      action: 'purchase-reserved-instances',
      status: 'reconciliation-needed',
      estimatedMonthlySavings: 2102.4,
      error: i === 0 ? `pre-validation failed: ${long(20)}` : null,
    }));

  it('leaves a table that fits as it is', () => {
    expect(table(['A', 'B'], [['1', '2']])).toBe('A  B\n─  ─\n1  2');
  });

  it('fits the optimizations table: the note under its row, optional columns left out, long ids cut with …, and says so', () => {
    const lines = optimizationsTable(rows(3)).split('\n');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(120);
    expect(lines[0]).toMatch(/^OPTIMIZATION +RESOURCE +ACTION +RISK +STATUS +EST\/MO +ACTUAL\/MO$/);
    expect(lines[2]).toMatch(/^0b6f3a1e +3e1f6a2b-7c4d-4e8f-[0-9a-f-]*…  purchase-reserved-instances +MEDIUM +reconciliation-needed +\$2102\.40 +—$/);
    expect(lines[3]).toMatch(/^ {4}note: pre-validation failed: x-abcdefghij.*…$/);
    expect(lines[3]).toHaveLength(120);
    expect(lines[4]).toMatch(/^1b6f3a1e /);
    expect(lines.at(-1)).toBe('(fitted to 120 columns: RECOMMENDATION, APPROVAL, ACC% left out; --wide prints every column whole)');
  });

  it('prints every column whole with --wide', () => {
    const lines = optimizationsTable(rows(3), { wide: true }).split('\n');
    expect(lines[0]).toMatch(/^OPTIMIZATION +RECOMMENDATION +RESOURCE +ACTION +RISK +APPROVAL +STATUS +EST\/MO +ACTUAL\/MO +ACC% +NOTE$/);
    expect(lines[2]).toContain(`3e1f6a2b-7c4d-4e8f-9a0b-1c2d3e4f5a02  purchase-reserved-instances`);
    expect(lines[2]).toContain(`pre-validation failed: ${long(20)}`);
    expect(lines).toHaveLength(5);
  });

  it('cuts the widest cuttable column first, never a right-aligned one, and never splits a surrogate pair', () => {
    const text = table(['ID', 'TEXT', 'N'], [['a', `😀${'y'.repeat(200)}`, '12345']], { rightAligned: new Set([2]), width: 40 });
    const lines = text.split('\n');
    expect(lines[2]).toMatch(/^a {3}😀y+…  12345$/);
    expect(Array.from(lines[2]!)).toHaveLength(40);
    expect(text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });
});

describe('summaryText', () => {
  it('says how many rollbacks were started and how they ended, and what needs an operator', () => {
    const text = summaryText({
      received: 4, rejected: 0, duplicates: 0, conflicts: 0,
      byStatus: { completed: 1, 'rolled-back': 1, 'rollback-failed': 1, 'reconciliation-needed': 1 },
      totalExecutions: 4, successfulExecutions: 1, failedExecutions: 2, successRate: 0.25, averageExecutionMs: 10,
      optimizations: 4, estimatedMonthlySavings: 4, averageEstimatedMonthlySavings: 1, realizedMonthlySavings: 1, realizedCount: 1, averageRealizedMonthlySavings: 1, unpriced: 0, rollbacks: 2, rollbacksResolved: 0, previewsLeftOut: 0,
    });
    expect(text).toMatch(/^Rollbacks: 2 started \(1 rolled back, 1 failed\); needs an operator: 2 \(see retry-rollback, resolve\)\.$/m);
  });

  it('accounts for every rollback started: one an operator resolved after it failed, one going on (they vanished: "1 started (0 rolled back, 0 failed)")', () => {
    const text = summaryText({
      received: 2, rejected: 0, duplicates: 0, conflicts: 0,
      byStatus: { resolved: 1, 'rolling-back': 1 },
      totalExecutions: 2, successfulExecutions: 0, failedExecutions: 1, successRate: 0, averageExecutionMs: 10,
      optimizations: 2, estimatedMonthlySavings: 4, averageEstimatedMonthlySavings: 2, realizedMonthlySavings: 0, realizedCount: 0, averageRealizedMonthlySavings: null, unpriced: 0, rollbacks: 2, rollbacksResolved: 1, previewsLeftOut: 0,
    });
    expect(text).toMatch(/^Rollbacks: 2 started \(0 rolled back, 0 failed, 1 failed and resolved by an operator, 1 going on\); needs an operator: 0\.$/m);
  });

  it('prints the averages of a re-run over the optimizations it reports, not over new ones (issue 8: "estimated $304.63 (average $0.00)")', () => {
    const views = [
      { ...view, status: 'completed', actualMonthlySavings: 15, estimatedMonthlySavings: 20 },
      { ...view, status: 'completed', unpriced: ['region eu-west-1 (not in the price book)'], estimatedMonthlySavings: 6 },
      { ...view, estimatedMonthlySavings: 278.63 },
    ] as OptimizationView[];
    // What `report` gives for an input of 3 records that all name optimizations already in the store.
    const text = summaryText({ ...summarize(views, { rejected: 0, duplicates: 3 }), received: 3 });
    expect(text).toMatch(/^Received 3 recommendations: 0 accepted, 0 rejected, 3 duplicates; 3 optimizations reported\.$/m);
    expect(text).toContain('estimated $304.63 (average $101.54 over 3 optimizations),\n  realized $15.00 (average $15.00 over 1 completed and priced), 1 completed unpriced (left out).');
  });

  it('prints no average where there is nothing to divide by', () => {
    expect(summaryText(summarize([], { rejected: 0, duplicates: 0 }))).toContain('estimated $0.00 (average — over 0 optimizations),\n  realized $0.00 (average — over 0 completed and priced).');
  });
});

describe('reportText: a run stopped before it took in its whole input', () => {
  it('says how many records were not taken in, from which index, and how to take them in', () => {
    const r = { summary: summarize([], { rejected: 0, duplicates: 0 }), optimizations: [], conflicts: [], rejected: [], notTakenIn: { count: 112, firstIndex: 288 } } as RunReport;
    expect(reportText(r)).toContain(
      'STOPPED before the whole input was read: 112 record(s), from index 288 on, were not taken in (nothing was recorded of them). Run the same input again to take them in: the records taken in before are recognised as duplicates and skipped.',
    );
    expect(reportText({ ...r, notTakenIn: undefined } as RunReport)).not.toContain('STOPPED');
  });
});

describe('detailText (optex show)', () => {
  const detail = (
    over: { status?: OptimizationDetail['status']; approval?: Partial<OptimizationDetail['approval']>; cancellation?: { by: string; reason: string } | null } & Partial<
      Pick<OptimizationDetail, 'reversible' | 'plan' | 'backup' | 'rollback' | 'action'>
    > = {},
  ): OptimizationDetail =>
    ({
      optimizationId: view.optimizationId,
      recommendationId: 'rec-1',
      resourceId: 'vol-1',
      action: over.action ?? 'modify-volume',
      status: over.status ?? 'denied',
      dryRun: false,
      reversible: over.reversible ?? 'yes',
      recommendation: { recommendationId: 'rec-1', source: 'spec', accountId: '123456789012', region: 'eu-west-1', resource: { type: 'ec2:volume', id: 'vol-1' }, action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 2, currency: 'USD' },
      risk: null,
      plan: over.plan ?? null,
      approval: {
        state: 'denied',
        authority: 'finops-manager',
        requiredApprovals: 1,
        approvers: [],
        eligibleApprovers: null,
        requestedAt: '2026-12-02T10:00:00.000Z',
        expiresAt: '2026-12-09T10:00:00.000Z',
        grantedAt: null,
        deniedBy: 'bob',
        denyReason: 'ok\n  approvals so far: alice (finops-manager)',
        ...over.approval,
      },
      performance: null,
      error: null,
      conflicts: [],
      backup: over.backup ?? null,
      cancellation: over.cancellation ?? null,
      rollback: over.rollback ?? null,
    }) as OptimizationDetail;

  it("gives the live resource's monthly cost, what the price book lacked, or says an offering is no recurring cost (it printed 'unpriced ()')", () => {
    const withLive = (live: Record<string, unknown>) => ({ ...detail(), risk: { level: 'LOW', baseLevel: 'LOW', policyVersion: 'v1', factors: [], basis: { live: { found: true, ...live } } } }) as unknown as OptimizationDetail;
    expect(detailText(withLive({ monthlyCost: 12.5 }))).toMatch(/^ {2}live resource: tags —, monthly cost \$12\.50$/m);
    expect(detailText(withLive({ unpriced: ['gp3 throughput above 125 MiB/s in eu-west-1'] }))).toMatch(/^ {2}live resource: tags —, monthly cost unpriced \(gp3 throughput above 125 MiB\/s in eu-west-1\)$/m);
    expect(detailText(withLive({ unpriced: [] }))).toMatch(/^ {2}live resource: tags —, monthly cost — \(not a recurring cost\)$/m);
    expect(detailText(withLive({}))).toMatch(/^ {2}live resource: tags —, monthly cost — \(not a recurring cost\)$/m);
  });

  it('says what a rollback did: each step, what it made (a restored volume, a new allocation, a listing), the one that failed', () => {
    const restore = { kind: 'create-volume', fromSnapshotOutput: 'snapshotId', availabilityZone: 'eu-west-1a', volumeType: 'gp2', sizeGiB: 100, tags: {} } as unknown as NonNullable<OptimizationDetail['rollback']>['steps'][number];
    const deleteBackup = { kind: 'delete-snapshot', snapshotIdFromOutput: 'snapshotId' } as unknown as NonNullable<OptimizationDetail['rollback']>['steps'][number];
    const text = detailText(
      detail({
        status: 'rollback-failed',
        rollback: {
          reason: 'validation failed: the volume is gone',
          steps: [restore, deleteBackup],
          done: [{ index: 0, step: restore, outputs: { restoredVolumeId: 'vol-sim-1' } }],
          failedStepIndex: 1,
          error: { code: 'InvalidSnapshot.InUse', message: 'in use' },
          endedAt: '2026-12-07T10:00:00.000Z',
        },
      }),
    );
    expect(text).toMatch(/^Rollback: validation failed: the volume is gone$/m);
    expect(text).toMatch(/^ {2}1\. create-volume .*: done → restoredVolumeId vol-sim-1$/m);
    expect(text).toMatch(/^ {2}2\. delete-snapshot .*: failed: InvalidSnapshot\.InUse: in use$/m);
    expect(text).toMatch(/^ {2}ended 2026-12-07T10:00:00\.000Z$/m);
    expect(detailText(detail())).not.toMatch(/^Rollback/m);
  });

  it('says when a request awaiting approval is past its expiry (not recorded as expired yet): deciding it is refused', () => {
    const pending = detail({ status: 'awaiting-approval', approval: { state: 'pending', deniedBy: null, denyReason: null, expiresAt: '2026-12-09T10:00:00.000Z' } });
    expect(detailText(pending, null, new Date('2026-12-09T10:00:00.000Z'))).toMatch(/^ {2}expires: 2026-12-09T10:00:00\.000Z — expired: an approval or a denial is refused now; the next resume records it$/m);
    expect(detailText(pending, null, new Date('2026-12-09T09:59:59.999Z'))).toMatch(/^ {2}expires: 2026-12-09T10:00:00\.000Z$/m);
  });

  it('says that a rolled-back reservation purchase is still owned, listed for sale', () => {
    const list = { kind: 'list-reserved-instances', reservedInstancesFrom: 'purchase-reserved-instances', instanceCount: 2, price: 500 } as NonNullable<OptimizationDetail['rollback']>['steps'][number];
    const text = detailText(
      detail({
        status: 'rolled-back',
        action: 'purchase-reserved-instances',
        rollback: { reason: 'validation failed', steps: [list], done: [{ index: 0, step: list, outputs: { listingId: 'listing-sim-1' } }], failedStepIndex: null, error: null, endedAt: null },
      }),
    );
    expect(text).toMatch(/: done → listingId listing-sim-1$/m);
    expect(text).toContain('the reservation cannot be returned: it is still owned, and listed for sale on the RI Marketplace until someone buys it');
  });

  it('a deny reason with a line break forges no line: the break shows escaped inside its field', () => {
    const text = detailText(detail());
    const lines = text.split('\n');
    expect(lines.filter((l) => l.trimStart().startsWith('approvals so far:'))).toEqual(['  approvals so far: none']);
    expect(lines).toContain('  denied by bob: ok\\n  approvals so far: alice (finops-manager)');
    expect(text).not.toMatch(INTERPRETED);
  });

  it('a deletion whose backup snapshot expired: the plan says what was approved, and that it is not reversible now', () => {
    const plan = { change: 'gp2 100 GiB → deleted, backup snapshot kept', steps: [], rollback: [], reversible: 'yes', monthlyCostChange: -5, riskFactors: [], riskLevel: 'HIGH' } as unknown as OptimizationDetail['plan'];
    const backup = { snapshotId: 'snap-1', volumeId: 'vol-1', createdAt: '2026-12-01T00:00:00.000Z', expiry: { at: '2027-01-01T00:00:00.000Z', retentionDays: 30, outcome: 'deleted' } } as unknown as OptimizationDetail['backup'];
    expect(detailText(detail({ status: 'completed', plan, backup, reversible: 'no' }))).toContain('  reversible: yes when approved; now no (its backup snapshot expired)');
    expect(detailText(detail({ status: 'completed', plan }))).toMatch(/^ {2}reversible: yes$/m);
  });

  it('why it waits, under its status, when it does (a wait with an end says until when; a line break in the reason is escaped)', () => {
    expect(detailText(detail({}), { hold: 'resource-held', reason: 'ec2:volume vol-1 is held by optimization h-1 (rollback-failed): …\nforged' })).toContain(
      '  waiting         resource-held: ec2:volume vol-1 is held by optimization h-1 (rollback-failed): …\\nforged',
    );
    expect(detailText(detail({}), { hold: 'cool-down', until: '2027-01-01T00:00:00.000Z', reason: 'x' })).toContain('  waiting         cool-down until 2027-01-01T00:00:00.000Z: x');
    expect(detailText(detail({}), null)).not.toContain('waiting');
  });

  it('a cancelled optimization: who cancelled it and why; no pending approval, no expiry', () => {
    const text = detailText(detail({ status: 'cancelled', approval: { state: null, deniedBy: null, denyReason: null }, cancellation: { by: 'carol', reason: 'freeze\nweek' } }));
    expect(text).toContain('  cancelled by    carol: freeze\\nweek');
    expect(text).toContain('Approval: none (cancelled before a decision)');
    expect(text).not.toMatch(/pending|expires|not decided yet/);
  });
});

describe('reportText', () => {
  it('says work waits until a time without calling it scheduled approved work (it may be a soak or a rollback waiting out EC2\'s cool-down)', () => {
    const text = reportText({ summary: summarize([], { rejected: 0, duplicates: 0 }), optimizations: [], rejected: [], conflicts: [], waitingUntil: '2027-03-02T22:00:00.000Z' });
    expect(text).toMatch(/^Work is waiting until 2027-03-02T22:00:00\.000Z \(a change window, a freeze, a cool-down, the daily limit, --not-before, a soak or a rollback's wait; optex show ID says which\): run optex resume after that time\.$/m);
    expect(text).not.toMatch(/scheduled not before/);
  });

  it('the hint after approvals repeats this command\'s --not-before while it is ahead (the later resume plans that work), not on EventStoreDB', () => {
    const pending = { ...view, status: 'awaiting-approval' as const, error: null };
    const report = { summary: summarize([pending], { rejected: 0, duplicates: 0 }), optimizations: [pending], rejected: [], conflicts: [] };
    expect(reportText(report, { notBefore: '2027-01-01T22:00:00.000Z' })).toContain('1 awaiting approval: optex approve <OPTIMIZATION-ID> --by NAME, then optex resume --not-before 2027-01-01T22:00:00.000Z.');
    expect(reportText(report)).toContain('1 awaiting approval: optex approve <OPTIMIZATION-ID> --by NAME, then optex resume.');
    expect(reportText(report, { notBefore: '2027-01-01T22:00:00.000Z', store: 'esdb://127.0.0.1:2113?tls=false' })).not.toContain('--not-before');
  });

  it('lists approved optimizations waiting for a resource another holds (five, then how many more), and what lets them go on by the store', () => {
    const row = (n: number) => ({ optimizationId: `o-${n}`, resourceId: `vol-${n}`, heldBy: { optimizationId: `h-${n}`, status: 'rollback-failed' as const }, reason: `ec2:volume vol-${n} is held by optimization h-${n} (rollback-failed): an operator …` });
    const base = { summary: summarize([], { rejected: 0, duplicates: 0 }), optimizations: [], rejected: [], conflicts: [] };
    const one = reportText({ ...base, waitingOnResource: [row(1)] });
    expect(one).toContain('1 approved, waiting for a resource another optimization holds:\n  o-1: ec2:volume vol-1 is held by optimization h-1 (rollback-failed): an operator …\nOnce it is released, run optex resume.');
    const seven = reportText({ ...base, waitingOnResource: [1, 2, 3, 4, 5, 6, 7].map(row) }, { store: 'esdb://127.0.0.1:2113?tls=false' });
    expect(seven).toContain('  o-5: ');
    expect(seven).not.toContain('  o-6: ');
    expect(seven).toContain('  … and 2 more (--json lists them all: waitingOnResource)\nOnce it is released, the services running on this store carry it on.');
    expect(reportText(base)).not.toContain('waiting for a resource');
  });
});
