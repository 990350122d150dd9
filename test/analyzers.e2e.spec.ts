import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, json, optex, tempDir } from './support/cli';

// optex import from outside: each analyzer's fixtures (test/fixtures/analyzers, built from the AWS SDK models and
// the Custodian source) translated with `import … -o FILE`, then run end to end with `run FILE` on the embedded
// default against a simulated fleet holding the resources they name. Every recommendation must complete; every
// item the import did not translate is listed with its reason.

jest.setTimeout(240_000);

const F = 'test/fixtures/analyzers';
const FLEET = `simulated:${F}/fleet.json`;
const ACCOUNT = '123456789012';

interface ImportJson {
  recommendations: { recommendationId: string; resource: { id: string }; action: { type: string } }[];
  skipped: { itemRef: string; code: string; reason: string }[];
  rejected: unknown[];
  counts: { items: number; recommendations: number; skipped: number; rejected: number; skippedByCode: Record<string, number> };
}
interface Report {
  summary: { received: number; rejected: number; duplicates: number; byStatus: Record<string, number> };
  optimizations: { recommendationId: string; resourceId: string; action: string; status: string; error: string | null }[];
}

/** Imports each `[file, ...flags]` into its own NDJSON file; returns the import reports and the files joined into one input. */
async function importAll(dir: string, from: string, imports: readonly (readonly string[])[]): Promise<{ reports: ImportJson[]; input: string }> {
  const reports: ImportJson[] = [];
  const lines: string[] = [];
  for (const [i, [file, ...flags]] of imports.entries()) {
    const out = join(dir, `import-${i}.ndjson`);
    const result = await optex(['import', '--from', from, `${F}/${file}`, ...flags, '-o', out, '--json']);
    expect({ file, code: result.code, stderr: result.stderr }).toEqual({ file, code: 0, stderr: '' });
    const report = json<ImportJson>(result);
    expect(report.counts.items).toBe(report.counts.recommendations + report.counts.skipped + report.counts.rejected);
    for (const s of report.skipped) expect(s.reason).toMatch(/^\S+/);
    const written = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    expect(written.map((l) => (JSON.parse(l) as { recommendationId: string }).recommendationId)).toEqual(report.recommendations.map((r) => r.recommendationId));
    reports.push(report);
    lines.push(...written);
  }
  const input = join(dir, 'all.ndjson');
  writeFileSync(input, `${lines.join('\n')}\n`);
  return { reports, input };
}

async function runAll(dir: string, input: string): Promise<Report> {
  const result = await optex(['run', input, '--store', `sqlite:${join(dir, 'events.db')}`, '--cloud', FLEET, '--policy', 'test/fixtures/policy-auto.json', '--json']);
  expect(result.code).toBe(0);
  return json<Report>(result);
}

const statusOf = (report: Report) => report.optimizations.map((o) => [o.resourceId, o.action, o.status, o.error]).sort();

