import { BadRequestException, Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiProperty, ApiPropertyOptional, ApiQuery, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import {
  MAX_STATED_TEXT,
  fieldErrorsOf,
  foldOptimization,
  matchesFilter,
  parseInstant,
  optimizationStateAt,
  optimizationStream,
  parseOptimizationFilter,
  parseStoredEvent,
  viewOf,
  type KnownOptimizationState,
  type OptimizationEvent,
  type OptimizationState,
  type Principal,
} from '@optex/domain';
import { authenticatedAs, recordApproval, recordDenial, recordOperatorAction, type HumanDecision, type OperatorAction } from '@optex/approval';
import { API_DEPS, type ApiDeps, type AuthenticatedRequest } from './api.constants';
import { Requires } from './auth/access.guard';
import { badRequest } from './http-errors';
import { AMBIGUOUS_OR_BAD, NOT_FOUND, NOT_JSON, Refuses, Responds } from './openapi-schemas';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_PAGE = 500;

export class DecisionBody {
  @ApiPropertyOptional({ description: 'Why (required to deny, cancel and retry a rollback; optional to approve).', maxLength: MAX_STATED_TEXT })
  reason?: string;
}

export class ApproveBody extends DecisionBody {
  @ApiPropertyOptional({
    description:
      'When the approval request you looked at was asked (`state.approval.requestedAt` of `GET …/{id}`). Given, the approval counts only for that request: one asked again since (its plan changed) is refused with 409 `REQUEST_CHANGED`.',
    format: 'date-time',
  })
  requestedAt?: string;
}

export class ResolveBody {
  @ApiProperty({ description: 'What the operator found or did.', maxLength: MAX_STATED_TEXT })
  note!: string;
}

const reasonBody = z.strictObject({ reason: z.string().max(MAX_STATED_TEXT).optional() });
const approveBody = reasonBody.extend({ requestedAt: z.iso.datetime({ offset: true }).optional() });
const noteBody = z.strictObject({ note: z.string().max(MAX_STATED_TEXT).optional() });

/** A query parameter holding a whole number ≥ 0 in decimal digits (`1e2`, `0x10` and an empty value are not). */
const wholeNumber = () => z.string().regex(/^\d{1,9}$/, { error: (issue) => `must be a whole number ≥ 0 in digits, got ${JSON.stringify(issue.input)}` }).transform(Number);

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {}, { reportInput: true });
  if (!parsed.success) throw new BadRequestException(badRequest(fieldErrorsOf(parsed.error.issues)));
  return parsed.data;
}

/** One row of the list: the projection's view plus what the filters look at. */
export function rowOf(state: KnownOptimizationState) {
  return {
    ...viewOf(state),
    accountId: state.recommendation.accountId,
    region: state.recommendation.region,
    authority: state.approval.authority ?? null,
    receivedAt: state.receivedAt,
    expiresAt: state.status === 'awaiting-approval' ? (state.approval.expiresAt ?? null) : null,
  };
}

@ApiTags('optimizations')
@Controller('api/v1/optimizations')
export class OptimizationsController {
  constructor(@Inject(API_DEPS) private readonly deps: ApiDeps) {}

  @Get()
  @Requires('reader')
  @ApiOperation({ summary: 'List optimizations, filtered', description: 'Lists are comma-separated; a bad parameter is answered 400 naming it. Sorted by received time, newest first.' })
  @ApiQuery({ name: 'status', required: false, description: 'e.g. awaiting-approval,rollback-failed' })
  @ApiQuery({ name: 'risk', required: false, description: 'LOW, MEDIUM, HIGH, CRITICAL' })
  @ApiQuery({ name: 'authority', required: false, description: 'team-lead, finops-manager, change-board' })
  @ApiQuery({ name: 'account', required: false, description: '12-digit account ids' })
  @ApiQuery({ name: 'region', required: false })
  @ApiQuery({ name: 'action', required: false, description: 'rightsize, stop-idle, modify-volume, …' })
  @ApiQuery({ name: 'receivedFrom', required: false, description: 'ISO-8601 time (inclusive)' })
  @ApiQuery({ name: 'receivedBefore', required: false, description: 'ISO-8601 time (exclusive)' })
  @ApiQuery({ name: 'limit', required: false, description: `at most ${MAX_PAGE}, default 100` })
  @ApiQuery({ name: 'offset', required: false })
  @Responds(200, 'OptimizationPage', 'The page asked for, and how many match in all.')
  @Refuses([400, 'A bad parameter; `errors` names every one.'])
  async list(@Query() query: Record<string, string>) {
    const { limit: rawLimit, offset: rawOffset, ...criteria } = query;
    const page = z
      .strictObject({ limit: wholeNumber().pipe(z.number().min(1).max(MAX_PAGE)).default(100), offset: wholeNumber().default(0) })
      .safeParse({ ...(rawLimit !== undefined ? { limit: rawLimit } : {}), ...(rawOffset !== undefined ? { offset: rawOffset } : {}) }, { reportInput: true });
    const filter = parseOptimizationFilter(criteria);
    const errors = [...(filter.ok ? [] : filter.errors), ...(page.success ? [] : fieldErrorsOf(page.error.issues))];
    if (!filter.ok || !page.success) throw new BadRequestException(badRequest(errors));
    await this.deps.readModel.sync();
    const matching = this.deps.readModel.projection
      .all()
      .filter((s) => matchesFilter(s, filter.value))
      .sort((a, b) => b.receivedAt.localeCompare(a.receivedAt) || a.optimizationId.localeCompare(b.optimizationId));
    return { total: matching.length, items: matching.slice(page.data.offset, page.data.offset + page.data.limit).map(rowOf) };
  }

