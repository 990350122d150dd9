import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, json, optex, tempDir, ROOT } from './support/cli';

// Issue 8 through the built CLI: risk from the live resource, `show` and the exact plan, a changed plan asks again.

jest.setTimeout(120_000);

const F = 'test/fixtures/decisions';
const CLOUD = `simulated:${F}/fleet.json`;

interface Row {
  recommendationId: string;
  optimizationId: string;
  status: string;
  risk: string | null;
  approval: string | null;
}
interface Report {
  summary: { byStatus: Record<string, number>; totalExecutions: number };
  optimizations: Row[];
}
interface Detail {
  status: string;
  risk: { level: string; factors: { factor: string; detail: string }[]; basis: { stated: Record<string, unknown>; live: { found: boolean; monthlyCost?: number } } };
  plan: { change: string; steps: { kind: string; instanceType?: string }[]; rollback: { kind: string }[]; reversible: string; monthlyCostChange?: number; riskLevel: string; riskFactors: { factor: string }[] } | null;
  approval: { state: string; authority: string | null; requiredApprovals: number | null; approvers: string[]; expiresAt: string | null };
}

const storeIn = (dir: string) => `sqlite:${join(dir, 'events.db')}`;
const row = (report: Report, id: string) => report.optimizations.find((o) => o.recommendationId === id)!;

beforeAll(() => ensureBuilt());

describe('risk from the live resource', () => {
  it('an instance tagged env=production, criticality=critical in the fleet, sent without tags, is CRITICAL and waits for the change-board under a policy that auto-approves MEDIUM', async () => {
    const store = storeIn(tempDir('d8'));
    const report = json<Report>(await optex(['run', `${F}/untagged.ndjson`, '--store', store, '--cloud', CLOUD, '--policy', `${F}/policy-medium.json`, '--json']));
    expect(row(report, 'd8-untagged-prod')).toMatchObject({ risk: 'CRITICAL', approval: 'pending', status: 'awaiting-approval' });
    const detail = json<Detail>(await optex(['show', 'd8-untagged-prod', '--store', store, '--json']));
    expect(detail.risk.factors.map((f) => f.factor)).toEqual(['production', 'criticality']);
    expect(detail.risk.basis).toMatchObject({ stated: {}, live: { found: true, monthlyCost: 140.16 } });
    const fleet = json<{ calls: { operation: string }[] }>(await optex(['fleet', '--store', store, '--cloud', CLOUD, '--json']));
    expect(fleet.calls.map((c) => c.operation)).not.toContain('stopInstance');
  });

  it('a stop-idle of an m5.24xlarge without monthlyCost takes its cost from the price book (3,363.84/month): large, HIGH', async () => {
    const store = storeIn(tempDir('d8'));
    json<Report>(await optex(['run', `${F}/untagged.ndjson`, '--store', store, '--cloud', CLOUD, '--json']));
    const detail = json<Detail>(await optex(['show', 'd8-big-idle', '--store', store, '--json']));
    expect(detail.risk.level).toBe('HIGH'); // MEDIUM + large (the savings, 3,363.84, are not above 5,000)
    expect(detail.risk.factors.map((f) => f.factor)).toEqual(['large']);
    expect(detail.risk.factors.find((f) => f.factor === 'large')?.detail).toMatch(/monthly cost 3363\.84 \(price book\) on the live resource is at least 1000/);
  });
});

