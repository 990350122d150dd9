import { PassThrough } from 'node:stream';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { inSpan } from '@optex/ports';
import { createLogger } from './logger';
import { startTracing, type StopTracing } from './tracing';

function lines(log: (logger: ReturnType<typeof createLogger>) => void): string[] {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  log(createLogger({ service: 'spec', level: 'info', destination: out }));
  return chunks.join('').trim().split('\n');
}

describe('createLogger', () => {
  it('a field named like a key of the line (level, time, msg, service) is renamed with a trailing _, so the line has each key once', () => {
    const [line] = lines((l) => l.info({ optimizationId: 'o-1', level: 'LOW', time: 'x', msg: 'y', service: 'z' }, 'risk assessed'));
    for (const key of ['level', 'time', 'msg', 'service']) expect(line!.split(`"${key}":`).length).toBe(2);
    expect(JSON.parse(line!)).toMatchObject({ level: 30, msg: 'risk assessed', service: 'spec', optimizationId: 'o-1', level_: 'LOW', time_: 'x', msg_: 'y', service_: 'z' });
  });

  it('with tracing off, no line carries trace fields', () => {
    const [line] = lines((l) => l.info({}, 'untraced'));
    expect(Object.keys(JSON.parse(line!)).sort()).toEqual(['level', 'msg', 'service', 'time']);
  });

  it('other fields are written as given, and a child logger\'s lines are renamed alike', () => {
    const [plain, child] = lines((l) => {
      l.warn({ riskLevel: 'HIGH', factors: ['production'] }, 'plain');
      l.child({ component: 'c' }).error({ level: 'CRITICAL' }, 'child');
    });
    expect(JSON.parse(plain!)).toEqual({ level: 40, time: expect.any(String), service: 'spec', riskLevel: 'HIGH', factors: ['production'], msg: 'plain' });
    expect(JSON.parse(child!)).toMatchObject({ level: 50, component: 'c', level_: 'CRITICAL', msg: 'child' });
  });
});

describe('createLogger with tracing on', () => {
  const exporter = new InMemorySpanExporter();
  let stop: StopTracing;
  beforeAll(() => {
    stop = startTracing({ serviceName: 'optex-spec', exporter });
  });
  afterAll(async () => {
    await stop();
  });

  it('a line written inside a span carries its trace_id, span_id and trace_flags; one outside carries none', async () => {
    const out: string[] = [];
    let ids: { traceId: string; spanId: string } | undefined;
    await inSpan('spec handling', {}, async (span) => {
      ids = span?.spanContext();
      out.push(...lines((l) => l.child({ component: 'c' }).info({ optimizationId: 'o-1' }, 'inside')));
    });
    out.push(...lines((l) => l.info({}, 'outside')));
    expect(ids?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(out[0]!)).toMatchObject({ msg: 'inside', component: 'c', optimizationId: 'o-1', trace_id: ids!.traceId, span_id: ids!.spanId, trace_flags: '01' });
    expect(JSON.parse(out[1]!)).not.toHaveProperty('trace_id');
  });
});