  @Get(':id')
  @Requires('reader')
  @ApiOperation({ summary: 'One optimization as recorded: recommendation, risk and its factors, the approval (authority, approvers so far, expiry), plan, rollback plan and outcome' })
  @ApiParam({ name: 'id', description: 'optimizationId, a unique prefix of it, or the recommendationId' })
  @Responds(200, 'Optimization', 'Its row and its whole state.')
  @Refuses(NOT_FOUND, [400, 'The id prefix matches more than one optimization.'])
  async show(@Param('id') id: string) {
    const state = await this.current(await this.idOf(id));
    return { view: rowOf(state), state };
  }

  @Get(':id/state')
  @Requires('reader')
  @ApiOperation({ summary: 'Time travel: the optimization as it was at an instant (its events recorded up to then, folded; as `optex state ID --at`)' })
  @ApiParam({ name: 'id' })
  @ApiQuery({ name: 'at', required: true, description: 'ISO-8601 instant' })
  @Responds(200, 'OptimizationAt', 'The state at the instant, and how many of its events were recorded up to then and after.')
  @Refuses(NOT_FOUND, [400, '`at` is not an instant with a zone, or the id prefix matches more than one optimization.'])
  async stateAt(@Param('id') id: string, @Query('at') at: string | undefined) {
    const instant = typeof at === 'string' ? parseInstant(at) : undefined;
    if (!instant) throw new BadRequestException({ statusCode: 400, error: 'Bad Request', reason: `at: expected an ISO-8601 instant with a zone (e.g. 2026-11-01T00:00:00Z), got ${JSON.stringify(at ?? '')}` });
    const optimizationId = await this.idOf(id);
    const events = await this.deps.store.readStream(optimizationStream(optimizationId));
    if (events.length === 0) throw new NotFoundException({ statusCode: 404, error: 'Not Found', reason: `no optimization ${id}` });
    const { state, applied, after, asOf } = optimizationStateAt(events, instant);
    return { optimizationId, at: instant.toISOString(), asOf, eventsApplied: applied, eventsAfter: after, state, view: state.status === 'initial' ? null : rowOf(state) };
  }

  @Get(':id/history')
  @Requires('reader')
  @ApiOperation({ summary: 'The optimization’s events in stream order (as `optex history --json`)' })
  @ApiParam({ name: 'id' })
  @Responds(200, 'History', 'Every event of its stream, oldest first.')
  @Refuses(NOT_FOUND, [400, 'The id prefix matches more than one optimization.'])
  async history(@Param('id') id: string) {
    const optimizationId = await this.idOf(id);
    const events = await this.deps.store.readStream(optimizationStream(optimizationId));
    if (events.length === 0) throw new NotFoundException({ statusCode: 404, error: 'Not Found', reason: `no optimization ${id}` });
    return { optimizationId, events: events.map((e) => ({ type: e.type, data: e.data, recordedAt: e.recordedAt.toISOString(), revision: Number(e.revision), id: e.id, metadata: e.metadata })) };
  }

  @Post(':id/approve')
  @HttpCode(200)
  @Requires('approver')
  @ApiOperation({ summary: 'Approve as the authenticated principal', description: 'The decider checks the authority the request names, the roster, four eyes (distinct approvers) for CRITICAL; refused → 403/409, nothing appended.' })
  @ApiParam({ name: 'id' })
  @ApiBody({ type: ApproveBody, required: false })
  @Responds(200, 'Decision', 'Recorded; the optimization as it is now.')
  @Refuses(NOT_FOUND, AMBIGUOUS_OR_BAD, [409, 'Not awaiting approval (e.g. already denied, expired or executed), or (`REQUEST_CHANGED`) asked again since the `requestedAt` given; nothing was appended.'], NOT_JSON)
  async approve(@Param('id') id: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const { reason, requestedAt } = parseBody(approveBody, body);
    return this.decide(id, request, (decision) =>
      recordApproval(this.deps.store, { ...decision, ...(reason?.trim() ? { reason } : {}), ...(requestedAt ? { requestedAt: new Date(requestedAt).toISOString() } : {}) }),
    );
  }

