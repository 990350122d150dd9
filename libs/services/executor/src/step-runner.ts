import { ExponentialBackoff, TimeoutStrategy, handleWhen, retry, timeout, wrap, TaskCancelledError, type IPolicy } from 'cockatiel';
import { NON_MUTATING_STEPS, restoredTags, type Recommendation, type Step, type StepOutputs } from '@optex/domain';
import { CallHeldError, Ec2Error, InfrastructureError, OptexError, ec2Error, ec2ErrorInfo, isCapacityShortage, isIncorrectState, isOutage, isThrottling, type Ec2Gateway } from '@optex/ports';
import { refOf } from '@optex/engine';
import { waitOut } from './outage-retry';

export interface StepRunnerOptions {
  readonly callTimeoutMs: number;
  readonly waitTimeoutMs: number;
  readonly attempts: number;
  readonly backoffMs: number;
  /** Called before each retry (logs, metrics). */
  readonly onRetry?: (error: unknown, attempt: number) => void;
  /** Called before each wait for EC2 to stop throttling, once a step's attempts are spent (logs). */
  readonly onThrottled?: (error: unknown, round: number, delayMs: number) => void;
  /** Aborted when the process stops: a throttle waited out is then thrown (an outage: the handling comes again). */
  readonly signal?: AbortSignal;
}

/** Steps an instance may not be ready for yet (IncorrectInstanceState while it is still stopping or pending). */
const START_STOP_STEPS: ReadonlySet<Step['kind']> = new Set(['start-instance', 'stop-instance']);

export interface StepContext {
  readonly recommendation: Recommendation;
  readonly dryRun: boolean;
  /** Outputs of the steps completed so far (e.g. `snapshotId`), merged. */
  readonly outputs: StepOutputs;
  /** The client token of the step's recorded intent: sent with the call (and its retries) so the effect can be found. */
  readonly clientToken?: string;
  /**
   * The step's resource was described moments ago, in this handling (a pre-validation that refuses a resource already
   * as asked passed on it), and nothing has been done to it since: the first attempt of a modify-volume or
   * modify-instance-type call skips its own "already as asked?" look-up. A retry still looks (its earlier attempt may
   * have changed the resource). @defaultValue false
   */
  readonly observedJustBefore?: boolean;
  /** Sent with every call that may change something (`CallOptions.beforeSend` of the port): the executor's kill switch. */
  readonly beforeSend?: () => Promise<void>;
}

/** The outcome of a step: its outputs, or why it failed. */
export type StepResult = { readonly ok: true; readonly outputs: StepOutputs } | { readonly ok: false; readonly error: { code: string; message: string } };

/**
 * Performs one step of an execution or rollback plan through the Ec2Gateway: a timeout per
 * attempt, retries with jittered exponential backoff for transient EC2 errors only
 * (RequestLimitExceeded…, InsufficientInstanceCapacity…), and dry runs through EC2's DryRun flag
 * (`DryRunOperation` = success, waits skipped). Retries of one step share its client token. The runner does not
 * decide whether a step may be repeated after a crash: the executor reconciles a started step (domain:
 * reconciliation.ts) before it calls again. Within one step a type already changed, a volume already as asked, or a resource already gone count as
 * done, so a retry after a timeout does not fail on its own earlier effect: a type or volume change describes its
 * resource before each attempt, except a first attempt made right after the pre-validation that described it
 * ({@link StepContext.observedJustBefore}).
 *
 * An outage is not a failed step: when EC2 still fails on its side after the step's attempts, or a call timed out
 * (its outcome unknown), `run` throws that error (an {@link isOutage} one) instead of reporting a failure, so the
 * handling waits and is redelivered; the step's recorded intent is then reconciled (looked up, never blindly
 * repeated). A throttle ({@link isThrottling}: EC2 refused the request for its rate, so it was not carried out) is
 * waited out within the step instead — the call made again with backoff, with the same client token, for as long as
 * it takes — and ends only when the process stops (`signal`), as a {@link CallHeldError}: no attempt was carried out
 * and none is in flight, so the executor closes the step's intent as not carried out instead of leaving it to a
 * look-up after the restart, which cannot always tell (a reservation purchase, which takes no client token, would need
 * an operator).
 * A change is never rolled back, or left half-done, because the cloud was briefly unavailable.
 *
 * A capacity shortage is not an outage ({@link isCapacityShortage}: EC2 is up and has no room for, say, the new
 * instance type): it is retried like the transient errors above, and when the step's attempts are spent the step
 * fails with EC2's code (the decider then rolls back — for a rightsize, to the original type, and starts it), instead
 * of waiting, the resource half-changed, for capacity that may not come for hours. An instance not yet in the state a
 * start or a stop needs ({@link isIncorrectState}: a start while it is still `stopping`) is retried the same way on
 * those steps, and then fails the step with EC2's code; on any other step it fails the step at once.
 */
