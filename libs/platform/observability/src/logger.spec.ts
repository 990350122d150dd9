import { PassThrough } from 'node:stream';
import { createLogger } from './logger';

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

  it('other fields are written as given, and a child logger\'s lines are renamed alike', () => {
    const [plain, child] = lines((l) => {
      l.warn({ riskLevel: 'HIGH', factors: ['production'] }, 'plain');
      l.child({ component: 'c' }).error({ level: 'CRITICAL' }, 'child');
    });
    expect(JSON.parse(plain!)).toEqual({ level: 40, time: expect.any(String), service: 'spec', riskLevel: 'HIGH', factors: ['production'], msg: 'plain' });
    expect(JSON.parse(child!)).toMatchObject({ level: 50, component: 'c', level_: 'CRITICAL', msg: 'child' });
  });
});