  @Post(':id/deny')
  @HttpCode(200)
  @Requires('approver')
  @ApiOperation({ summary: 'Deny as the authenticated principal (reason required)' })
  @ApiParam({ name: 'id' })
  @ApiBody({ type: DecisionBody })
  @Responds(200, 'Decision', 'Recorded; the optimization as it is now.')
  @Refuses(NOT_FOUND, AMBIGUOUS_OR_BAD, [409, 'Not awaiting approval; nothing was appended.'], NOT_JSON)
  async deny(@Param('id') id: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const { reason } = parseBody(reasonBody, body);
    return this.decide(id, request, (decision) => recordDenial(this.deps.store, { ...decision, reason: reason ?? '' }));
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @Requires('operator')
  @ApiOperation({ summary: 'Cancel one that has not started executing (reason required)' })
  @ApiParam({ name: 'id' })
  @ApiBody({ type: DecisionBody })
  @Responds(200, 'Decision', 'Recorded; the optimization as it is now.')
  @Refuses(NOT_FOUND, AMBIGUOUS_OR_BAD, [409, 'It has started executing, or has ended; nothing was appended.'], NOT_JSON)
  cancel(@Param('id') id: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    return this.operate('cancel', id, parseBody(reasonBody, body).reason, request);
  }

  @Post(':id/retry-rollback')
  @HttpCode(200)
  @Requires('operator')
  @ApiOperation({ summary: 'Send a rollback-failed optimization back to rolling-back (reason required)' })
  @ApiParam({ name: 'id' })
  @ApiBody({ type: DecisionBody })
  @Responds(200, 'Decision', 'Recorded; the optimization as it is now.')
  @Refuses(NOT_FOUND, AMBIGUOUS_OR_BAD, [409, 'It is not rollback-failed; nothing was appended.'], NOT_JSON)
  retryRollback(@Param('id') id: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    return this.operate('retry-rollback', id, parseBody(reasonBody, body).reason, request);
  }

  @Post(':id/resolve')
  @HttpCode(200)
  @Requires('operator')
  @ApiOperation({ summary: 'Close a rollback-failed or reconciliation-needed optimization after checking it by hand (note required)' })
  @ApiParam({ name: 'id' })
  @ApiBody({ type: ResolveBody })
  @Responds(200, 'Decision', 'Recorded; the optimization as it is now.')
  @Refuses(NOT_FOUND, AMBIGUOUS_OR_BAD, [409, 'It is neither rollback-failed nor reconciliation-needed; nothing was appended.'], NOT_JSON)
  resolve(@Param('id') id: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    return this.operate('resolve', id, parseBody(noteBody, body).note, request);
  }

  private operate(action: OperatorAction, id: string, text: string | undefined, request: AuthenticatedRequest) {
    return this.decide(id, request, (decision) => recordOperatorAction(this.deps.store, action, { ...decision, reason: text ?? '' }));
  }

  /**
   * Records a decision under the authenticated principal's identity (never a name from the body), judged against the roster
   * of the policy this API runs with as well as the one recorded on the request, and answers the new state.
   */
  private async decide(id: string, request: AuthenticatedRequest, record: (decision: HumanDecision) => Promise<OptimizationState>) {
    const principal = request.principal as Principal;
    const optimizationId = await this.idOf(id);
    const state = await record({ optimizationId, by: principal.identity, now: this.deps.now(), authenticated: authenticatedAs(principal, 'api'), rosterInForce: this.deps.policy.approval });
    if (state.status === 'initial') throw new NotFoundException({ statusCode: 404, error: 'Not Found', reason: `no optimization ${id}` });
    return { optimizationId, by: principal.identity, status: state.status, approvers: state.approval.approvers, view: rowOf(state) };
  }

  private async current(optimizationId: string): Promise<KnownOptimizationState> {
    const events = await this.deps.store.readStream(optimizationStream(optimizationId));
    const state = foldOptimization(events.map((e) => parseStoredEvent(e) as OptimizationEvent));
    if (state.status === 'initial') throw new NotFoundException({ statusCode: 404, error: 'Not Found', reason: `no optimization ${optimizationId}` });
    return state;
  }

  /** A full id as it is; a unique prefix or a recommendation id through the read model. */
  private async idOf(id: string): Promise<string> {
    if (UUID.test(id)) return id.toLowerCase();
    await this.deps.readModel.sync();
    const key = id.toLowerCase();
    const matches = this.deps.readModel.projection.all().filter((s) => s.optimizationId.startsWith(key) || s.recommendation.recommendationId === id);
    if (matches.length === 1) return matches[0]!.optimizationId;
    // A recommendation id names the real optimization and its dry-run previews: the real one is meant (as in the CLI).
    const real = matches.filter((s) => !s.dryRun);
    if (real.length === 1 && matches.every((s) => s.recommendation.recommendationId === id)) return real[0]!.optimizationId;
    if (matches.length === 0) throw new NotFoundException({ statusCode: 404, error: 'Not Found', reason: `no optimization ${id}` });
    throw new BadRequestException({ statusCode: 400, error: 'Bad Request', reason: `${id} is ambiguous: it matches ${matches.length} optimizations` });
  }
}
