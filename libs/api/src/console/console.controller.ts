import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Controller, Get, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import {
  DomainError,
  SAVINGS_GROUPINGS,
  approvalQueueFor,
  authorize,
  batchProgress,
  foldOptimization,
  needingAnOperator,
  optimizationStream,
  parseStoredEvent,
  savingsBy,
  type OptimizationEvent,
  type Principal,
  type Role,
} from '@optex/domain';
import { authenticatedAs, recordApproval, recordDenial, type HumanDecision } from '@optex/approval';
import { waitingOf } from '@optex/runtime';
import { API_DEPS, type ApiDeps } from '../api.constants';
import { Public } from '../auth/access.guard';
import { CONSOLE_CSS, CONSOLE_JS, approvalsPage, batchesPage, operatorPage, savingsPage, signInPage, timelinePage } from './pages';

export const SESSION_COOKIE = 'optex_console';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

interface ConsoleRequest {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body?: Record<string, unknown>;
  readonly protocol?: string;
}
interface ConsoleResponse {
  status(code: number): ConsoleResponse;
  setHeader(name: string, value: string | string[]): void;
  type(type: string): ConsoleResponse;
  send(body: string | Buffer): void;
  redirect(status: number, url: string): void;
}
type Session = { readonly principal: Principal; readonly csrf: string };

const header = (req: ConsoleRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};
/** The session's token from its cookie; a value that is not percent-encoding (`%ZZ`) is no session. */
export const cookieOf = (req: ConsoleRequest): string | undefined => {
  const raw = (header(req, 'cookie') ?? '')
    .split(';')
    .map((c) => c.trim().split('='))
    .find(([k]) => k === SESSION_COOKIE)?.[1];
  try {
    return raw === undefined ? undefined : decodeURIComponent(raw);
  } catch {
    return undefined;
  }
};
const field = (req: ConsoleRequest, name: string): string => (typeof req.body?.[name] === 'string' ? (req.body[name] as string) : '');

/**
 * The web console: server-rendered pages over the same read model, queries and decisions as the API. The token given on
 * the sign-in form is kept in an HttpOnly, SameSite=Strict cookie and authenticated on every request with the API's
 * authenticator and the domain's `authorize`; a page without a session redirects to sign-in, a POST answers 401. Every
 * form carries a CSRF token (an HMAC of the session under a per-process key) and a cross-origin POST is refused.
 */
@ApiExcludeController()
@Controller('console')
export class ConsoleController {
  private readonly csrfKey = randomBytes(32);
  /** chart.js's own UMD build, from node_modules (its exports map names only the module entry, next to which it lies). */
  private readonly chartJs = readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.js'));

  constructor(@Inject(API_DEPS) private readonly deps: ApiDeps) {}

  @Get('assets/chart.umd.js')
  @Public()
  chart(@Res() res: ConsoleResponse) {
    res.setHeader('cache-control', 'public, max-age=3600');
    res.type('application/javascript').send(this.chartJs);
  }

  @Get('assets/console.js')
  @Public()
  script(@Res() res: ConsoleResponse) {
    res.type('application/javascript').send(CONSOLE_JS);
  }

  @Get('assets/console.css')
  @Public()
  css(@Res() res: ConsoleResponse) {
    res.type('text/css').send(CONSOLE_CSS);
  }

  @Get()
  @Public()
  home(@Res() res: ConsoleResponse) {
    res.redirect(303, '/console/approvals');
  }

  @Get('sign-in')
  @Public()
  signInForm(@Res() res: ConsoleResponse) {
    this.html(res, 200, signInPage());
  }

  @Post('sign-in')
  @Public()
  async signIn(@Req() req: ConsoleRequest, @Res() res: ConsoleResponse) {
    if (!this.sameOrigin(req)) return this.html(res, 403, signInPage('Refused: the form was posted from another site.'));
    const token = field(req, 'token').trim();
    const authentication = await this.deps.authenticator.authenticate(`Bearer ${token}`);
    if (!authentication.ok) return this.html(res, 401, signInPage(`Not signed in: ${authentication.reason}`));
    const secure = req.protocol === 'https' || header(req, 'x-forwarded-proto') === 'https';
    res.setHeader('set-cookie', `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/console; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`);
    res.redirect(303, '/console/approvals');
  }

