import { Controller, Get, Header, HttpCode, HttpException, Inject } from '@nestjs/common';
import type { EventStore } from '@optex/ports';
import { EVENT_STORE, OPTEX_METRICS, type OptexMetrics } from '@optex/engine';

export const PROCESS_INFO = Symbol('PROCESS_INFO');
export interface ProcessInfo {
  readonly service: string;
  readonly startedAt: Date;
  /** Extra checks (e.g. the relay's last publish error). `undefined` = fine, a string = the problem. */
  readonly checks?: () => Record<string, string | undefined>;
}

/**
 * `GET /health` (200 when the store answers and the extra checks pass, 503 otherwise: readiness), `GET /live` (200
 * whenever the process answers HTTP, whatever the store and Kafka do: liveness, for a probe that restarts the process,
 * which would not bring an absent store back) and `GET /metrics` (Prometheus text).
 */
@Controller()
export class HealthController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(OPTEX_METRICS) private readonly metrics: OptexMetrics,
    @Inject(PROCESS_INFO) private readonly info: ProcessInfo,
  ) {}

  @Get('health')
  @HttpCode(200)
  async health(): Promise<Record<string, unknown>> {
    const checks: Record<string, string> = {};
    try {
      await this.store.readStream('health-probe', { maxCount: 1 });
      checks['store'] = 'ok';
    } catch (error) {
      checks['store'] = `failing: ${(error as Error).message}`;
    }
    for (const [name, problem] of Object.entries(this.info.checks?.() ?? {})) checks[name] = problem ?? 'ok';
    const healthy = Object.values(checks).every((c) => c === 'ok');
    const body = { status: healthy ? 'ok' : 'failing', service: this.info.service, uptimeSeconds: Math.round((Date.now() - this.info.startedAt.getTime()) / 1000), checks };
    if (!healthy) throw new HttpException(body, 503);
    return body;
  }

  @Get('live')
  @HttpCode(200)
  live(): Record<string, unknown> {
    return { status: 'ok', service: this.info.service, uptimeSeconds: Math.round((Date.now() - this.info.startedAt.getTime()) / 1000) };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