describe('optex show', () => {
  it('prints the exact plan, the authority asked for, approvals so far and the expiry (text and --json)', async () => {
    const store = storeIn(tempDir('d8'));
    json<Report>(await optex(['run', `${F}/untagged.ndjson`, '--store', store, '--cloud', CLOUD, '--json']));
    const before = json<Detail>(await optex(['show', 'd8-untagged-prod', '--store', store, '--json']));
    expect(before.plan).toMatchObject({
      steps: [{ kind: 'stop-instance' }, { kind: 'wait-instance-stopped' }],
      rollback: [{ kind: 'start-instance' }, { kind: 'wait-instance-running' }],
      reversible: 'yes',
      monthlyCostChange: -140.16,
      riskLevel: 'CRITICAL',
    });
    expect(before.approval).toMatchObject({ state: 'pending', authority: 'change-board', requiredApprovals: 2, approvers: [] });
    expect(before.approval.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    expect((await optex(['approve', 'd8-untagged-prod', '--by', 'alice', '--store', store])).code).toBe(0);
    const text = await optex(['show', 'd8-untagged-prod', '--store', store]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Risk: CRITICAL \(base MEDIUM/);
    expect(text.stdout).toMatch(/\+ production: tag env=production on the live resource marks a production resource/);
    expect(text.stdout).toMatch(/Plan \(what is approved\): m5\.xlarge \(running\) → m5\.xlarge \(stopped\)/);
    expect(text.stdout).toMatch(/1\. stop-instance instanceId=i-0d800000000000001/);
    expect(text.stdout).toMatch(/net monthly cost change: −\$140\.16/);
    expect(text.stdout).toMatch(/authority asked for: change-board, 2 distinct approval\(s\) needed/);
    expect(text.stdout).toMatch(/approvals so far: alice/);
    expect(text.stdout).toMatch(/expires: \d{4}-/);
  });

  it.each([
    [['show', 'anything']],
    [['pause', '--by', 'ops', '--reason', 'incident']],
    [['pause']],
    [['resume-execution', '--by', 'ops', '--reason', 'over']],
  ])('%j refuses a store that does not exist with exit 1, and creates nothing (a mistyped path never pulls the switch on an empty store)', async (args) => {
    const dir = tempDir('d8');
    const result = await optex([...args, '--store', storeIn(dir)]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^optex: --store: .*events\.db does not exist/)]);
    expect(existsSync(join(dir, 'events.db'))).toBe(false);
  });
});

describe('the live resource no longer matches the approved plan', () => {
  it('a rightsize approved on a running instance that another optimization stopped meanwhile asks again with the new plan instead of executing', async () => {
    const store = storeIn(tempDir('d8'));
    const first = json<Report>(await optex(['run', `${F}/rightsize.ndjson`, '--store', store, '--cloud', CLOUD, '--json']));
    expect(row(first, 'd8-rightsize')).toMatchObject({ risk: 'MEDIUM', status: 'awaiting-approval' });
    const asked = json<Detail>(await optex(['show', 'd8-rightsize', '--store', store, '--json']));
    expect(asked.plan?.steps.map((s) => s.kind)).toEqual(['stop-instance', 'wait-instance-stopped', 'modify-instance-type', 'start-instance', 'wait-instance-running']);
    // Meanwhile a stop-idle of the same instance is approved automatically (this policy) and stops it.
    const second = json<Report>(await optex(['run', `${F}/stop.ndjson`, '--store', store, '--cloud', CLOUD, '--policy', `${F}/policy-medium.json`, '--json']));
    expect(row(second, 'd8-stop').status).toBe('completed');

    expect((await optex(['approve', 'd8-rightsize', '--by', 'alice', '--store', store])).code).toBe(0);
    // Back to the default policy's figures (the store remembers the stop-idle's --policy otherwise, which would approve
    // the new plan automatically).
    const resumed = json<Report>(await optex(['resume', '--store', store, '--cloud', CLOUD, '--policy', `${F}/policy-default.json`, '--json']));
    expect(row(resumed, 'd8-rightsize')).toMatchObject({ status: 'awaiting-approval', approval: 'pending' });
    const again = json<Detail>(await optex(['show', 'd8-rightsize', '--store', store, '--json']));
    expect(again.plan?.steps.map((s) => s.kind)).toEqual(['modify-instance-type']);
    expect(again.plan?.monthlyCostChange).toBe(0);
    expect(again.approval.approvers).toEqual([]);
    const history = json<{ events: { type: string }[] }>(await optex(['history', 'd8-rightsize', '--store', store, '--json']));
    expect(history.events.map((e) => e.type).slice(-2)).toEqual(['PlanChanged', 'ApprovalRequested']);
    const fleet = json<{ calls: { operation: string; resource: string }[] }>(await optex(['fleet', '--store', store, '--cloud', CLOUD, '--json']));
    expect(fleet.calls.filter((c) => c.operation === 'modifyInstanceType')).toEqual([]);

    // Asked again, the same approver approves the new plan: recorded (it used to take the first approval's event id,
    // so the store dropped it as a repeat while the CLI said "approved"), and the next resume schedules and runs it (the
    // schedule used to take the first schedule's event id, and the optimization stayed approved for ever).
    expect((await optex(['approve', 'd8-rightsize', '--by', 'alice', '--store', store])).code).toBe(0);
    const approved = json<{ events: { type: string }[] }>(await optex(['history', 'd8-rightsize', '--store', store, '--json']));
    expect(approved.events.map((e) => e.type).slice(-1)).toEqual(['ApprovalGranted']);
    expect(json<Detail>(await optex(['show', 'd8-rightsize', '--store', store, '--json'])).status).toBe('approved');
    const ran = json<Report>(await optex(['resume', '--store', store, '--cloud', CLOUD, '--policy', `${F}/policy-default.json`, '--json']));
    expect(row(ran, 'd8-rightsize').status).toBe('completed');
    const after = json<{ calls: { operation: string; dryRun: boolean }[] }>(await optex(['fleet', '--store', store, '--cloud', CLOUD, '--json']));
    expect(after.calls.filter((c) => c.operation === 'modifyInstanceType' && !c.dryRun)).toHaveLength(1);
  });
});

