import { z } from 'zod';
import type { ErrorInfo } from './events';
import type { OptimizationState } from './decider';
import type { OptimizationStatus } from './statuses';

/**
 * Backup snapshots: the snapshot a delete-volume with `snapshotFirst` takes before it deletes the volume (tagged with
 * the volume's tags and `optex:*`, see plans.ts). It is what makes the deletion reversible: a rollback creates the
 * volume again from it. It also costs money every month, so it is kept for `retentionDays` after it was taken and
 * then expired — deleted, and the optimization is no longer reversible. Expiry is an operator's command
 * (`optex backups expire`), recorded as `BackupSnapshotExpired` in the optimization's stream.
 */
export interface BackupPolicy {
  /**
   * Days a backup snapshot is kept after it was taken; then it is due for expiry. `null` keeps backups for ever
   * (`optex backups` still lists them). @defaultValue 30
   */
  readonly retentionDays: number | null;
}

/**
 * 30 days: long enough for the month-end jobs, reports and invoices that would notice a missing volume to run once
 * (a deletion is reversible for a full billing cycle), short enough that the backup does not eat the savings (an
 * EBS snapshot costs about half of a gp2 volume's GiB-month, so one kept for ever would keep about half the cost).
 */
export const DEFAULT_BACKUPS: BackupPolicy = { retentionDays: 30 };

export const backupsSchema = z.strictObject({
  retentionDays: z
    .number({ error: 'must be a whole number of days (or null: keep backups for ever)' })
    .int({ error: 'must be a whole number of days' })
    .min(1, { error: 'must be at least 1 (or null: keep backups for ever)' })
    .max(3650, { error: 'must be at most 3650 (10 years); null keeps backups for ever' })
    .nullable(),
});

/** How an expiry ended: the snapshot deleted, found gone already, or refused by EC2 (kept, and not tried again). */
export const BACKUP_EXPIRY_OUTCOMES = ['deleted', 'already-gone', 'refused'] as const;
export type BackupExpiryOutcome = (typeof BACKUP_EXPIRY_OUTCOMES)[number];

/** The expiry of a backup snapshot, as recorded. */
export interface BackupExpiry {
  readonly at: string;
  readonly retentionDays: number;
  readonly outcome: BackupExpiryOutcome;
  /** EC2's refusal (`refused` only). */
  readonly error?: ErrorInfo;
}

/**
 * What became of an expired backup, in words, for every place that prints it (`backups`, `show`, `history`):
 * `deleted`, `gone already`, or EC2's refusal with its code and `left as it is`.
 */
export function backupExpiryText(e: Pick<BackupExpiry, 'outcome' | 'error'>): string {
  if (e.outcome === 'refused') return `refused by EC2 (${e.error ? `${e.error.code}: ${e.error.message}` : 'no reason given'}), left as it is`;
  return e.outcome === 'already-gone' ? 'gone already' : 'deleted';
}

/** The backup snapshot an optimization took, as its state keeps it (from the create-snapshot step's completion). */
export interface BackupData {
  readonly snapshotId: string;
  /** The volume it is a copy of (the one the optimization deleted). */
  readonly volumeId: string;
  /** ISO time the snapshot step completed: the retention counts from it. */
  readonly createdAt: string;
  readonly expiry?: BackupExpiry;
}

/**
 * Where a backup stands: `kept` (retention running), `due` (past its retention, expired by the next `optex backups
 * expire`), `in-flight` (its optimization is still executing, validating or rolling back), `held` (its optimization
 * waits for an operator, or an operator closed it: optex leaves the snapshot to people), `deleted`, `already-gone`,
 * `refused` (expired: see {@link BackupExpiry}).
 */
export type BackupStatus = 'kept' | 'due' | 'in-flight' | 'held' | BackupExpiryOutcome;

/** One backup snapshot optex holds or held, as `optex backups` lists it. */
export interface BackupSnapshotView {
  readonly optimizationId: string;
  readonly accountId: string;
  readonly region: string;
  readonly volumeId: string;
  readonly snapshotId: string;
  readonly createdAt: string;
  /** When it is (or was) due: `createdAt` + the retention in force; `null` when kept for ever. */
  readonly expiresAt: string | null;
  readonly status: BackupStatus;
  /** Why it stands so, in words. */
  readonly reason: string;
  readonly expiry: BackupExpiry | null;
}

/** Statuses whose backup expires with the retention: the deletion stood (`completed`) or was undone and the volume is back (`rolled-back`). */
const EXPIRABLE: readonly OptimizationStatus[] = ['completed', 'rolled-back'];
/** Statuses in which the optimization may still need its backup soon. */
const IN_FLIGHT: readonly OptimizationStatus[] = ['executing', 'validating', 'rolling-back'];

const DAY_MS = 24 * 60 * 60 * 1000;

/** When a backup taken at `createdAt` is due under `retentionDays` (ISO), or `null` when kept for ever. */
export const backupExpiresAt = (createdAt: string, retentionDays: number | null): string | null =>
  retentionDays === null ? null : new Date(Date.parse(createdAt) + retentionDays * DAY_MS).toISOString();