describe('optex import, then run: every analyzer fixture runs end to end on the embedded default', () => {
  beforeAll(() => ensureBuilt());

  it('AWS Cost Optimization Hub: GetRecommendation documents and a ListRecommendations response', async () => {
    const dir = tempDir('import-coh');
    const { reports, input } = await importAll(dir, 'coh', [
      ['coh-get-recommendation-ec2-rightsize.json'],
      ['coh-get-recommendation-ec2-stop.json'],
      ['coh-get-recommendation-ebs-upgrade.json'],
      ['coh-get-recommendation-ebs-delete.json'],
      ['coh-get-recommendation-ec2-ri-purchase.json'],
      ['coh-list-recommendations.json'],
    ]);
    expect(reports.map((r) => r.counts.recommendations)).toEqual([1, 1, 1, 1, 0, 3]);
    expect(reports[5]!.counts.skippedByCode).toEqual({ 'missing-field': 2, 'unsupported-action': 3, 'unsupported-resource-type': 1, 'unsupported-currency': 1 });
    const report = await runAll(dir, input);
    // The list's three recommendations are the GetRecommendation documents' again: same resource and action, so duplicates.
    expect(report.summary).toMatchObject({ received: 7, rejected: 0, duplicates: 3 });
    expect(statusOf(report)).toEqual([
      ['i-0a1b2c3d4e5f60789', 'rightsize', 'completed', null],
      ['i-0fedcba9876543210', 'stop-idle', 'completed', null],
      ['vol-0123456789abcdef0', 'modify-volume', 'completed', null],
      ['vol-0aaaabbbbccccdddd', 'delete-volume', 'completed', null],
    ]);
  });

  it('AWS Compute Optimizer: the three Get*Recommendations responses and the EBS and EC2 export CSVs', async () => {
    const dir = tempDir('import-co');
    const { reports, input } = await importAll(dir, 'compute-optimizer', [
      ['co-get-ec2-instance-recommendations.json'],
      ['co-get-ebs-volume-recommendations.json'],
      ['co-get-idle-recommendations.json'],
      ['co-export-ebs-volume.csv'],
      ['co-export-ec2-instance.csv'],
    ]);
    expect(reports.map((r) => [r.counts.recommendations, r.counts.skippedByCode])).toEqual([
      [1, {}],
      [1, {}],
      [2, { 'analyzer-error': 1 }],
      [2, { 'no-saving': 1 }],
      [1, { 'no-saving': 2, 'unsupported-action': 1, 'analyzer-error': 1 }],
    ]);
    const report = await runAll(dir, input);
    expect(report.summary).toMatchObject({ received: 7, rejected: 0, duplicates: 1 }); // the export's rightsize is the API's again
    expect(statusOf(report).every(([, , status]) => status === 'completed')).toBe(true);
    expect(statusOf(report).map(([id, action]) => `${id} ${action}`)).toEqual([
      'i-0a1b2c3d4e5f60789 rightsize',
      'i-0fedcba9876543210 stop-idle',
      'vol-0123456789abcdef0 modify-volume',
      'vol-0123456789abcdef1 modify-volume',
      'vol-0123456789abcdef3 modify-volume',
      'vol-0aaaabbbbccccdddd delete-volume',
    ]);
  });

  it('AWS Trusted Advisor: the three cost checks, the Elastic IP found by its address, imported and run with --run', async () => {
    const dir = tempDir('import-ta');
    const { reports, input } = await importAll(dir, 'trusted-advisor', [
      ['ta-low-utilization-ec2.json', '--account', ACCOUNT],
      ['ta-unassociated-eip.json', '--account', ACCOUNT, '--addresses', `${F}/ec2-describe-addresses.json`],
      ['ta-underutilized-ebs.json', '--account', ACCOUNT],
    ]);
    expect(reports.map((r) => [r.counts.recommendations, r.counts.skippedByCode])).toEqual([
      [1, { suppressed: 1 }],
      [1, {}],
      [1, { 'missing-field': 1 }],
    ]);
    const report = await runAll(dir, input);
    expect(statusOf(report)).toEqual([
      ['eipalloc-0123456789abcdef0', 'release-address', 'completed', null],
      ['i-0fedcba9876543210', 'stop-idle', 'completed', null],
      ['vol-0aaaabbbbcccc0001', 'delete-volume', 'completed', null],
    ]);

    // --run: the same import ingested straight into a store, with run's flags and report.
    const direct = await optex(['import', '--from', 'trusted-advisor', `${F}/ta-underutilized-ebs.json`, '--account', ACCOUNT, '--run', '--store', `sqlite:${join(tempDir('import-ta-run'), 'events.db')}`, '--cloud', FLEET, '--policy', 'test/fixtures/policy-auto.json', '--json']);
    expect(direct.code).toBe(0);
    const both = json<ImportJson & { run: Report }>(direct);
    expect(both.counts).toMatchObject({ recommendations: 1, skipped: 1 });
    expect(both.run.optimizations.map((o) => [o.resourceId, o.status])).toEqual([['vol-0aaaabbbbcccc0001', 'completed']]);
  });

  it("Cloud Custodian: resources.json with the policy's metadata.json (or --action), every resource run", async () => {
    const dir = tempDir('import-c7n');
    const { reports, input } = await importAll(dir, 'custodian', [
      ['c7n-ebs-unattached.resources.json', '--action', 'delete-volume'],
      ['c7n-eip-unassociated.resources.json', '--action', 'release', '--account', ACCOUNT],
      ['c7n-ebs-gp2-to-gp3.resources.json'],
      ['c7n-ec2-idle-stop.resources.json'],
    ]);
    expect(reports.map((r) => [r.counts.recommendations, r.counts.skippedByCode])).toEqual([
      [1, {}],
      [1, {}],
      [1, { 'missing-field': 1 }],
      [1, {}],
    ]);
    const report = await runAll(dir, input);
    expect(statusOf(report)).toEqual([
      ['eipalloc-0123456789abcdef0', 'release-address', 'completed', null],
      ['i-0fedcba9876543210', 'stop-idle', 'completed', null],
      ['vol-0123456789abcdef1', 'modify-volume', 'completed', null],
      ['vol-0aaaabbbbccccdddd', 'delete-volume', 'completed', null],
    ]);
  });

  it('prints counts per outcome and every skip with its item without --json', async () => {
    const result = await optex(['import', '--from', 'coh', `${F}/coh-list-recommendations.json`, '--wide']); // every cell whole
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('10 items: 3 recommendations, 7 skipped, 0 rejected by the intake');
    expect(result.stdout).toContain('skipped unsupported-action: 3');
    expect(result.stdout).toMatch(/autoScalingGroupName\/web-asg\s+unsupported-action\s+actionType: ScaleIn is not an action optex executes/);
  });

  it.each([
    [['import', `${F}/coh-list-recommendations.json`], /^optex: --from: required, one of coh, compute-optimizer, trusted-advisor, custodian\n$/],
    [['import', '--from', 'cur', `${F}/coh-list-recommendations.json`], /--from.*invalid.*Allowed choices are coh, compute-optimizer, trusted-advisor, custodian/],
    [['import', '--from', 'coh', `${F}/missing.json`], /^optex: cannot read input test\/fixtures\/analyzers\/missing.json: no such file\n$/],
    [['import', '--from', 'coh', `${F}/c7n-ec2-idle-stop.resources.json`], /^optex: .*: not an AWS Cost Optimization Hub document: it looks like Cloud Custodian \(--from custodian\)\n$/],
    [['import', '--from', 'trusted-advisor', 'test/fixtures/recommendations.ndjson'], /^optex: unreadable input .*: not JSON/],
    [['import', '--from', 'custodian', `${F}/c7n-ebs-unattached.resources.json`], /^optex: .*policy\.actions: the policy ebs-unattached has none .*--action/],
    [['import', '--from', 'coh', `${F}/coh-list-recommendations.json`, '--submit'], /^optex: --submit needs --bus kafka:\/\/HOST:PORT/],
  ])('exits 2 with a one-line error for %j', async (args, message) => {
    const result = await optex(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});