describe('a dry run is a preview', () => {
  it('needs no approval, is not an execution in metrics, and a later real run of the same file runs it', async () => {
    const store = storeIn(tempDir('d8'));
    const preview = json<Report>(await optex(['run', `${F}/untagged.ndjson`, '--store', store, '--cloud', CLOUD, '--dry-run', '--json']));
    expect(preview.optimizations.map((o) => [o.recommendationId, o.status, o.approval]).sort()).toEqual([
      ['d8-big-idle', 'dry-run-completed', 'auto'],
      ['d8-untagged-prod', 'dry-run-completed', 'auto'],
    ]);
    const metrics = json<{ summary: Report['summary'] }>(await optex(['metrics', '--store', store, '--json']));
    expect(metrics.summary.totalExecutions).toBe(0);

    const real = json<Report & { summary: { duplicates: number } }>(await optex(['run', `${F}/untagged.ndjson`, '--store', store, '--cloud', CLOUD, '--json']));
    expect(real.summary.duplicates).toBe(0);
    expect(real.optimizations.map((o) => [o.recommendationId, o.status]).sort()).toEqual([
      ['d8-big-idle', 'awaiting-approval'],
      ['d8-untagged-prod', 'awaiting-approval'],
    ]);
    expect(real.optimizations.every((o) => !preview.optimizations.some((p) => p.optimizationId === o.optimizationId))).toBe(true);
    // The recommendation id names the real optimization, not its preview.
    expect(json<Detail>(await optex(['show', 'd8-big-idle', '--store', store, '--json'])).status).toBe('awaiting-approval');
  });
});

describe('conflicts', () => {
  it('a rightsize from x86_64 to Graviton (m5 → m6g) is refused at pre-validation with the reason, and the instance is not touched', async () => {
    const store = storeIn(tempDir('d8'));
    const report = json<Report & { optimizations: (Row & { error: string | null })[] }>(
      await optex(['run', `${F}/graviton.ndjson`, '--store', store, '--cloud', CLOUD, '--policy', 'test/fixtures/policy-auto.json', '--json']),
    );
    const o = report.optimizations[0]!;
    expect(o.status).toBe('failed');
    expect(o.error).toMatch(/architecture: m5\.xlarge is x86_64 and m6g\.large is arm64/);
    const fleet = json<{ calls: { operation: string }[] }>(await optex(['fleet', '--store', store, '--cloud', CLOUD, '--json']));
    // described at assessment (risk) and at pre-validation, which also asks whether the target is offered; nothing else
    expect(fleet.calls.map((c) => c.operation)).toEqual(['describeInstance', 'describeInstance', 'describeInstanceTypeOffering']);
  });
});

