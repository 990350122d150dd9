import {
  backupExpiryOutcomeOf,
  backupSnapshots,
  optimizationDecider,
  optimizationStream,
  parseInstant,
  DomainError,
  type BackupExpiryOutcome,
  type BackupSnapshotView,
  type ErrorInfo,
  type OptimizationState,
  type Policy,
} from '@optex/domain';
import { Ec2Error, ec2ErrorInfo, type Clock, type Ec2Gateway, type EventStore } from '@optex/ports';
import { OptimizationProjection, handleCommand, resourceKeyOf } from '@optex/engine';
import { budgeted, loadPolicy, lockStoreForWriting, openCloud, settingsInForce, UsageError } from '@optex/runtime';
import { openExistingStore, type Io } from './commands';
import { safe, safeLines, table, toJson } from './format';

export interface BackupFlags {
  readonly store: string;
  /** Absent: the one remembered with the store, else the default. */
  readonly cloud?: string;
  /** Absent: the one remembered with the store, else the default policy. */
  readonly policy?: string;
  readonly json?: boolean;
  readonly wide?: boolean;
}

/**
 * The time retention is judged at: the clock, or `OPTEX_NOW` (an ISO-8601 time with its zone, read strictly as the
 * `--not-before`/`--at` flags are: `2026`, `December 7, 2026` or `1` is refused, not guessed at) — for tests and drills
 * that need a backup to be older than it is; nothing else in optex reads it.
 */
function nowOf(): Date {
  const raw = process.env['OPTEX_NOW'];
  if (raw === undefined || raw === '') return new Date();
  const now = parseInstant(raw);
  if (!now) throw new UsageError(`OPTEX_NOW must be an ISO-8601 time, got ${JSON.stringify(raw)}`);
  return now;
}

/** The store's optimizations' backups, under the policy (and cloud) given or remembered with the store. */
async function backupsOf(store: EventStore, flags: BackupFlags, now: Date): Promise<{ policy: Policy; cloud: string; backups: BackupSnapshotView[] }> {
  // The policy given is read once, here (a pipe, `--policy /dev/stdin`, cannot be read twice), and used as read.
  const given = flags.policy !== undefined ? await loadPolicy(flags.policy) : undefined;
  // Used, not remembered: only run, resume and import --run change what the store remembers.
  const inForce = await settingsInForce(store, flags.store, flags, { by: 'backups', now });
  const policy = given !== undefined && inForce.policy.from === 'flag' ? given : await loadPolicy(inForce.policy.value, inForce.policy.from === 'store');
  const states = (await OptimizationProjection.load(store)).all();
  return { policy, cloud: inForce.cloud.value, backups: backupSnapshots(states, policy.backups, now) };
}

const retentionText = (policy: Policy): string =>
  policy.backups.retentionDays === null ? 'kept for ever (backups.retentionDays is null)' : `retention ${policy.backups.retentionDays} day(s)`;

function backupsTable(backups: readonly BackupSnapshotView[], wide: boolean): string {
  return table(
    ['OPTIMIZATION', 'VOLUME', 'SNAPSHOT', 'CREATED', 'EXPIRES', 'STATUS', 'NOTE'],
    backups.map((b) => [b.optimizationId.slice(0, 8), b.volumeId, b.snapshotId, b.createdAt, b.expiresAt ?? 'never', b.status, b.status === 'kept' || b.status === 'due' ? '' : b.reason]),
    { wide, fit: { 3: { whole: true }, 4: { whole: true }, 6: { minWidth: 20 } } },
  );
}