export class StepRunner {
  /** Retry outside, a time-out per attempt inside: one pair for calls, one for waits, built once (the attempt counter is per run). */
  private readonly callPolicy: IPolicy;
  private readonly waitPolicy: IPolicy;
  /** The call policy of a start or a stop: it also retries an instance not yet in the state needed. */
  private readonly startStopPolicy: IPolicy;

  constructor(
    private readonly gateway: Ec2Gateway,
    private readonly options: StepRunnerOptions,
  ) {
    const policy = (timeoutMs: number, alsoRetry?: (e: Error) => boolean): IPolicy => {
      const retryPolicy = retry(handleWhen((e) => (e instanceof OptexError && e.transient) || alsoRetry?.(e) === true), {
        maxAttempts: Math.max(0, options.attempts - 1),
        backoff: new ExponentialBackoff({ initialDelay: options.backoffMs, maxDelay: 30_000 }),
      });
      const onRetry = options.onRetry;
      if (onRetry) retryPolicy.onRetry((e) => onRetry('error' in e ? e.error : undefined, e.attempt));
      // No attempt listens to the time-out's signal, so aborting it when an attempt returns (cockatiel's default)
      // would only build a DOMException with its stack for nobody; a time-out still ends the attempt (Aggressive).
      return wrap(retryPolicy, timeout(timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false }));
    };
    this.callPolicy = policy(options.callTimeoutMs);
    this.waitPolicy = policy(options.waitTimeoutMs + 5_000);
    this.startStopPolicy = policy(options.callTimeoutMs, isIncorrectState);
  }

  async run(step: Step, ctx: StepContext): Promise<StepResult> {
    if (ctx.dryRun && NON_MUTATING_STEPS.has(step.kind)) return { ok: true, outputs: {} };
    const isWait = NON_MUTATING_STEPS.has(step.kind);
    const policy = isWait ? this.waitPolicy : START_STOP_STEPS.has(step.kind) ? this.startStopPolicy : this.callPolicy;
    let attempt = 0;
    try {
      // The step's attempts, then again with backoff while EC2 throttles (it carried nothing out), until it answers.
      const outputs = await waitOut(() => policy.execute(() => this.perform(step, ctx, ++attempt)), {
        retryWhen: isThrottling,
        initialDelayMs: this.options.backoffMs,
        ...(this.options.signal ? { signal: this.options.signal } : {}),
        ...(this.options.onThrottled ? { onWait: this.options.onThrottled } : {}),
      });
      return { ok: true, outputs };
    } catch (error) {
      if (ctx.dryRun && error instanceof Ec2Error && error.awsCode === 'DryRunOperation') return { ok: true, outputs: {} };
      // Stopped while EC2 throttles the step: no attempt was carried out (a throttle is a refusal), none is in flight.
      if (isThrottling(error) && this.options.signal?.aborted) {
        throw new CallHeldError(`${step.kind} not carried out: EC2 throttled every attempt (${(error as Ec2Error).awsCode}) and the executor stopped before sending it again; it is sent again after the restart`, { cause: error });
      }
      if (isOutage(error) || error instanceof CallHeldError) throw error;
      if (error instanceof TaskCancelledError) {
        if (!isWait) throw new InfrastructureError(`EC2 ${step.kind} timed out after ${this.options.callTimeoutMs} ms; its outcome is unknown`, { cause: error });
        return { ok: false, error: { code: 'StepTimeout', message: `${step.kind} timed out` } };
      }
      // Whether it took effect is unknown (a 5xx on a purchase, say): an outage, as a time-out is — the delivery comes
      // again and the recorded intent is reconciled by looking the effect up, never failed as if nothing happened.
      if (error instanceof Ec2Error && error.outcomeUnknown) throw new InfrastructureError(`EC2 ${step.kind} answered ${error.awsCode}; its outcome is unknown`, { cause: error });
      if (error instanceof Ec2Error && (isCapacityShortage(error) || (isIncorrectState(error) && START_STOP_STEPS.has(step.kind)))) {
        const info = ec2ErrorInfo(error);
        return { ok: false, error: { code: info.code, message: `${info.message} (after ${attempt} attempt${attempt === 1 ? '' : 's'})` } };
      }
      if (error instanceof Ec2Error) return { ok: false, error: ec2ErrorInfo(error) };
      return { ok: false, error: { code: error instanceof OptexError ? error.code : 'Error', message: (error as Error)?.message ?? String(error) } };
    }
  }

  private async perform(step: Step, ctx: StepContext, attempt: number): Promise<StepOutputs> {
    const rec = ctx.recommendation;
    // Is the resource already as the step asks (by an earlier attempt of this step)? Not asked in a dry run, nor on a
    // first attempt right after the pre-validation that described it.
    const lookFirst = !ctx.dryRun && (attempt > 1 || ctx.observedJustBefore !== true);
    const ref = (id: string) => refOf(rec, id);
    const opts = { dryRun: ctx.dryRun, ...(ctx.clientToken ? { clientToken: ctx.clientToken } : {}), ...(ctx.beforeSend ? { beforeSend: ctx.beforeSend } : {}) };
    const wait = this.options.waitTimeoutMs;
    switch (step.kind) {
      case 'stop-instance':
        await this.gateway.stopInstance(ref(step.instanceId), opts);
        return {};
      case 'wait-instance-stopped':
        await this.gateway.waitForInstanceState(ref(step.instanceId), 'stopped', wait);
        return {};
      case 'modify-instance-type': {
        if (lookFirst) {
          const current = await this.gateway.describeInstance(ref(step.instanceId));
          if (current?.instanceType === step.instanceType) return {};
        }
        await this.gateway.modifyInstanceType(ref(step.instanceId), step.instanceType, opts);
        return {};
      }
      case 'start-instance':
        await this.gateway.startInstance(ref(step.instanceId), opts);
        return {};
      case 'wait-instance-running':
        await this.gateway.waitForInstanceState(ref(step.instanceId), 'running', wait);
        return {};
      case 'modify-volume': {
        if (lookFirst) {
          const v = await this.gateway.describeVolume(ref(step.volumeId));
          if (v && v.volumeType === step.volumeType && (step.iops === undefined || v.iops === step.iops) && (step.throughput === undefined || v.throughput === step.throughput)) return {};
        }
        await this.gateway.modifyVolume(ref(step.volumeId), { volumeType: step.volumeType, iops: step.iops, throughput: step.throughput }, opts);
        return {};
      }
      case 'create-snapshot': {
        const { snapshotId } = await this.gateway.createSnapshot(ref(step.volumeId), { description: step.description, tags: step.tags }, opts);
        return { snapshotId };
      }
      case 'wait-snapshot-completed':
        await this.gateway.waitForSnapshotCompleted(ref(required(ctx.outputs, 'snapshotId', step.kind)), wait);
        return {};
      case 'delete-volume':
        return this.gone(() => this.gateway.deleteVolume(ref(step.volumeId), opts), ctx.dryRun);
      case 'create-volume-from-snapshot': {
        const snapshotId = required(ctx.outputs, 'snapshotId', step.kind);
        const { volumeId } = await this.gateway.createVolume(
          {
            accountId: rec.accountId,
            region: rec.region,
            availabilityZone: step.availabilityZone,
            volumeType: step.volumeType,
            sizeGiB: step.sizeGiB,
            ...(step.iops === undefined ? {} : { iops: step.iops }),
            ...(step.throughput === undefined ? {} : { throughput: step.throughput }),
            snapshotId,
            // Within EC2's 50 tags with the client token: the plan's tags already are (restoredTags gives them
            // back unchanged); a step recorded before the plan kept to the limit (a volume's 50 tags) is cut the same
            // way, so its rollback, retried, restores the volume instead of meeting TagLimitExceeded again.
            tags: restoredTags(step.tags).tags,
          },
          opts,
        );
        return { restoredVolumeId: volumeId };
      }
      case 'delete-snapshot':
        return this.gone(() => this.gateway.deleteSnapshot(ref(step.snapshotId), opts), ctx.dryRun);
      case 'release-address':
        return this.gone(() => this.gateway.releaseAddress(ref(step.allocationId), opts), ctx.dryRun);
      case 'allocate-address': {
        // The released address's tags, kept within EC2's 50 the same way (restoredTags gives the plan's back unchanged);
        // a step recorded before the rollback carried them has none.
        const a = await this.gateway.allocateAddress(
          { accountId: rec.accountId, region: rec.region, publicIp: step.publicIp, ...(step.tags === undefined ? {} : { tags: restoredTags(step.tags).tags }) },
          opts,
        );
        return { allocationId: a.allocationId, publicIp: a.publicIp };
      }
      case 'purchase-reserved-instances': {
        const r = await this.gateway.purchaseReservedInstancesOffering(
          { accountId: rec.accountId, region: rec.region, offeringId: step.offeringId, instanceCount: step.instanceCount, ...(step.limitPrice === undefined ? {} : { limitPrice: step.limitPrice }) },
          opts,
        );
        return { reservedInstancesId: r.reservedInstancesId };
      }
      case 'list-reserved-instances': {
        const r = await this.gateway.createReservedInstancesListing(
          { accountId: rec.accountId, region: rec.region, reservedInstancesId: required(ctx.outputs, 'reservedInstancesId', step.kind), instanceCount: step.instanceCount, price: step.price },
          opts,
        );
        return { listingId: r.listingId };
      }
      default: {
        const _exhaustive: never = step;
        throw new Error(`unknown step ${JSON.stringify(_exhaustive)}`);
      }
    }
  }

  /** A delete whose target is already gone is done (safe to repeat after a crash). */
  private async gone(call: () => Promise<void>, dryRun: boolean): Promise<StepOutputs> {
    try {
      await call();
    } catch (error) {
      if (!dryRun && error instanceof Ec2Error && /\.NotFound$/.test(error.awsCode)) return {};
      throw error;
    }
    return {};
  }
}

function required(outputs: StepOutputs, key: string, kind: string): string {
  const value = outputs[key];
  if (!value) throw ec2Error('MissingStepOutput', `${kind} needs ${key} from an earlier step, and none was recorded`);
  return value;
}
