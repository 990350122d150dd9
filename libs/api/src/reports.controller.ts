import { BadRequestException, Controller, Get, Header, Inject, Query } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { Refuses, Responds } from './openapi-schemas';
import { SAVINGS_GROUPINGS, savingsBy, summarize, viewOf, type SavingsGrouping } from '@optex/domain';
import { API_DEPS, type ApiDeps } from './api.constants';
import { Public, Requires } from './auth/access.guard';
import { badRequest } from './http-errors';

@ApiTags('reports')
@Controller()
export class ReportsController {
  constructor(@Inject(API_DEPS) private readonly deps: ApiDeps) {}

  @Get('api/v1/metrics')
  @Requires('reader')
  @ApiOperation({ summary: 'The run summary rebuilt from the log (as `optex metrics --json`), and the read model’s lag' })
  @Responds(200, 'Metrics', 'The summary, and how many events of the log the read model has not applied yet.')
  async metrics() {
    const model = this.deps.readModel;
    await model.sync();
    const summary = summarize(model.projection.all().map((s) => viewOf(s)), { rejected: model.rejected, duplicates: model.duplicates, previews: { rejected: model.previewRejected, duplicates: model.previewDuplicates } });
    return { summary, readModel: { lagEvents: await model.lag() } };
  }

  @Get('api/v1/savings')
  @Requires('reader')
  @ApiOperation({ summary: 'Savings realized against estimated, of completed optimizations, by account, action or month' })
  @ApiQuery({ name: 'by', required: false, enum: SAVINGS_GROUPINGS, description: 'default month' })
  @Responds(200, 'Savings', 'One row per group, sorted by key.')
  @Refuses([400, '`by` is not account, action or month (`errors` names it).'])
  async savings(@Query('by') by?: string) {
    const grouping = (by ?? 'month') as SavingsGrouping;
    if (!SAVINGS_GROUPINGS.includes(grouping)) throw new BadRequestException(badRequest([{ path: 'by', message: `by must be one of ${SAVINGS_GROUPINGS.join(', ')}, got ${JSON.stringify(by)}` }]));
    await this.deps.readModel.sync();
    return { by: grouping, rows: savingsBy(this.deps.readModel.projection.all(), grouping) };
  }

  @Get('metrics')
  @Requires('reader')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics of this process: the read model (optex_projection_lag_events, optex_projection_position) and the webhook notifier (optex_notifications_total, optex_notifier_failing)' })
  @ApiOkResponse({ description: 'Prometheus text exposition format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } })
  prometheus(): Promise<string> {
    return this.deps.registry.metrics();
  }

  @Get('health')
  @Public()
  @ApiOperation({ summary: 'Readiness: 200 when the store answers, 503 while it is unreachable (the liveness probe is GET /live, which does not ask the store)' })
  @Responds(200, 'Health', 'The store answered.')
  @Refuses([503, 'Not ready: the event store is unreachable (an outage); `reason` says so.'])
  async health() {
    await this.deps.store.readStream('health-probe', { maxCount: 1 });
    return { status: 'ok', readModelPosition: String(this.deps.readModel.appliedPosition) };
  }

  /**
   * Liveness, for a probe that restarts the process (deploy/k8s/api.yaml): 200 whenever the process serves HTTP, without
   * asking the store, as the services' `/live`. An outage of the store fails `/health` (the pod leaves the Service)
   * but must not restart the API: a restart would not bring the store back. A probe of the process, not an operation
   * of the API: left out of the OpenAPI document, like the console.
   */
  @Get('live')
  @Public()
  @ApiExcludeEndpoint()
  live() {
    return { status: 'ok' };
  }
}
