import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { CLI, ROOT, ensureBuilt, json, optex, tempDir } from './support/cli';
import { browserAvailable, launchChromium } from './support/browser';

// Issue 9, "Done means": the console in a real browser (Debian's chromium driven by playwright-core) against `optex api`
// over a store `optex run` prepared. Sign in with a token of a test identity provider, see the queue, open a plan,
// approve, run `optex resume` and watch the optimization complete in the timeline. Screenshots go to tmp/screenshots/.

jest.setTimeout(90_000);

const ISSUER = 'https://idp.browser-test.example';
const AUDIENCE = 'optex-console';
const FLEET = 'simulated:test/fixtures/fleet.json';
const POLICY = 'test/fixtures/policy-roster.json';
const SHOTS = join(ROOT, 'tmp/screenshots');

interface Report {
  optimizations: { optimizationId: string; recommendationId: string; status: string; risk: string }[];
}

/** Starts `optex api --port 0` and resolves with its URL once it listens (read from its stderr). */
function startApi(args: readonly string[]): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'api', ...args, '--host', '127.0.0.1', '--port', '0'], { cwd: ROOT, env: { ...process.env, OPTEX_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`optex api did not start:\n${stderr}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]! });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`optex api exited ${code}:\n${stderr}`));
    });
  });
}

const stop = (child: ChildProcess | undefined): Promise<void> =>
  new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

(browserAvailable() ? describe : describe.skip)('the console in a real browser (chromium + playwright-core)', () => {
  const dir = tempDir('browser');
  const store = `sqlite:${join(dir, 'events.db')}`;
  let api: { child: ChildProcess; url: string } | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let first: Report;
  let signToken: (claims: Record<string, unknown>) => Promise<string>;

  beforeAll(async () => {
    ensureBuilt();
    mkdirSync(SHOTS, { recursive: true });
    const run = await optex(['run', 'test/fixtures/recommendations.ndjson', '--store', store, '--cloud', FLEET, '--policy', POLICY, '--json']);
    expect(run.code).toBe(0);
    first = json<Report>(run);
    // The test identity provider: a key pair made for this run; the API gets only its public key set.
    const idp = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(idp.publicKey)), kid: 'browser-test', alg: 'ES256', use: 'sig' };
    const authFile = join(dir, 'auth.json');
    writeFileSync(authFile, JSON.stringify({ jwt: { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] }, clockToleranceSeconds: 5, algorithms: ['ES256'] } }));
    signToken = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'browser-test' }).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('10m').sign(idp.privateKey);
    api = await startApi(['--store', store, '--policy', POLICY, '--auth', authFile, '--notifications', 'off']);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    await stop(api?.child);
  });

  const byRec = (id: string) => first.optimizations.find((o) => o.recommendationId === id)!;

  it('an unsigned visitor is sent to the sign-in form; a token of another issuer is refused there', async () => {
    await page.goto(`${api!.url}/console/approvals`);
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    const stranger = await generateKeyPair('ES256');
    const forged = await new SignJWT({ sub: 'x', email: 'alice@acme.example' }).setProtectedHeader({ alg: 'ES256', kid: 'browser-test' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('10m').sign(stranger.privateKey);
    await page.getByLabel('Bearer token').fill(forged);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/signature/);
  });

  it('alice signs in with her IdP token, sees her queue, opens a plan, approves; resume completes it in the timeline', async () => {
    const target = byRec('e2e-rightsize-ok');
    expect(target).toMatchObject({ status: 'awaiting-approval', risk: 'MEDIUM' });

    await page.goto(`${api!.url}/console/sign-in`);
    await page.getByLabel('Bearer token').fill(await signToken({ sub: '00u-alice', email: 'alice@acme.example' }));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL('**/console/approvals');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Approvals waiting for alice@acme.example');
    await page.screenshot({ path: join(SHOTS, 'console-queue.png') }); // the README's docs/console.png is a copy of it

    const card = page.locator('article', { has: page.locator(`form[action="/console/optimizations/${target.optimizationId}/approve"]`) });
    await expect(card.count()).resolves.toBe(1);
    await expect(card.getByRole('heading', { level: 2 }).textContent()).resolves.toMatch(/m5\.xlarge.*m5\.large/);
    // open the plan: collapsed until the approver asks for it
    const plan = card.locator('details');
    await expect(plan.getAttribute('open')).resolves.toBeNull();
    await card.getByText('Plan and rollback').click();
    await expect(plan.getAttribute('open')).resolves.toBe('');
    await expect(plan.getByRole('heading', { name: 'Rollback' }).isVisible()).resolves.toBe(true);
    await card.screenshot({ path: join(SHOTS, 'console-plan.png') });

    await card.getByLabel('Reason (optional)').fill('checked in the browser test');
    await card.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL('**/console/approvals?notice=*');
    await expect(page.getByRole('status').textContent()).resolves.toContain('Recorded as alice@acme.example.');
    await expect(page.locator(`form[action="/console/optimizations/${target.optimizationId}/approve"]`).count()).resolves.toBe(0);

    await page.goto(`${api!.url}/console/optimizations/${target.optimizationId}`);
    await expect(page.locator('main > p strong').textContent()).resolves.toBe('approved');
    await page.screenshot({ path: join(SHOTS, 'console-timeline-approved.png'), fullPage: true });

    // the engine carries approved work on while the console is open; the timeline is reloaded until it shows the end
    const resumed = optex(['resume', '--store', store, '--cloud', FLEET, '--policy', POLICY, '--json']);
    let status = '';
    for (let i = 0; i < 120 && status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      await page.reload();
      status = (await page.locator('main > p strong').textContent()) ?? '';
    }
    const result = await resumed;
    expect(result.code).toBe(0);
    expect(status).toBe('completed');
    const events = await page.locator('ol.timeline > li > strong').allTextContents();
    expect(events.slice(0, 4)).toEqual(['OptimizationReceived', 'RiskAssessed', 'ApprovalRequested', 'ApprovalGranted']);
    expect(events).toContain('ExecutionStepCompleted');
    expect(events.at(-1)).toBe('ValidationPassed');
    await page.getByText('ApprovalGranted').locator('..').locator('summary').click();
    await expect(page.getByText('"by": "alice@acme.example"').isVisible()).resolves.toBe(true);
    await page.screenshot({ path: join(SHOTS, 'console-timeline-completed.png'), fullPage: true });
  });
});
