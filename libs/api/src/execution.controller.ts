import { BadRequestException, Body, Controller, Get, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { fieldErrorsOf, type Principal } from '@optex/domain';
import { executionControlState, recordExecutionControl } from '@optex/approval';
import { API_DEPS, type ApiDeps, type AuthenticatedRequest } from './api.constants';
import { Requires } from './auth/access.guard';
import { badRequest } from './http-errors';

export class ControlBody {
  @ApiProperty({ description: 'Why execution stops (pause) or may go on (resume).', maxLength: 1024 })
  reason!: string;
}

const controlBody = z.strictObject({ reason: z.string().trim().min(1, { error: 'must say why' }).max(1024) });

/** The kill switch over HTTP: `optex pause` / `resume-execution` under the authenticated principal. */
@ApiTags('execution')
@Controller('api/v1/execution')
export class ExecutionController {
  constructor(@Inject(API_DEPS) private readonly deps: ApiDeps) {}

  @Get()
  @Requires('reader')
  @ApiOperation({ summary: 'Whether execution is paused (by whom, since when, why)' })
  state() {
    return executionControlState(this.deps.store);
  }

  @Post('pause')
  @HttpCode(200)
  @Requires('operator')
  @ApiOperation({ summary: 'Kill switch: no execution or execution step starts until resumed', description: 'Steps already sent finish; rollbacks go on. Already paused → 409, nothing appended.' })
  @ApiBody({ type: ControlBody })
  pause(@Body() body: unknown, @Req() request: AuthenticatedRequest) {
    return this.record('pause', body, request);
  }

  @Post('resume')
  @HttpCode(200)
  @Requires('operator')
  @ApiOperation({ summary: 'Lift the kill switch: the engine drives what waited', description: 'Not paused → 409, nothing appended.' })
  @ApiBody({ type: ControlBody })
  resume(@Body() body: unknown, @Req() request: AuthenticatedRequest) {
    return this.record('resume', body, request);
  }

  private record(action: 'pause' | 'resume', body: unknown, request: AuthenticatedRequest) {
    const parsed = controlBody.safeParse(body ?? {}, { reportInput: true });
    if (!parsed.success) throw new BadRequestException(badRequest(fieldErrorsOf(parsed.error.issues)));
    const principal = request.principal as Principal;
    return recordExecutionControl(this.deps.store, action, { by: principal.identity, reason: parsed.data.reason, now: this.deps.now() });
  }
}
