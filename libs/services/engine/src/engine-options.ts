import { defaultIntakeLimits, type BatchMode, type IntakeLimits } from '@optex/domain';
import { DEFAULT_UNPACKED_SETTLED } from './projection';

/** Tunables of the five services. Every field has a default (see {@link defaultEngineOptions}). */
export interface EngineOptions {
  /** How the scheduler runs a batch. @defaultValue `parallel` */
  readonly batchMode: BatchMode;
  /** Most executions running at once (per batch and overall). @defaultValue 4 */
  readonly maxParallel: number;
  /** Nothing starts before this time. @defaultValue now */
  readonly notBefore?: Date;
  /** Time limit of one EC2 call. @defaultValue 60 000 ms */
  readonly callTimeoutMs: number;
  /** Time limit of a wait for a state (instance stopped/running, snapshot completed). @defaultValue 15 min */
  readonly waitTimeoutMs: number;
  /**
   * Attempts of a step on transient errors (RequestLimitExceeded…, InsufficientInstanceCapacity…), with jittered
   * exponential backoff. After the last, an outage (throttling, 5xx) is waited out; a capacity shortage fails the step,
   * which is rolled back. @defaultValue 4
   */
  readonly stepAttempts: number;
  /** First backoff delay between step attempts. @defaultValue 200 ms */
  readonly stepBackoffMs: number;
  /**
   * How long after a step's intent was recorded the look-up of its effect (a step whose outcome is unknown: cut short
   * by a crash, a time-out, a 5xx) may keep failing — EC2 unavailable, or refusing the look-up — before the executor
   * gives up: the optimization stops in `reconciliation-needed` with the look-up's failures as the reason, for an
   * operator, and the step is never repeated. A refusal (a missing permission…) gives up at once. @defaultValue 15 min
   */
  readonly reconcileLookupTimeoutMs: number;
  /** How often the approval service looks for expired requests. @defaultValue 60 000 ms */
  readonly approvalSweepMs: number;
  /** Approvals arriving within this window (wall-clock, from the first of them) form one batch. @defaultValue 100 ms */
  readonly batchWindowMs: number;
  /**
   * The batch window closes early once this long passes without another approval (0: it stays open `batchWindowMs`),
   * so a lone approval is not held for the whole window. @defaultValue 20 ms
   */
  readonly batchQuietMs: number;
  /**
   * How many settled optimizations the process's shared read model keeps as objects; older ones it holds packed
   * (`OptimizationProjection`'s `unpackedSettled`: ~0.2 KB instead of ~5 KB each). @defaultValue 1024
   */
  readonly unpackedSettled: number;
  /** How often the scheduler re-evaluates (time-based `notBefore`). @defaultValue 1000 ms */
  readonly schedulerTickMs: number;
  /**
   * Length of the performance window before the execution started, which the validator compares with the window from
   * the change's end to the validation, and of the CPU p95 window read at pre-validation. @defaultValue 1 hour
   */
  readonly validationWindowMs: number;
  /** Run the startup recovery of every service (re-drive work whose triggering message is gone — embedded mode). @defaultValue true */
  readonly recoverOnStart: boolean;
  /** Limits on each input record, checked before it is parsed (the same for the CLI and Kafka). @defaultValue {@link defaultIntakeLimits} */
  readonly intakeLimits: IntakeLimits;
  /** How often the executor and the validator look for optimizations left mid-way (0 = never). @defaultValue 30 000 ms */
  readonly sweepEveryMs: number;
  /**
   * How long an optimization the executor or validator must move may go without an event before it is resumed. It must
   * exceed the longest silence of a live handling. @defaultValue `waitTimeoutMs + 2 × callTimeoutMs` (17 min)
   */
  readonly sweepAfterMs?: number;
  /**
   * How often each executor instance reads the kill switch for a resume it was not delivered (its events go to one
   * instance of the group; 0 = never: only the delivered resume drives what waited). @defaultValue 5 000 ms
   */
  readonly resumeWatchMs: number;
}

/** The stall bound the sweepers use: `sweepAfterMs`, or longer than a wait for a state plus two calls. */
export const sweepAfterMsOf = (options: EngineOptions): number => options.sweepAfterMs ?? options.waitTimeoutMs + 2 * options.callTimeoutMs;

export const defaultEngineOptions: EngineOptions = {
  batchMode: 'parallel',
  maxParallel: 4,
  callTimeoutMs: 60_000,
  waitTimeoutMs: 15 * 60_000,
  stepAttempts: 4,
  stepBackoffMs: 200,
  reconcileLookupTimeoutMs: 15 * 60_000,
  approvalSweepMs: 60_000,
  batchWindowMs: 100,
  batchQuietMs: 20,
  unpackedSettled: DEFAULT_UNPACKED_SETTLED,
  schedulerTickMs: 1000,
  validationWindowMs: 60 * 60_000,
  recoverOnStart: true,
  intakeLimits: defaultIntakeLimits,
  sweepEveryMs: 30_000,
  resumeWatchMs: 5_000,
};
