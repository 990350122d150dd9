import { BadRequestException, Body, Controller, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiProperty, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { MAX_STATED_TEXT, fieldErrorsOf, type Principal } from '@optex/domain';
import { executionControlState, recordBatchContinue, recordExecutionControl } from '@optex/approval';
import { API_DEPS, type ApiDeps, type AuthenticatedRequest } from './api.constants';
import { Requires } from './auth/access.guard';
import { badRequest } from './http-errors';
import { NOT_JSON, Refuses, Responds } from './openapi-schemas';

export class ControlBody {
  @ApiProperty({ description: 'Why execution stops (pause) or may go on (resume, continuing a batch).', maxLength: MAX_STATED_TEXT })
  reason!: string;
}

const controlBody = z.strictObject({ reason: z.string().trim().min(1, { error: 'must say why' }).max(MAX_STATED_TEXT) });

/** The kill switch over HTTP: `optex pause` / `resume-execution` under the authenticated principal. */
@ApiTags('execution')
@Controller('api/v1/execution')
export class ExecutionController {
  constructor(@Inject(API_DEPS) private readonly deps: ApiDeps) {}

  @Get()
  @Requires('reader')
  @ApiOperation({ summary: 'Whether execution is paused (by whom, since when, why)' })
  @Responds(200, 'ExecutionControl', 'The kill switch now.')
  state() {
    return executionControlState(this.deps.store);
  }

  @Post('pause')
  @HttpCode(200)
  @Requires('operator')
  @ApiOperation({ summary: 'Kill switch: no execution or execution step starts until resumed', description: 'Steps already sent finish; rollbacks go on. Already paused → 409, nothing appended.' })
  @ApiBody({ type: ControlBody })
  @Responds(200, 'ExecutionControl', 'Paused under the caller’s identity.')
  @Refuses([400, 'No reason given (`errors` names it).'], [409, 'Already paused; nothing was appended.'], NOT_JSON)
  pause(@Body() body: unknown, @Req() request: AuthenticatedRequest) {
    return this.record('pause', body, request);
  }

  @Post('resume')
  @HttpCode(200)
  @Requires('operator')
  @ApiOperation({ summary: 'Lift the kill switch: the engine drives what waited', description: 'Not paused → 409, nothing appended.' })
  @ApiBody({ type: ControlBody })
  @Responds(200, 'ExecutionControl', 'No longer paused.')
  @Refuses([400, 'No reason given (`errors` names it).'], [409, 'Not paused; nothing was appended.'], NOT_JSON)
  resume(@Body() body: unknown, @Req() request: AuthenticatedRequest) {
    return this.record('resume', body, request);
  }

  @Post('batches/:batchId/continue')
  @HttpCode(200)
  @Requires('operator')
  @ApiOperation({
    summary: 'Let a batch halted by a blast-radius limit or a failed stage gate go on',
    description: 'Records BatchContinued with the principal and the reason; the scheduler dispatches the rest. Not halted or completed → 409, no such batch → 404, nothing appended.',
  })
  @ApiParam({ name: 'batchId', description: 'The batch id (BatchPlanned.batchId; `run` prints it when a batch halts).' })
  @ApiBody({ type: ControlBody })
  @Responds(200, 'BatchGuard', 'Continued: the batch’s guard now.')
  @Refuses([400, 'No reason given (`errors` names it).'], [404, 'No such batch.'], [409, 'The batch is not halted, or it has completed; nothing was appended.'], NOT_JSON)
  continueBatch(@Param('batchId') batchId: string, @Body() body: unknown, @Req() request: AuthenticatedRequest) {
    const reason = this.reasonOf(body);
    return recordBatchContinue(this.deps.store, batchId, { by: (request.principal as Principal).identity, reason, now: this.deps.now() });
  }

  private reasonOf(body: unknown): string {
    const parsed = controlBody.safeParse(body ?? {}, { reportInput: true });
    if (!parsed.success) throw new BadRequestException(badRequest(fieldErrorsOf(parsed.error.issues)));
    return parsed.data.reason;
  }

  private record(action: 'pause' | 'resume', body: unknown, request: AuthenticatedRequest) {
    const principal = request.principal as Principal;
    return recordExecutionControl(this.deps.store, action, { by: principal.identity, reason: this.reasonOf(body), now: this.deps.now() });
  }
}
