import type { EffectLookup, Step } from '@optex/domain';
import { Ec2Error, InfrastructureError, ec2Error } from '@optex/ports';
import { LookupFailures } from './lookup-failures';

const step: Step = { kind: 'purchase-reserved-instances', offeringId: 'off-1', instanceCount: 1 };
const lookup: EffectLookup = { kind: 'find-reservations', instanceType: 'm5.large', since: '2026-11-26T10:00:00.000Z' };
const INTENT = '2026-11-26T10:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(INTENT) + ms);
const outage = ec2Error('InternalError', 'DescribeReservedInstances: HTTP 500: not implemented');

describe('LookupFailures: the bound on looking up a step whose outcome is unknown', () => {
  it('an outage is looked up again until the bound after the intent, then given up with a reason naming the failures', () => {
    const failures = new LookupFailures(15 * 60_000);
    const failed = (ms: number, error: unknown = outage) => failures.failed({ step, lookup, clientToken: 't-1', intentAt: INTENT, error, now: at(ms) });
    expect(failed(1_000)).toBeUndefined();
    expect(failed(60_000)).toBeUndefined();
    expect(failed(15 * 60_000 - 1)).toBeUndefined();
    expect(failed(15 * 60_000)).toBe(
      "the look-up of purchase-reserved-instances's effect (find-reservations) failed 4 times over 15 min since the intent at 2026-11-26T10:00:00.000Z " +
        '(the bound is 15 min; last: InternalError: DescribeReservedInstances: HTTP 500: not implemented); ' +
        'EC2 could not be asked whether purchase-reserved-instances took effect, so it is not repeated',
    );
  });

  it('measured from the intent the log keeps: after a restart (a new count), the first failure past the bound gives up', () => {
    const restarted = new LookupFailures(15 * 60_000);
    expect(restarted.failed({ step, lookup, clientToken: 't-1', intentAt: INTENT, error: new InfrastructureError('EC2 unreachable'), now: at(20 * 60_000) })).toMatch(
      /failed 1 time over 20 min .*last: InfrastructureError: EC2 unreachable\)/,
    );
  });

  it('a look-up that answers forgets the failures; another step has its own count', () => {
    const failures = new LookupFailures(1_000);
    failures.failed({ step, lookup, clientToken: 't-1', intentAt: INTENT, error: outage, now: at(10) });
    failures.failed({ step, lookup, clientToken: 't-2', intentAt: INTENT, error: outage, now: at(10) });
    failures.answered('t-1');
    expect(failures.failed({ step, lookup, clientToken: 't-1', intentAt: INTENT, error: outage, now: at(1_000) })).toMatch(/failed 1 time over/);
    expect(failures.failed({ step, lookup, clientToken: 't-2', intentAt: INTENT, error: outage, now: at(1_000) })).toMatch(/failed 2 times over/);
  });

  it("EC2's refusal to look (retrying would not change it) is given up at once", () => {
    const failures = new LookupFailures(15 * 60_000);
    const refused = new Ec2Error('UnauthorizedOperation', 'DescribeReservedInstances: You are not authorized to perform this operation.', false);
    expect(failures.failed({ step, lookup, clientToken: 't-1', intentAt: INTENT, error: refused, now: at(1) })).toBe(
      "EC2 refused the look-up of purchase-reserved-instances's effect (find-reservations): UnauthorizedOperation: DescribeReservedInstances: You are not authorized to perform this operation.; " +
        'whether purchase-reserved-instances took effect cannot be told, so it is not repeated',
    );
  });

  it('a bug is never given up on here (it is retried and dead-lettered as any bug is)', () => {
    const failures = new LookupFailures(0);
    expect(failures.failed({ step, lookup, clientToken: 't-1', intentAt: INTENT, error: new TypeError('x is undefined'), now: at(60 * 60_000) })).toBeUndefined();
  });
});