/** `backups`: the backup snapshots the store's delete-volumes took, with when each expires and where it stands. */
export async function backupsCommand(io: Io, flags: BackupFlags): Promise<number> {
  const now = nowOf();
  const store = await openExistingStore(flags.store);
  try {
    const { policy, backups } = await backupsOf(store, flags, now);
    if (flags.json) io.out(toJson({ now: now.toISOString(), retentionDays: policy.backups.retentionDays, backups }));
    else if (backups.length === 0) io.out(`No backup snapshots in this store (${retentionText(policy)}).`);
    else {
      const due = backups.filter((b) => b.status === 'due').length;
      io.out(`${backupsTable(backups, flags.wide ?? false)}\n\n${backups.length} backup snapshot(s), ${retentionText(policy)}; ${due} due${due > 0 ? ': run optex backups expire' : ''}.`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

/** What became of one due backup: an outcome recorded (or, in a dry run, the one it would be), or an error left for the next time. */
interface ExpiryResult {
  readonly optimizationId: string;
  readonly volumeId: string;
  readonly snapshotId: string;
  readonly createdAt: string;
  readonly outcome?: BackupExpiryOutcome;
  readonly error?: ErrorInfo;
}

/** DeleteSnapshot of a due backup (with EC2's DryRun in a dry run): the expiry outcome, or the error that leaves it due. */
async function deleteBackup(ec2: Ec2Gateway, b: BackupSnapshotView, dryRun: boolean): Promise<{ outcome?: BackupExpiryOutcome; error?: ErrorInfo }> {
  try {
    await ec2.deleteSnapshot({ accountId: b.accountId, region: b.region, id: b.snapshotId }, dryRun ? { dryRun: true } : {});
    return { outcome: 'deleted' };
  } catch (error) {
    if (!(error instanceof Ec2Error)) throw error;
    const info = ec2ErrorInfo(error);
    if (dryRun && error.awsCode === 'DryRunOperation') return { outcome: 'deleted' };
    const outcome = backupExpiryOutcomeOf(error.awsCode);
    return outcome === undefined ? { error: info } : { outcome, ...(outcome === 'refused' ? { error: info } : {}) };
  }
}

/** Records the expiry of `b` (BackupSnapshotExpired in its optimization's stream). */
async function recordExpiry(store: EventStore, b: BackupSnapshotView, retentionDays: number, result: { outcome: BackupExpiryOutcome; error?: ErrorInfo }, now: Date): Promise<void> {
  await handleCommand(
    store,
    optimizationStream(b.optimizationId),
    optimizationDecider,
    { type: 'ExpireBackupSnapshot', data: { retentionDays, outcome: result.outcome, ...(result.error ? { error: result.error } : {}) }, metadata: { now } },
    {
      causationKey: `backup-expiry:${b.snapshotId}`,
      recordedBy: 'optex-cli',
      metadata: (state: OptimizationState) => (state.status === 'initial' ? {} : { resourceKey: resourceKeyOf(state.recommendation) }),
    },
  );
}

const OUTCOME_TEXT: Readonly<Record<BackupExpiryOutcome, string>> = {
  deleted: 'deleted',
  'already-gone': 'gone already (recorded as expired)',
  refused: 'refused by EC2, left as it is and not tried again',
};

function expiryLine(r: ExpiryResult, dryRun: boolean): string {
  const what = `${r.snapshotId} of ${r.volumeId} (optimization ${r.optimizationId.slice(0, 8)}, taken ${r.createdAt})`;
  if (r.outcome === undefined) return `  ${what}: not expired: ${r.error!.code}: ${r.error!.message} (tried again next time)`;
  const error = r.error ? `: ${r.error.code}: ${r.error.message}` : '';
  if (dryRun) return `  ${what}: would be ${r.outcome === 'deleted' ? 'deleted' : r.outcome === 'already-gone' ? 'recorded as gone already' : 'refused by EC2'}${error}`;
  return `  ${what}: ${OUTCOME_TEXT[r.outcome]}${error}`;
}

/**
 * `backups expire [--dry-run]`: deletes every due backup snapshot (DeleteSnapshot through the cloud's budgeted
 * gateway) and records each expiry in its optimization's stream; a snapshot gone already is recorded as such, one EC2
 * refuses (`InvalidSnapshot.InUse`: an image uses it) is recorded, reported and not tried again. Any other error
 * leaves the snapshot due and exits 1. `--dry-run` sends the calls with EC2's DryRun and records nothing. Holds the
 * store's writer lock, as run and resume do, so no engine rolls back a deletion whose backup goes meanwhile.
 */
export async function backupsExpireCommand(io: Io, flags: BackupFlags & { dryRun?: boolean }): Promise<number> {
  const now = nowOf();
  const dryRun = flags.dryRun ?? false;
  const store = await openExistingStore(flags.store);
  const lock = dryRun ? undefined : lockStoreForWriting(flags.store, 'backups expire');
  try {
    const { policy, cloud: cloudUrl, backups } = await backupsOf(store, flags, now);
    const retentionDays = policy.backups.retentionDays;
    const due = backups.filter((b) => b.status === 'due');
    const results: ExpiryResult[] = [];
    if (retentionDays !== null && due.length > 0) {
      const clock: Clock = { now: () => nowOf() };
      const cloud = await openCloud(cloudUrl, flags.store, clock);
      try {
        const ec2 = budgeted(cloud, policy, clock);
        for (const b of due) {
          const result = await deleteBackup(ec2, b, dryRun);
          if (!dryRun && result.outcome !== undefined) await recordExpiry(store, b, retentionDays, { outcome: result.outcome, ...(result.error ? { error: result.error } : {}) }, now);
          results.push({ optimizationId: b.optimizationId, volumeId: b.volumeId, snapshotId: b.snapshotId, createdAt: b.createdAt, ...result });
        }
      } finally {
        await cloud.close();
      }
    }
    const failed = results.filter((r) => r.outcome === undefined);
    if (flags.json) io.out(toJson({ now: now.toISOString(), retentionDays, dryRun, expired: results }));
    else if (results.length === 0) io.out(`No backup snapshot is due (${retentionText(policy)}).`);
    else {
      const refused = results.filter((r) => r.outcome === 'refused').length;
      const expired = results.length - failed.length - refused;
      const head = `${dryRun ? 'Dry run: would expire' : 'Expired'} ${expired} of ${results.length} due backup snapshot(s)${refused > 0 ? `, ${refused} ${dryRun ? 'would be ' : ''}refused by EC2 and left as ${refused === 1 ? 'it is' : 'they are'}` : ''}, ${retentionText(policy)}:`;
      io.out(safeLines(`${head}\n${results.map((r) => expiryLine(r, dryRun)).join('\n')}`));
    }
    for (const f of failed) io.err(`optex backups expire: ${safe(f.snapshotId)}: ${safe(f.error!.code)}: ${safe(f.error!.message)}`);
    return failed.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof DomainError) {
      io.err(`optex backups expire: ${safe(error.message)}`);
      return 1;
    }
    throw error;
  } finally {
    lock?.release();
    await store.close();
  }
}