  @Post('sign-out')
  @Public()
  async signOut(@Req() req: ConsoleRequest, @Res() res: ConsoleResponse) {
    if (!(await this.session(req, res, 'reader', 'post'))) return;
    res.setHeader('set-cookie', `${SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0`);
    res.redirect(303, '/console/sign-in');
  }

  @Get('approvals')
  @Public()
  async approvals(@Req() req: ConsoleRequest, @Res() res: ConsoleResponse) {
    const session = await this.session(req, res, 'approver', 'page');
    if (!session) return;
    await this.deps.readModel.sync();
    const notice = this.noticeOf(req);
    this.html(res, 200, approvalsPage(approvalQueueFor(this.deps.readModel.projection.all(), session.principal, this.deps.now()), session, notice));
  }

  @Post('optimizations/:id/approve')
  @Public()
  approve(@Param('id') id: string, @Req() req: ConsoleRequest, @Res() res: ConsoleResponse) {
    // The form names the request the page showed: one asked again since (its plan changed) is refused, not approved unseen.
    const requestedAt = field(req, 'requestedAt');
    return this.decide(id, req, res, (decision) => recordApproval(this.deps.store, { ...decision, ...(field(req, 'reason').trim() ? { reason: field(req, 'reason') } : {}), ...(requestedAt ? { requestedAt } : {}) }));
  }

  @Post('optimizations/:id/deny')
  @Public()
  deny(@Param('id') id: string, @Req() req: ConsoleRequest, @Res() res: ConsoleResponse) {
    return this.decide(id, req, res, (decision) => recordDenial(this.deps.store, { ...decision, reason: field(req, 'reason') }));
  }

  @Get('optimizations/:id')
  @Public()
  async timeline(@Param('id') id: string, @Req() req: ConsoleRequest, @Res() res: ConsoleResponse) {
    const session = await this.session(req, res, 'reader', 'page');
    if (!session) return;
    const stored = UUID.test(id) ? await this.deps.store.readStream(optimizationStream(id.toLowerCase())) : [];
    const state = foldOptimization(stored.map((e) => parseStoredEvent(e) as OptimizationEvent));
    if (state.status === 'initial') return this.html(res, 404, `<!doctype html><html lang="en"><title>Not found</title><h1>No optimization ${id.replace(/[^0-9a-f-]/gi, '')}</h1></html>`);
    await this.deps.readModel.sync();
    const waiting = await waitingOf(this.deps.store, state, { now: this.deps.now(), policy: this.deps.policy, projection: this.deps.readModel.projection });
    this.html(res, 200, timelinePage(state, stored.map((e) => ({ type: e.type, recordedAt: e.recordedAt.toISOString(), data: e.data })), session, waiting));
  }

  @Get('operator')
  @Public()
  async operator(@Req() req: ConsoleRequest, @Res() res: ConsoleResponse) {
    const session = await this.session(req, res, 'reader', 'page');
    if (!session) return;
    await this.deps.readModel.sync();
    this.html(res, 200, operatorPage(needingAnOperator(this.deps.readModel.projection.all()), session));
  }

  @Get('batches')
  @Public()
  async batches(@Req() req: ConsoleRequest, @Res() res: ConsoleResponse) {
    const session = await this.session(req, res, 'reader', 'page');
    if (!session) return;
    await this.deps.readModel.sync();
    this.html(res, 200, batchesPage(batchProgress(this.deps.readModel.projection.all()), session));
  }

  @Get('savings')
  @Public()
  async savings(@Req() req: ConsoleRequest, @Res() res: ConsoleResponse) {
    const session = await this.session(req, res, 'reader', 'page');
    if (!session) return;
    await this.deps.readModel.sync();
    const states = this.deps.readModel.projection.all();
    const data = { account: savingsBy(states, 'account'), action: savingsBy(states, 'action'), month: savingsBy(states, 'month') } satisfies Record<(typeof SAVINGS_GROUPINGS)[number], unknown>;
    this.html(res, 200, savingsPage(data, session));
  }