describe('changed resubmissions', () => {
  interface ConflictReport extends Report {
    summary: Report['summary'] & { duplicates: number; conflicts: number };
    conflicts: { index: number | null; optimizationId: string; recommendationId: string; differences: { path: string; recorded?: unknown; resubmitted?: unknown }[] }[];
    optimizations: (Row & { action: string; conflicts: number })[];
  }

  it('the same id with another action is recorded as a conflict and shown (run text and --json, history, show); the same content again is a no-op', async () => {
    const store = storeIn(tempDir('d8'));
    const first = json<ConflictReport>(await optex(['run', `${F}/stop.ndjson`, '--store', store, '--cloud', CLOUD, '--json']));
    const id = first.optimizations[0]!.optimizationId;
    // The same recommendation with its keys in another order: another delivery, the same content.
    const same = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(readFileSync(`${F}/stop.ndjson`, 'utf8')) as Record<string, unknown>).reverse()));
    const identical = json<ConflictReport>(await optex(['run', '-', '--store', store, '--cloud', CLOUD, '--json'], { input: same }));
    expect(identical.summary).toMatchObject({ duplicates: 1, conflicts: 0 });
    expect(identical.conflicts).toEqual([]);

    const changed = json<ConflictReport>(await optex(['run', `${F}/resubmitted.ndjson`, '--store', store, '--cloud', CLOUD, '--json']));
    expect(changed.summary).toMatchObject({ duplicates: 1, conflicts: 1 });
    expect(changed.conflicts).toEqual([
      expect.objectContaining({ index: 0, optimizationId: id, recommendationId: 'd8-stop', differences: expect.arrayContaining([{ path: 'action.type', recorded: 'stop-idle', resubmitted: 'rightsize' }]) }),
    ]);
    // The optimization keeps the recommendation received first.
    expect(changed.optimizations).toEqual([expect.objectContaining({ optimizationId: id, action: 'stop-idle', status: first.optimizations[0]!.status, conflicts: 1 })]);

    const text = await optex(['history', id, '--store', store, '--wide']);
    expect(text.stdout).toMatch(/ResubmissionConflicted +risk-assessor +resubmitted with other content, not applied: .*action\.type: "stop-idle" → "rightsize"/);
    const shown = await optex(['show', id, '--store', store]);
    expect(shown.stdout).toMatch(/conflict +resubmitted .* with other content, not applied: .*action\.type: "stop-idle" → "rightsize"/);
    // A new input with the same changed recommendation (another delivery) in text: the conflicts table and the summary say so.
    const again = await optex(['run', '-', '--store', store, '--cloud', CLOUD], { input: `${readFileSync(`${F}/resubmitted.ndjson`, 'utf8')}\n` });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^Resubmitted with other content \(conflicts; each optimization keeps the recommendation it received first\):$/m);
    expect(again.stdout).toMatch(new RegExp(`^ +0 +${id.slice(0, 8)} +d8-stop +action\\.type: "stop-idle" → "rightsize"; `, 'm'));
    expect(again.stdout).toMatch(/1 duplicates \(1 with other content: conflicts\)/);
    const events = json<{ events: { type: string }[] }>(await optex(['history', id, '--store', store, '--json'])).events.map((e) => e.type);
    expect(events.filter((t) => t === 'ResubmissionConflicted')).toHaveLength(2);
  });
});

describe('commands that read a store refuse a missing one', () => {
  it.each([
    ['list'],
    ['metrics'],
    ['replay'],
    ['history', 'x'],
    ['approve', 'x', '--by', 'alice'],
    ['cancel', 'x', '--by', 'ops', '--reason', 'r'],
  ])('%s exits 1 naming the store, and creates nothing', async (...args: string[]) => {
    const dir = tempDir('d8');
    const result = await optex([...args, '--store', storeIn(dir)]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^optex: --store: .*events\.db does not exist/)]);
    expect(existsSync(join(dir, 'events.db'))).toBe(false);
  });
});

