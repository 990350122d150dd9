import type { EffectLookup, Step } from '@optex/domain';
import { describeError, Ec2Error, ec2Refusal, isOutage } from '@optex/ports';

/** What the look-up of one started step's effect met so far, in this process. */
interface Failures {
  count: number;
  last: unknown;
}

/**
 * The bound on looking up the effect of a started step whose outcome is unknown: the look-up is retried (its delivery
 * redelivered, as an outage is) until `timeoutMs` after the step's intent was recorded — a time the log keeps, so a
 * restart does not start the count again — and then given up; a refusal to look (a missing permission), which
 * retrying would not change, is given up at once. Given up, the executor hands the domain the evidence
 * `{kind: 'unanswered', reason}`, which it judges `unknown`: the step is recorded as needing reconciliation with that
 * reason, never repeated, never failed as if nothing happened. Failures are counted per step (its
 * client token) for the reason; a look-up that answers forgets them.
 */
export class LookupFailures {
  private readonly failures = new Map<string, Failures>();

  constructor(private readonly timeoutMs: number) {}

  /**
   * Records that the look-up for `step` (intent recorded at `intentAt`, client token `clientToken`) failed with `error`
   * at `now`. Returns the reason to record reconciliation-needed with once the look-up is given up, else `undefined`:
   * the caller throws `error` and the look-up is made again on redelivery. Anything neither an outage nor EC2's refusal
   * (a bug) is never given up on here: `undefined`.
   */
  failed(input: { readonly step: Step; readonly lookup: EffectLookup; readonly clientToken: string; readonly intentAt: string | undefined; readonly error: unknown; readonly now: Date }): string | undefined {
    const { step, lookup, clientToken, error, now } = input;
    const what = `the look-up of ${step.kind}'s effect (${lookup.kind})`;
    const refusal = ec2Refusal(error);
    if (refusal) {
      this.failures.delete(clientToken);
      return `EC2 refused ${what}: ${refusal.code}: ${refusal.message}; whether ${step.kind} took effect cannot be told, so it is not repeated`;
    }
    if (!isOutage(error)) return undefined;
    const seen = this.failures.get(clientToken) ?? { count: 0, last: undefined };
    seen.count += 1;
    seen.last = error;
    this.failures.set(clientToken, seen);
    const since = input.intentAt === undefined ? Number.NaN : Date.parse(input.intentAt);
    // An intent without a readable time (none recorded) is given up at once: no bound could be measured.
    const elapsedMs = Number.isNaN(since) ? Number.POSITIVE_INFINITY : now.getTime() - since;
    if (elapsedMs < this.timeoutMs) return undefined;
    this.failures.delete(clientToken);
    const last = error instanceof Ec2Error ? error.message : describeError(error);
    const span = Number.isFinite(elapsedMs) ? ` over ${duration(elapsedMs)} since the intent at ${input.intentAt}` : '';
    return (
      `${what} failed ${seen.count} time${seen.count === 1 ? '' : 's'}${span} (the bound is ${duration(this.timeoutMs)}; last: ${last}); ` +
      `EC2 could not be asked whether ${step.kind} took effect, so it is not repeated`
    );
  }

  /** The look-up for the step with `clientToken` answered: its failures are forgotten. */
  answered(clientToken: string): void {
    this.failures.delete(clientToken);
  }
}

/** `850 ms`, `42 s`, `15 min`. */
function duration(ms: number): string {
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  if (ms < 600_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
