import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, json, optex, tempDir, ROOT } from './support/cli';

jest.setTimeout(180_000);

interface Report {
  summary: { byStatus: Record<string, number>; received: number; rejected: number; realizedMonthlySavings: number; totalExecutions: number };
  optimizations: { recommendationId: string; status: string; risk: string; approval: string; actualMonthlySavings: number | null }[];
  rejected: { index: number; errors: string[] }[];
}

beforeAll(() => ensureBuilt());

/** The widest line of a text output, in characters (what a terminal shows of it). */
const widest = (text: string): number => Math.max(...text.split('\n').map((line) => Array.from(line).length));

// The outcomes examples/README.md documents, so the examples never rot.
describe('examples/', () => {
  it('default policy: 8 completed, 2 failed pre-validation, 15 awaiting approval; 746.21 USD/month realized (1 unpriced)', async () => {
    const store = `sqlite:${join(tempDir('ex'), 'events.db')}`;
    const report = json<Report>(await optex(['run', 'examples/recommendations.json', '--store', store, '--json']));
    expect(report.summary.received).toBe(25);
    expect(report.summary.byStatus).toEqual({ completed: 8, failed: 2, 'awaiting-approval': 15 });
    // 5 + 15 + 388 + 20 + 105.12 + 87.53 + 125.56 (the eu-west-1 RI: (0.214 − 0.128) × 730 × 2, by eu-west-1's own m5.xlarge)
    // = 746.21; co-ebs-2026-11-0005 stays unpriced (eu-west-1 has no gp3 throughput figure).
    expect(report.summary.realizedMonthlySavings).toBe(746.21);
    expect(report.summary.totalExecutions).toBe(10);
  });

  it('examples/policy.json: 10 completed, 2 rolled back, 1 rollback-failed, 3 failed, 9 awaiting; 500.03 realized; the untagged stop-idle of a production instance is CRITICAL, not auto-approved; a change the book prices above the limit waits', async () => {
    const store = `sqlite:${join(tempDir('ex'), 'events.db')}`;
    const report = json<Report>(await optex(['run', 'examples/recommendations.json', '--store', store, '--policy', 'examples/policy.json', '--json']));
    expect(report.summary.byStatus).toEqual({ completed: 10, 'rolled-back': 2, 'rollback-failed': 1, failed: 3, 'awaiting-approval': 9 });
    // the default's 746.21 − 388 (co-ebs-2026-11-0003, below) + 11 (finops-ebs-gp3-0007) + 70.08 (co-ec2-2026-11-0001)
    // + 60.74 (custodian-ec2-idle-0001) = 500.03
    expect(report.summary.realizedMonthlySavings).toBe(500.03);
    const statusOf = (id: string) => report.optimizations.find((o) => o.recommendationId === id)?.status;
    // Estimated at 18 USD/month, but the io1 → gp3 plan saves 388.00 by the book: above policy.json's 200, a person decides.
    expect(report.optimizations.find((o) => o.recommendationId === 'co-ebs-2026-11-0003')).toMatchObject({ risk: 'LOW', approval: 'pending', status: 'awaiting-approval' });
    // Sent without tags; the live instance is tagged env=production, criticality=critical (examples/fleet.json).
    expect(report.optimizations.find((o) => o.recommendationId === 'custodian-ec2-idle-0003')).toMatchObject({ risk: 'CRITICAL', approval: 'pending', status: 'awaiting-approval' });
    expect(statusOf('co-ec2-2026-11-0002')).toBe('rolled-back');
    expect(statusOf('co-ec2-2026-11-0006')).toBe('rollback-failed');
  });

  it('the NDJSON file with errors: bad records are reported by field, the good ones go on', async () => {
    const report = json<Report>(await optex(['run', 'examples/recommendations-with-errors.ndjson', '--store', 'memory:', '--json']));
    expect(report.summary.rejected).toBe(2);
    expect(report.rejected.every((r) => r.errors.length > 0 && r.errors.every((e) => /^[\w.[\]()]+: /.test(e)))).toBe(true);
    expect(report.optimizations).toHaveLength(4);
  });

  it('npm start prints the summary table and exits 0', async () => {
    const result = await new Promise<{ code: number | null; stdout: string }>((resolvePromise) => {
      const child = spawn('npm', ['start', '--silent'], { cwd: ROOT, env: { ...process.env, OPTEX_LOG_LEVEL: 'error' } });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('close', (code) => resolvePromise({ code, stdout }));
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/OPTIMIZATION\s+RESOURCE\s+ACTION\s+RISK\s+STATUS\s+EST\/MO\s+ACTUAL\/MO/);
    expect(widest(result.stdout)).toBeLessThanOrEqual(120);
    expect(result.stdout).toMatch(/Received 25 recommendations/);
    expect(result.stdout).toMatch(/success rate 80\.0 %/);
    expect(result.stdout).toMatch(/realized \$746\.21/);
  });
});

describe('text output of the examples fits 120 columns (--wide for every column)', () => {
  it('run, list, history, replay, fleet: every table fits 120 columns and says so; --wide prints every column whole', async () => {
    const store = `sqlite:${join(tempDir('ex'), 'events.db')}`;
    const cloud = 'simulated:examples/fleet.json';
    const run = await optex(['run', 'examples/recommendations.json', '--store', store, '--policy', 'examples/policy.json']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\(fitted to 120 columns: RECOMMENDATION, APPROVAL, ACC% left out; --wide prints every column whole\)$/m);
    expect(run.stdout).toMatch(/^ {4}note: validation failed: /m);
    const outputs = [
      run,
      await optex(['list', '--store', store]),
      await optex(['history', 'co-ec2-2026-11-0006', '--store', store]),
      await optex(['replay', '--store', store]),
      await optex(['fleet', '--store', store, '--cloud', cloud]),
    ];
    for (const output of outputs) {
      expect(output.code).toBe(0);
      expect(widest(output.stdout)).toBeLessThanOrEqual(120);
    }
    const wide = await optex(['list', '--store', store, '--wide']);
    expect(wide.stdout).toMatch(/^OPTIMIZATION +RECOMMENDATION +RESOURCE +ACTION +RISK +APPROVAL +STATUS +EST\/MO +ACTUAL\/MO +ACC% +NOTE$/m);
    expect(wide.stdout).not.toMatch(/fitted to 120 columns/);
    expect(widest(wide.stdout)).toBeGreaterThan(120);
    const history = await optex(['history', 'co-ec2-2026-11-0006', '--store', store, '--wide']);
    expect(widest(history.stdout)).toBeGreaterThan(120);
  });

  it('a re-run of the same recommendations (other bytes: all duplicates) averages over the optimizations it reports, not "$0.00"', async () => {
    const dir = tempDir('ex');
    const store = `sqlite:${join(dir, 'events.db')}`;
    await optex(['run', 'examples/recommendations.json', '--store', store, '--json']);
    const again = join(dir, 'again.json');
    writeFileSync(again, JSON.stringify(JSON.parse(readFileSync(join(ROOT, 'examples/recommendations.json'), 'utf8'))));
    const text = await optex(['run', again, '--store', store]);
    expect(text.stdout).toMatch(/^Received 25 recommendations: 0 accepted, 0 rejected, 25 duplicates; 25 optimizations reported\.$/m);
    expect(text.stdout).toMatch(/^Savings per month: estimated \$4448\.00 \(average \$177\.92 over 25 optimizations\),$/m);
    // 746.21 / 7 = 106.601…
    expect(text.stdout).toMatch(/^ {2}realized \$746\.21 \(average \$106\.60 over 7 completed and priced\), 1 completed unpriced \(left out\)\.$/m);
    const report = json<Report & { summary: { averageEstimatedMonthlySavings: number; averageRealizedMonthlySavings: number } }>(await optex(['run', again, '--store', store, '--json']));
    expect(report.summary).toMatchObject({ averageEstimatedMonthlySavings: 177.92, averageRealizedMonthlySavings: 106.6 });
  });
});

describe('examples/ in a dry run', () => {
  it('examples/policy.json --dry-run: a preview needs no approval and is no execution: 19 dry-run-completed, 6 failed (the two rightsizes whose start has an Unsupported fault among them)', async () => {
    const report = json<Report>(await optex(['run', 'examples/recommendations.json', '--store', 'memory:', '--policy', 'examples/policy.json', '--dry-run', '--json']));
    expect(report.summary.byStatus).toEqual({ 'dry-run-completed': 19, failed: 6 });
    expect(report.summary.totalExecutions).toBe(0);
    const statusOf = (id: string) => report.optimizations.find((o) => o.recommendationId === id)?.status;
    expect(statusOf('co-ec2-2026-11-0003')).toBe('failed');
    expect(statusOf('co-ec2-2026-11-0006')).toBe('failed');
    // transient faults (RequestLimitExceeded ×2 on a ModifyVolume) are absorbed by retries in a dry run too
    expect(statusOf('co-ebs-2026-11-0004')).toBe('dry-run-completed');
  });
});