describe('--cloud and --policy are remembered with the store', () => {
  interface Settings {
    settings: { cloud: { value: string; from: string }; policy: { value: string | null; from: string } };
  }
  type Run = Report & Settings & { optimizations: (Row & { error: string | null })[] };

  it('given once, later commands on the store use them (run, resume, fleet) until given again; recorded in the log and said in the output', async () => {
    const store = storeIn(tempDir('d8'));
    const first = json<Run>(await optex(['run', `${F}/graviton.ndjson`, '--store', store, '--cloud', CLOUD, '--policy', `${F}/policy-medium.json`, '--json']));
    expect(first.settings).toEqual({ cloud: { value: `simulated:${join(ROOT, F, 'fleet.json')}`, from: 'flag' }, policy: { value: join(ROOT, F, 'policy-medium.json'), from: 'flag' } });

    // No flags: the stop-idle (MEDIUM, $140.16) is approved automatically only under policy-medium.json, and its instance is only in the decisions fleet.
    const second = json<Run>(await optex(['run', `${F}/stop.ndjson`, '--store', store, '--json']));
    expect(second.settings).toEqual({ cloud: { ...first.settings.cloud, from: 'store' }, policy: { ...first.settings.policy, from: 'store' } });
    expect(row(second, 'd8-stop')).toMatchObject({ risk: 'MEDIUM', approval: 'auto', status: 'completed' });
    const fleet = json<{ calls: { operation: string; resource: string }[] }>(await optex(['fleet', '--store', store, '--json']));
    expect(fleet.calls).toContainEqual(expect.objectContaining({ operation: 'stopInstance', resource: 'i-0d800000000000003' }));

    // Given again: it applies, and is what the store remembers from then on.
    const third = await optex(['resume', '--store', store, '--policy', 'test/fixtures/policy-auto.json']);
    expect(third.stdout).toMatch(/policy .*test\/fixtures\/policy-auto\.json \(given now\)/);
    expect(third.stdout).toMatch(/Cloud simulated:.*decisions\/fleet\.json \(remembered with the store\)/);
    const fourth = json<Run>(await optex(['resume', '--store', store, '--json']));
    expect(fourth.settings.policy).toEqual({ value: join(ROOT, 'test/fixtures/policy-auto.json'), from: 'store' });

    const replay = json<{ events: number }>(await optex(['replay', '--store', store, '--json']));
    expect(replay.events).toBeGreaterThan(0);
    const recorded = await optex(['replay', '--store', store, '--format', 'ndjson', '--type', 'StoreSettingsRecorded']);
    const settings = recorded.stdout.trim().split('\n').map((l) => JSON.parse(l) as { data: { cloud?: string; policyFile?: string; by: string } });
    expect(settings.map((e) => e.data)).toEqual([
      expect.objectContaining({ cloud: first.settings.cloud.value, policyFile: first.settings.policy.value, by: `run ${F}/graviton.ndjson` }),
      expect.objectContaining({ policyFile: join(ROOT, 'test/fixtures/policy-auto.json'), by: 'resume' }),
    ]);
  });
});

describe('four eyes: whoever asked for a change never approves it', () => {
  it('the requester named in the input is refused when approving in a later command (its name read back from the store), another person is not', async () => {
    const dir = tempDir('d8');
    const store = storeIn(dir);
    const input = join(dir, 'asked.ndjson');
    const big = readFileSync(`${F}/untagged.ndjson`, 'utf8').split('\n').find((l) => l.includes('d8-big-idle'))!;
    writeFileSync(input, `${JSON.stringify({ ...JSON.parse(big), recommendationId: 'd8-asked', requestedBy: 'Alice' })}\n`);
    expect(row(json<Report>(await optex(['run', input, '--store', store, '--cloud', CLOUD, '--json'])), 'd8-asked')).toMatchObject({ risk: 'HIGH', status: 'awaiting-approval' });

    const own = await optex(['approve', 'd8-asked', '--by', 'alice', '--store', store]);
    expect(own.code).toBe(1);
    expect(own.stderr).toMatch(/alice requested .* and may not approve it/);
    expect(json<Detail>(await optex(['show', 'd8-asked', '--store', store, '--json'])).approval).toMatchObject({ state: 'pending', approvers: [] });

    expect((await optex(['approve', 'd8-asked', '--by', 'bob', '--store', store])).code).toBe(0);
    expect(json<Detail>(await optex(['show', 'd8-asked', '--store', store, '--json'])).approval).toMatchObject({ approvers: ['bob'] });
  });
});
