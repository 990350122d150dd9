import { KafkaJSConnectionError, KafkaJSError } from 'kafkajs';
import { InfrastructureError } from '@optex/ports';
import { backoffDelay, headersToStrings } from './kafka-consumer';
import { toInfrastructureError } from './kafka-errors';

describe('backoffDelay', () => {
  const backoff = { initialMs: 100, maxMs: 1000 };

  it('doubles the ceiling per attempt up to maxMs, with full jitter below it', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, backoff, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(3, backoff, () => 0)).toBe(0);
    expect(backoffDelay(3, backoff, () => 0.5)).toBe(200);
  });

  it('stays within [0, ceiling] for random jitter', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(4, backoff);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(800);
    }
  });
});

describe('headersToStrings', () => {
  it('turns Buffer, string and repeated header values into strings (a repeated key keeps its last value)', () => {
    expect(headersToStrings({ a: Buffer.from('x'), b: 'y', c: [Buffer.from('1'), Buffer.from('2')], d: undefined })).toEqual({ a: 'x', b: 'y', c: '2' });
    expect(headersToStrings(undefined)).toEqual({});
  });
});

describe('toInfrastructureError', () => {
  it('maps kafkajs errors to InfrastructureError and keeps the cause', () => {
    const cause = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1');
    const mapped = toInfrastructureError(cause, 'connect to 127.0.0.1:1');
    expect(mapped).toBeInstanceOf(InfrastructureError);
    expect((mapped as InfrastructureError).message).toContain('connect to 127.0.0.1:1 failed: Connection error');
    expect((mapped as InfrastructureError).cause).toBe(cause);
    expect(toInfrastructureError(new KafkaJSError('x', { retriable: false }), 'y')).toBeInstanceOf(InfrastructureError);
  });

  it('lets errors that are not the driver’s pass through', () => {
    const bug = new TypeError('undefined is not a function');
    expect(toInfrastructureError(bug, 'publish')).toBe(bug);
  });
});