/** Why the backup of an optimization in `status` is neither kept nor due (in flight, held for people), or `undefined`. */
function notExpirableReason(status: OptimizationStatus): string | undefined {
  if (IN_FLIGHT.includes(status)) return `the optimization is ${status}: it may still need the snapshot`;
  if (status === 'resolved') return 'an operator resolved the optimization by hand: optex leaves the snapshot to people (delete it by hand when it is not needed)';
  if (!EXPIRABLE.includes(status)) return `the optimization is ${status}: optex keeps the snapshot for an operator (retry-rollback, resolve)`;
  return undefined;
}

/**
 * The backup snapshot of an optimization and where it stands at `now` under `policy` (see {@link BackupStatus}), or
 * `undefined` when it has none: not a delete-volume with `snapshotFirst`, a dry run, the snapshot not taken, or
 * deleted by the rollback of a deletion that failed before the volume went.
 */
export function backupSnapshotOf(state: OptimizationState, policy: BackupPolicy, now: Date): BackupSnapshotView | undefined {
  if (state.status === 'initial' || !state.backup) return undefined;
  const b = state.backup;
  const rec = state.recommendation;
  const common = { optimizationId: state.optimizationId, accountId: rec.accountId, region: rec.region, volumeId: b.volumeId, snapshotId: b.snapshotId, createdAt: b.createdAt };
  if (b.expiry) {
    const e = b.expiry;
    const advice = e.outcome === 'refused' ? ' and not tried again; delete it by hand once nothing uses it' : '';
    const reason = `expired ${e.at} after ${e.retentionDays} day(s): ${backupExpiryText(e)}${advice}`;
    return { ...common, expiresAt: backupExpiresAt(b.createdAt, e.retentionDays), status: e.outcome, reason, expiry: e };
  }
  const expiresAt = backupExpiresAt(b.createdAt, policy.retentionDays);
  const held = notExpirableReason(state.status);
  if (held) return { ...common, expiresAt, status: IN_FLIGHT.includes(state.status) ? 'in-flight' : 'held', reason: held, expiry: null };
  if (expiresAt === null) return { ...common, expiresAt, status: 'kept', reason: 'kept for ever (backups.retentionDays is null)', expiry: null };
  if (now.getTime() < Date.parse(expiresAt)) return { ...common, expiresAt, status: 'kept', reason: `kept for ${policy.retentionDays} day(s), until ${expiresAt}`, expiry: null };
  return { ...common, expiresAt, status: 'due', reason: `older than ${policy.retentionDays} day(s) since ${expiresAt}`, expiry: null };
}

/** The backup snapshots of `states` at `now`, oldest first. */
export function backupSnapshots(states: Iterable<OptimizationState>, policy: BackupPolicy, now: Date): BackupSnapshotView[] {
  const views: BackupSnapshotView[] = [];
  for (const state of states) {
    const view = backupSnapshotOf(state, policy, now);
    if (view) views.push(view);
  }
  return views.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.optimizationId.localeCompare(b.optimizationId));
}

/**
 * What EC2's refusal of a backup's DeleteSnapshot means for its expiry: `already-gone` (`InvalidSnapshot.NotFound`:
 * someone deleted it), `refused` (`InvalidSnapshot.InUse`: an image uses it — recorded, reported, not tried again),
 * or `undefined` for any other error (throttling, permissions, an outage), which is not recorded: the snapshot stays
 * due and the next expiry tries again.
 */
export function backupExpiryOutcomeOf(awsCode: string): Exclude<BackupExpiryOutcome, 'deleted'> | undefined {
  if (awsCode === 'InvalidSnapshot.NotFound') return 'already-gone';
  if (awsCode === 'InvalidSnapshot.InUse') return 'refused';
  return undefined;
}

/**
 * Why the optimization can no longer be rolled back, or `undefined`: its backup snapshot expired, so the volume it
 * deleted cannot be created again from it.
 */
export function rollbackRefusal(state: OptimizationState): string | undefined {
  if (state.status === 'initial') return undefined;
  const e = state.backup?.expiry;
  if (!e) return undefined;
  if (e.outcome === 'refused') {
    // The snapshot is still there (an image uses it): a person may restore from it; optex leaves it to people.
    return `the backup snapshot ${state.backup!.snapshotId} of ${state.backup!.volumeId} was due at ${e.at} (retention ${e.retentionDays} day(s)) and EC2 refused its deletion (${backupExpiryText(e)}): it is left to people, so optex no longer rolls optimization ${state.optimizationId} back (a person may still restore the volume from it)`;
  }
  return `the backup snapshot ${state.backup!.snapshotId} of ${state.backup!.volumeId} expired at ${e.at} (retention ${e.retentionDays} day(s), ${e.outcome}): the volume cannot be restored and optimization ${state.optimizationId} is no longer reversible`;
}