  /**
   * A decision under the signed-in principal (never a name from the form), on the optimization the id names in any
   * letter case; the outcome is shown on the queue. The domain checks the reason (its length too, as for the API).
   */
  private async decide(id: string, req: ConsoleRequest, res: ConsoleResponse, record: (decision: HumanDecision) => Promise<unknown>) {
    const session = await this.session(req, res, 'approver', 'post');
    if (!session) return;
    if (!UUID.test(id)) return this.html(res, 404, 'no such optimization');
    let notice: string;
    try {
      await record({ optimizationId: id.toLowerCase(), by: session.principal.identity, now: this.deps.now(), authenticated: authenticatedAs(session.principal, 'console'), rosterInForce: this.deps.policy.approval });
      notice = `ok:Recorded as ${session.principal.identity}.`;
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      notice = `error:${error.code}: ${error.message}`;
    }
    res.redirect(303, `/console/approvals?notice=${encodeURIComponent(notice)}&sig=${this.noticeSignature(notice)}`);
  }

  /** An HMAC of a notice under this process's key: the queue shows only notices a decision of this process wrote. */
  private noticeSignature(notice: string): string {
    return createHmac('sha256', this.csrfKey).update(`notice:${notice}`).digest('base64url');
  }

  /** The notice a decision redirected with, if its signature holds (a link someone else wrote shows nothing). */
  private noticeOf(req: ConsoleRequest & { query?: Record<string, unknown> }): { ok: boolean; text: string } | undefined {
    const raw = typeof req.query?.['notice'] === 'string' ? (req.query['notice'] as string) : undefined;
    const signature = typeof req.query?.['sig'] === 'string' ? Buffer.from(req.query['sig'] as string) : undefined;
    if (!raw || !signature) return undefined;
    const expected = Buffer.from(this.noticeSignature(raw));
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return undefined;
    return { ok: raw.startsWith('ok:'), text: raw.replace(/^(ok|error):/, '').slice(0, 500) };
  }

  /**
   * The signed-in principal holding `role`, or undefined after answering: a page without a valid session redirects to
   * sign-in, a POST answers 401; the wrong role answers 403; a POST without the session's CSRF token, or from another
   * origin, answers 403.
   */
  private async session(req: ConsoleRequest, res: ConsoleResponse, role: Role, kind: 'page' | 'post'): Promise<Session | undefined> {
    const token = cookieOf(req);
    const authentication = token ? await this.deps.authenticator.authenticate(`Bearer ${token}`) : undefined;
    const decision = authorize(authentication?.ok ? authentication.principal : undefined, role, authentication && !authentication.ok ? authentication.reason : 'not signed in');
    if (!decision.allowed) {
      if (decision.status === 401 && kind === 'page') {
        res.redirect(303, '/console/sign-in');
        return undefined;
      }
      this.html(res, decision.status, signInPage(decision.reason));
      return undefined;
    }
    const csrf = createHmac('sha256', this.csrfKey).update(token!).digest('base64url');
    if (kind === 'post') {
      const given = Buffer.from(field(req, 'csrf'));
      const expected = Buffer.from(csrf);
      if (!this.sameOrigin(req) || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        this.html(res, 403, signInPage('Refused: the form is stale or was posted from another site (CSRF check).'));
        return undefined;
      }
    }
    return { principal: decision.principal, csrf };
  }

  /** A POST with an Origin header must come from this host (`Origin: null`, an opaque origin, is refused). */
  private sameOrigin(req: ConsoleRequest): boolean {
    const origin = header(req, 'origin');
    if (!origin) return true;
    try {
      return new URL(origin).host === header(req, 'host');
    } catch {
      return false;
    }
  }

  private html(res: ConsoleResponse, status: number, body: string): void {
    res.setHeader('content-security-policy', CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    // not no-referrer: under it a browser posts forms with `Origin: null`, which sameOrigin rightly refuses
    res.setHeader('referrer-policy', 'same-origin');
    res.setHeader('cache-control', 'no-store');
    res.status(status).type('text/html; charset=utf-8').send(body);
  }
}
