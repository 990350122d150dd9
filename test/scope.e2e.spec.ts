import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, json, optex, tempDir } from './support/cli';

// The scope guard from outside: the policy's allow-lists, the opt-out tag (on the recommendation and on the live
// resource) and the fleet's declared credentials account. Every refused recommendation ends out-of-scope with the
// rule in its error, and the simulated fleet's call log shows that nothing was called for it (only the describe
// of pre-validation for the resource tagged in the fleet).

jest.setTimeout(120_000);

interface View {
  recommendationId: string;
  resourceId: string;
  status: string;
  risk: string | null;
  error: string | null;
}
interface Report {
  summary: { received: number; rejected: number; byStatus: Record<string, number> };
  optimizations: View[];
}
interface FleetView {
  accountId?: string;
  volumes: { id: string; volumeType: string }[];
  calls: { operation: string; resource: string; accountId: string; region: string; dryRun: boolean; result: string }[];
}

const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';
const volume = (id: string, extra: Record<string, unknown> = {}) => ({ id, accountId: ACCOUNT, region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available', ...extra });
const fleet = {
  accountId: ACCOUNT,
  volumes: [
    volume('vol-0scope00000000ok'),
    volume('vol-0scope0000000eu1', { region: 'eu-west-1' }),
    volume('vol-0scope000000acct', { accountId: OTHER_ACCOUNT }),
    volume('vol-0scope0000000tag', { tags: { 'optex:skip': 'true', team: 'billing' } }),
    volume('vol-0scope000000rtag'),
  ],
};
const rec = (recommendationId: string, volumeId: string, extra: Record<string, unknown> = {}, tags?: Record<string, string>) => ({
  recommendationId,
  source: 'scope-e2e',
  accountId: ACCOUNT,
  region: 'us-east-1',
  resource: { type: 'ec2:volume', id: volumeId, ...(tags ? { tags } : {}) },
  action: { type: 'modify-volume', targetVolumeType: 'gp3' },
  estimatedMonthlySavings: 2,
  currency: 'USD',
  ...extra,
});
const records = [
  rec('scope-ok', 'vol-0scope00000000ok'),
  rec('scope-region', 'vol-0scope0000000eu1', { region: 'eu-west-1' }),
  rec('scope-account', 'vol-0scope000000acct', { accountId: OTHER_ACCOUNT }),
  rec('scope-tag-live', 'vol-0scope0000000tag'),
  rec('scope-tag-rec', 'vol-0scope000000rtag', {}, { 'optex:skip': 'TRUE' }),
];

beforeAll(() => ensureBuilt());

describe('scope guard, end to end on the simulated fleet', () => {
  const dir = tempDir('scope');
  const store = `sqlite:${join(dir, 'events.db')}`;
  const fleetFile = join(dir, 'fleet.json');
  const policyFile = join(dir, 'policy.json');
  const input = join(dir, 'recs.ndjson');
  writeFileSync(fleetFile, JSON.stringify(fleet));
  writeFileSync(policyFile, JSON.stringify({ version: 'scope-e2e', scope: { regions: ['us-east-1'] } }));
  writeFileSync(input, records.map((r) => JSON.stringify(r)).join('\n'));
  let report: Report;
  const byRec = (id: string) => report.optimizations.find((o) => o.recommendationId === id)!;

  it('run: out-of-scope recommendations end out-of-scope with the rule named; the one in scope completes', async () => {
    const result = await optex(['run', input, '--store', store, '--cloud', `simulated:${fleetFile}`, '--policy', policyFile, '--json']);
    expect(result.code).toBe(0);
    report = json<Report>(result);
    expect(report.summary).toMatchObject({ received: 5, rejected: 0, byStatus: { completed: 1, 'out-of-scope': 4 } });
    expect(byRec('scope-ok')).toMatchObject({ status: 'completed', error: null });
    expect(byRec('scope-region')).toMatchObject({ status: 'out-of-scope', risk: null, error: 'out of scope (assessment): scope.regions: region eu-west-1 is not allowed (allowed: us-east-1)' });
    expect(byRec('scope-account')).toMatchObject({
      status: 'out-of-scope',
      error: `out of scope (assessment): credentials: account ${OTHER_ACCOUNT} is not the account of the cloud credentials (${ACCOUNT})`,
    });
    expect(byRec('scope-tag-rec')).toMatchObject({ status: 'out-of-scope', error: 'out of scope (assessment): scope.optOutTag: the recommendation says vol-0scope000000rtag is tagged optex:skip=TRUE' });
    expect(byRec('scope-tag-live')).toMatchObject({ status: 'out-of-scope', error: 'out of scope (pre-validation): scope.optOutTag: the live resource vol-0scope0000000tag is tagged optex:skip=true' });
  });

  it('fleet: nothing was called for a refused recommendation but the describes of risk assessment and pre-validation; the volumes are unchanged', async () => {
    const view = json<FleetView>(await optex(['fleet', '--store', store, '--cloud', `simulated:${fleetFile}`, '--json']));
    const callsOn = (id: string) => view.calls.filter((c) => c.resource === id).map((c) => `${c.operation}${c.dryRun ? ' dry' : ''} ${c.result}`);
    expect(callsOn('vol-0scope0000000eu1')).toEqual([]);
    expect(callsOn('vol-0scope000000acct')).toEqual([]);
    expect(callsOn('vol-0scope000000rtag')).toEqual([]);
    // described when its risk is assessed (the live resource, issue 8) and at pre-validation, where the opt-out tag stops it
    expect(callsOn('vol-0scope0000000tag')).toEqual(['describeVolume ok', 'describeVolume ok']);
    expect(callsOn('vol-0scope00000000ok')).toContain('modifyVolume ok');
    expect(view.calls.every((c) => c.accountId === ACCOUNT && c.region === 'us-east-1')).toBe(true);
    expect(view.accountId).toBe(ACCOUNT);
    const types = Object.fromEntries(view.volumes.map((v) => [v.id, v.volumeType]));
    expect(types).toEqual({
      'vol-0scope00000000ok': 'gp3',
      'vol-0scope0000000eu1': 'gp2',
      'vol-0scope000000acct': 'gp2',
      'vol-0scope0000000tag': 'gp2',
      'vol-0scope000000rtag': 'gp2',
    });
  });

  it('history: the decision is in the log under its own name, with every rule broken', async () => {
    const id = byRec('scope-tag-live').recommendationId;
    const history = json<{ events: { type: string; data: Record<string, unknown> }[] }>(await optex(['history', id, '--store', store, '--json']));
    const types = history.events.map((e) => e.type);
    expect(types).toEqual(['OptimizationReceived', 'RiskAssessed', 'ApprovalGranted', 'ExecutionScheduled', 'ExecutionStarted', 'OptimizationOutOfScope']);
    expect(history.events.at(-1)!.data).toMatchObject({ stage: 'pre-validation', violations: [{ rule: 'opt-out-tag' }] });
  });

  it('metrics rebuilt from the log count the out-of-scope ones, and none of them as an execution', async () => {
    const metrics = json<{ summary: Record<string, unknown> }>(await optex(['metrics', '--store', store, '--json']));
    expect(metrics.summary).toEqual(report.summary);
    expect(metrics.summary).toMatchObject({ totalExecutions: 1, successfulExecutions: 1, failedExecutions: 0 });
  });
});
