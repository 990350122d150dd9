import { approvalExpired, backupExpiryText, differenceText, escapeControlCharacters, monthlyCostChangeText, stepText, type BackupData, type OptimizationDetail, type OptimizationView, type PerformanceImpact, type RollbackDetail, type Summary, type WaitReason, usdText } from '@optex/domain';
import type { ConflictRow, RejectedRow, RunReport } from '@optex/runtime';
import { isServicesStore, thenResumeText } from './next-step';

/**
 * A field for the terminal: control characters (C0, DEL, C1, ESC sequences, newlines, bidirectional controls)
 * shown as escapes (`\n`, `\x1b`), never interpreted. Every value a text output prints from input, the log or
 * the fleet goes through it; JSON output needs nothing (JSON.stringify escapes).
 */
export const safe = (value: string): string => escapeControlCharacters(value);

/** Text of several lines for the terminal: each line made {@link safe}, the line breaks kept. */
export const safeLines = (text: string): string => text.split('\n').map(safe).join('\n');

const money = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : usdText(n));

/** The width text tables fit by default (`--wide`: no limit). */
export const TABLE_WIDTH = 120;

/** How a table is laid out: fitted to {@link TABLE_WIDTH} columns unless `wide`. */
export interface TableLayout {
  /** Every column, every cell whole (`--wide`). @defaultValue false */
  readonly wide?: boolean;
  /** @defaultValue {@link TABLE_WIDTH} */
  readonly width?: number;
}

/** How a column gives way when the table is too wide. */
export interface ColumnFit {
  /** Left out (in the order of the columns given `optional`) when cutting alone cannot fit the table. */
  readonly optional?: boolean;
  /** Never cut below this width (cells longer are cut with `…`). @defaultValue the header's width, at least 8 */
  readonly minWidth?: number;
  /** Never cut (ids, numbers). Right-aligned columns never are. */
  readonly whole?: boolean;
  /** Printed on a line of its own under its row instead of as a column, when the table does not fit. */
  readonly below?: boolean;
}

export interface TableOptions extends TableLayout {
  readonly rightAligned?: ReadonlySet<number>;
  /** By column index. */
  readonly fit?: Readonly<Record<number, ColumnFit>>;
}

const SEPARATOR = 2;
const chars = (text: string): string[] => Array.from(text);
/** `text` cut to `width` characters, the last one `…` when anything was cut (never inside a surrogate pair). */
export function cut(text: string, width: number): string {
  const c = chars(text);
  return c.length <= width ? text : width <= 0 ? '' : `${c.slice(0, width - 1).join('')}…`;
}

/**
 * A plain text table: columns padded to their widest cell, right-aligned ones padded on the left. Unless `wide`, a
 * table wider than `width` is fitted: `below` columns go under their rows, then the widest cuttable columns are cut
 * (cells end in `…`), then `optional` columns are left out; a last line says so and that `--wide` prints it all.
 * Cells are escaped before they are measured, so columns line up with what the terminal shows.
 */
export function table(rawHeaders: readonly string[], rawRows: readonly (readonly string[])[], options: TableOptions | ReadonlySet<number> = {}): string {
  const o: TableOptions = options instanceof Set ? { rightAligned: options } : (options as TableOptions);
  const right = o.rightAligned ?? new Set<number>();
  const width = o.width ?? TABLE_WIDTH;
  const headers = rawHeaders.map(safe);
  const rows = rawRows.map((r) => headers.map((_, i) => safe(r[i] ?? '')));
  const natural = headers.map((h, i) => Math.max(chars(h).length, ...rows.map((r) => chars(r[i]!).length)));
  const total = (columns: readonly number[], widths: readonly number[]) => columns.reduce((sum, i) => sum + widths[i]!, 0) + SEPARATOR * Math.max(0, columns.length - 1);
  let columns = headers.map((_, i) => i);
  const widths = [...natural];
  const fitOf = (i: number): ColumnFit => o.fit?.[i] ?? {};
  let below: number[] = [];
  const left: string[] = [];
  let narrowed = false;
  if (!o.wide && total(columns, widths) > width) {
    narrowed = true;
    below = columns.filter((i) => fitOf(i).below);
    columns = columns.filter((i) => !fitOf(i).below);
    const minOf = (i: number) => (right.has(i) || fitOf(i).whole ? widths[i]! : Math.min(natural[i]!, fitOf(i).minWidth ?? Math.max(chars(headers[i]!).length, 8)));
    const shrink = () => {
      // Cut the widest cuttable column by one until the table fits or nothing can be cut.
      while (total(columns, widths) > width) {
        const widest = columns.filter((i) => widths[i]! > minOf(i)).sort((a, b) => widths[b]! - widths[a]! || b - a)[0];
        if (widest === undefined) return;
        widths[widest]! -= 1;
      }
    };
    shrink();
    for (const i of headers.map((_, j) => j).filter((j) => fitOf(j).optional)) {
      if (total(columns, widths) <= width) break;
      columns = columns.filter((c) => c !== i);
      left.push(headers[i]!);
      for (const c of columns) widths[c] = natural[c]!;
      shrink();
    }
  }
  const pad = (c: string, i: number) => {
    const shown = cut(c, widths[i]!);
    const fill = ' '.repeat(Math.max(0, widths[i]! - chars(shown).length));
    return right.has(i) ? fill + shown : shown + fill;
  };
  const line = (cells: readonly string[]) => columns.map((i) => pad(cells[i]!, i)).join(' '.repeat(SEPARATOR)).trimEnd();
  const out = [line(headers), line(widths.map((w) => '─'.repeat(w))).replace(/ +$/, '')];
  for (const r of rows) {
    out.push(line(r));
    for (const i of below) if (r[i]) out.push(cut(`    ${headers[i]!.toLowerCase()}: ${r[i]!}`, width));
  }
  if (narrowed) out.push(cut(`(fitted to ${width} columns${left.length ? `: ${left.join(', ')} left out` : ''}; --wide prints every column whole)`, width));
  return out.join('\n');
}

/** The NOTE column: the error, what could not be priced, a change that costs more. */
function noteOf(v: OptimizationView): string {
  const notes = v.error !== null ? [v.error] : [];
  if (v.unpriced !== null) notes.push(`unpriced: ${v.unpriced.join('; ')}`);
  if (v.actualMonthlySavings !== null && v.actualMonthlySavings < 0) notes.push(`costs ${money(-v.actualMonthlySavings)}/mo more`);
  if (v.conflicts > 0) notes.push(`resubmitted with other content ${v.conflicts === 1 ? 'once' : `${v.conflicts} times`} (conflict)`);
  return notes.join('; ');
}

/**
 * The optimizations (run, resume, list, replay). Fitted: the NOTE goes under its row, RECOMMENDATION, APPROVAL and
 * ACC% are left out as needed, long recommendation and resource ids are cut (actions never are).
 */
export function optimizationsTable(views: readonly OptimizationView[], layout: TableLayout = {}): string {
  return table(
    ['OPTIMIZATION', 'RECOMMENDATION', 'RESOURCE', 'ACTION', 'RISK', 'APPROVAL', 'STATUS', 'EST/MO', 'ACTUAL/MO', 'ACC%', 'NOTE'],
    views.map((v) => [
      v.optimizationId.slice(0, 8),
      v.recommendationId,
      v.resourceId,
      v.action + (v.dryRun ? ' (dry)' : ''),
      v.risk ?? '—',
      v.approval ?? '—',
      v.status,
      money(v.estimatedMonthlySavings),
      v.unpriced !== null ? 'unpriced' : money(v.actualMonthlySavings),
      v.accuracyPct === null ? '—' : v.accuracyPct.toFixed(1),
      noteOf(v),
    ]),
    {
      ...layout,
      rightAligned: new Set([7, 8, 9]),
      fit: { 0: { whole: true }, 1: { optional: true, minWidth: 20 }, 2: { minWidth: 21 }, 3: { whole: true }, 4: { whole: true }, 5: { optional: true }, 6: { whole: true }, 9: { optional: true }, 10: { below: true } },
    },
  );
}

/** Changed resubmissions: the record, the optimization it names (which keeps what it received first) and what changed. */
export function conflictsTable(rows: readonly ConflictRow[], layout: TableLayout = {}): string {
  return table(
    ['INDEX', 'OPTIMIZATION', 'RECOMMENDATION', 'CHANGED (recorded → resubmitted)'],
    rows.map((c) => [c.index === null ? '—' : String(c.index), c.optimizationId.slice(0, 8), c.recommendationId, c.differences.map(differenceText).join('; ')]),
    { ...layout, rightAligned: new Set([0]), fit: { 1: { whole: true }, 2: { minWidth: 20 } } },
  );
}

export function rejectedTable(rows: readonly RejectedRow[], layout: TableLayout = {}): string {
  return table(
    ['INDEX', 'RECOMMENDATION', 'ERRORS'],
    rows.map((r) => [r.index === null ? '—' : String(r.index), r.recommendationId ?? '—', r.errors.join('; ')]),
    { ...layout, fit: { 1: { minWidth: 20 } } },
  );
}

/** Rollbacks started and how they ended, and what waits for an operator (a failed rollback, a step to reconcile). */
function rollbackLine(s: Summary): string {
  const by = (status: keyof Summary['byStatus']) => s.byStatus[status] ?? 0;
  const operator = by('rollback-failed') + by('reconciliation-needed');
  // Every rollback started is in one of these: ended either way, closed by hand after it failed, or going on.
  const more = [s.rollbacksResolved > 0 ? `${s.rollbacksResolved} failed and resolved by an operator` : '', by('rolling-back') > 0 ? `${by('rolling-back')} going on` : ''].filter(Boolean);
  return `Rollbacks: ${s.rollbacks} started (${[`${by('rolled-back')} rolled back`, `${by('rollback-failed')} failed`, ...more].join(', ')}); needs an operator: ${operator}${operator > 0 ? ' (see retry-rollback, resolve)' : ''}.`;
}

export function summaryText(s: Summary): string {
  const statuses = Object.entries(s.byStatus)
    .map(([k, v]) => `${safe(k)} ${v}`)
    .join(', ');
  const fresh = s.received - s.rejected - s.duplicates;
  // The averages divide by what their totals sum over: every optimization reported (a re-run's duplicates included),
  // and the completed ones whose savings are priced.
  return [
    `Received ${s.received} recommendations: ${fresh} accepted, ${s.rejected} rejected, ${s.duplicates} duplicates${s.conflicts > 0 ? ` (${s.conflicts} with other content: conflicts)` : ''}${s.optimizations !== fresh ? `; ${s.optimizations} optimizations reported` : ''}.`,
    ...(s.previewsLeftOut > 0 ? [`Previews (dry runs) left out of these figures: ${s.previewsLeftOut}.`] : []),
    `By status: ${statuses || 'none'}.`,
    `Executions: ${s.totalExecutions} total, ${s.successfulExecutions} succeeded, ${s.failedExecutions} failed, success rate ${(s.successRate * 100).toFixed(1)} %, average ${s.averageExecutionMs} ms.`,
    rollbackLine(s),
    `Savings per month: estimated ${money(s.estimatedMonthlySavings)} (average ${money(s.averageEstimatedMonthlySavings)} over ${s.optimizations} optimizations),`,
    `  realized ${money(s.realizedMonthlySavings)} (average ${money(s.averageRealizedMonthlySavings)} over ${s.realizedCount} completed and priced)${s.unpriced > 0 ? `, ${s.unpriced} completed unpriced (left out)` : ''}.`,
  ].join('\n');
}

/** How many rows of each table the text report of `run`/`resume` prints. @defaultValue 50 */
export const DEFAULT_REPORT_ROWS = 50;

export interface ReportTextOptions extends TableLayout {
  /** Rows of each table to print (the rest is counted, not printed). @defaultValue {@link DEFAULT_REPORT_ROWS} */
  readonly maxRows?: number;
  /** Where the full report was written (`--output`), to point at it. */
  readonly outputFile?: string;
  /** The store the report is of: on EventStoreDB the hints say the services carry waiting work on, not `optex resume` ({@link thenResumeText}). */
  readonly store?: string;
  /**
   * This command's `--not-before`, while it is ahead: the hint after approvals repeats it (`optex resume --not-before T`),
   * as the work approved later is planned by that `resume`, which holds only what its own `--not-before` says.
   */
  readonly notBefore?: string;
}

/**
 * The text report of `run`/`resume`: the optimizations table (its first `maxRows` rows, then how many
 * more), rejected input likewise, the summary and what to do next. `--json` or `--output FILE` give everything.
 */
export function reportText(r: RunReport, options: ReportTextOptions = {}): string {
  const maxRows = options.maxRows ?? DEFAULT_REPORT_ROWS;
  const more = (count: number, what: string) =>
    `… and ${count} more ${what} (${options.outputFile ? `all of them are in ${safe(options.outputFile)}` : 'print them all with --json, or write them to a file with --output FILE'}).`;
  const layout: TableLayout = { ...(options.wide !== undefined ? { wide: options.wide } : {}), ...(options.width !== undefined ? { width: options.width } : {}) };
  const parts = [optimizationsTable(r.optimizations.slice(0, maxRows), layout)];
  if (r.optimizations.length > maxRows) parts[0] += `\n${more(r.optimizations.length - maxRows, 'optimizations')}`;
  if (r.conflicts.length) {
    parts.push(
      `Resubmitted with other content (conflicts; each optimization keeps the recommendation it received first):\n${conflictsTable(r.conflicts.slice(0, maxRows), layout)}${r.conflicts.length > maxRows ? `\n${more(r.conflicts.length - maxRows, 'conflicts')}` : ''}`,
    );
  }
  if (r.rejected.length) parts.push(`Rejected input:\n${rejectedTable(r.rejected.slice(0, maxRows), layout)}${r.rejected.length > maxRows ? `\n${more(r.rejected.length - maxRows, 'rejected records')}` : ''}`);
  parts.push(summaryText(r.summary));
  if (r.notTakenIn) {
    parts.push(
      `STOPPED before the whole input was read: ${r.notTakenIn.count} record(s), from index ${r.notTakenIn.firstIndex} on, were not taken in (nothing was recorded of them). Run the same input again to take them in: the records taken in before are recognised as duplicates and skipped.`,
    );
  }
  const then = `${thenResumeText(options.store)}${options.notBefore !== undefined && !(options.store !== undefined && isServicesStore(options.store)) ? ` --not-before ${safe(options.notBefore)}` : ''}`;
  const pending = r.optimizations.filter((o) => o.status === 'awaiting-approval');
  if (pending.length) parts.push(`${pending.length} awaiting approval: optex approve <OPTIMIZATION-ID> --by NAME, ${then}.`);
  if (r.waitingUntil) {
    // The earliest of what waits for a time: a start held by a window, freeze, cool-down, daily limit or --not-before,
    // a validation's soak, a rollback waiting out EC2's cool-down on a volume.
    parts.push(
      `Work is waiting until ${safe(r.waitingUntil)} (a change window, a freeze, a cool-down, the daily limit, --not-before, a soak or a rollback's wait; optex show ID says which): ${
        options.store !== undefined && isServicesStore(options.store) ? 'the services running on this store carry it on' : 'run optex resume'
      } after that time.`,
    );
  }
  if (r.paused) {
    parts.push(`Execution is PAUSED (by ${safe(r.paused.by)} since ${r.paused.since}: ${safe(r.paused.reason)}): no execution starts until optex resume-execution --by NAME --reason R, ${then}.`);
  }
  const gaveUp = r.deadLettered ?? [];
  if (gaveUp.length > 0) {
    parts.push(
      [
        `${gaveUp.length} message(s) failed in the services on every try and were set aside (dead-lettered); their optimizations stopped where they were (a bug: the logs say more):`,
        ...firstRows(gaveUp, (d) => `${safe(d.group)}${d.optimizationId ? ` on ${safe(d.optimizationId)}` : ''}: ${safe(d.reason)}`),
      ].join('\n'),
    );
  }
  const stalled = r.stalled ?? [];
  if (stalled.length > 0) {
    parts.push(
      [
        `${stalled.length} optimization(s) stopped mid-way with nothing recorded to wait for (no approval, resource, time, batch or pause holds them: a bug or a lost message; the logs say more; optex resume looks at them again):`,
        ...firstRows(stalled, (o) => `${safe(o.optimizationId)}: ${safe(o.status)}`, 'stalled'),
      ].join('\n'),
    );
  }
  const held = r.waitingOnResource ?? [];
  if (held.length > 0) {
    parts.push(
      [
        `${held.length} approved, waiting for a resource another optimization holds:`,
        ...firstRows(held, (w) => `${safe(w.optimizationId)}: ${safe(w.reason)}`, 'waitingOnResource'),
        `Once it is released, ${options.store !== undefined && isServicesStore(options.store) ? 'the services running on this store carry it on' : 'run optex resume'}.`,
      ].join('\n'),
    );
  }
  for (const b of r.haltedBatches ?? []) {
    parts.push(`Batch ${safe(b.batchId)} is halted (${safe(b.rule)}): ${safe(b.reason)}. To let its ${b.waiting} waiting member(s) go on: optex continue-batch ${safe(b.batchId)} --by NAME --reason R, ${then}.`);
  }
  return parts.join('\n\n');
}

/**
 * The first five of a report's list, one indented line each, and how many more there are (`--json` lists them all,
 * under `field` when given).
 */
function firstRows<T>(rows: readonly T[], line: (row: T) => string, field?: string): string[] {
  const more = rows.length > 5 ? [`  … and ${rows.length - 5} more (--json lists them all${field ? `: ${field}` : ''})`] : [];
  return [...rows.slice(0, 5).map((row) => `  ${line(row)}`), ...more];
}

/** JSON with bigint turned into strings. */
export const toJson = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);

/** The simulated fleet in text: how many of each kind (instances and volumes by state), then the calls by operation and result. */
export function fleetText(
  fleet: {
    readonly instances: ReadonlyArray<{ readonly state: string }>;
    readonly volumes: ReadonlyArray<{ readonly state: string }>;
    readonly addresses: readonly unknown[];
    readonly snapshots: readonly unknown[];
    readonly reservedInstanceOfferings: readonly unknown[];
    readonly faults: ReadonlyArray<{ readonly times: number }>;
    readonly reservedInstances: readonly unknown[];
    readonly listings: readonly unknown[];
    readonly calls: ReadonlyArray<{ readonly operation: string; readonly dryRun: boolean; readonly result: string }>;
  },
  where: { readonly fleetFile: string; readonly statePath?: string },
  layout: TableLayout = {},
): string {
  const byState = (items: ReadonlyArray<{ readonly state: string }>) => {
    const counts = new Map<string, number>();
    for (const item of items) counts.set(item.state, (counts.get(item.state) ?? 0) + 1);
    return counts.size === 0 ? '' : ` (${[...counts].map(([state, n]) => `${n} ${safe(state)}`).join(', ')})`;
  };
  const pendingFaults = fleet.faults.filter((f) => f.times > 0).length;
  const lines = [
    `Simulated fleet from ${safe(where.fleetFile)}, ${where.statePath ? `state in ${safe(where.statePath)}` : 'no state persisted yet (as in the file)'}:`,
    `  instances ${fleet.instances.length}${byState(fleet.instances)}`,
    `  volumes ${fleet.volumes.length}${byState(fleet.volumes)}`,
    `  addresses ${fleet.addresses.length}, snapshots ${fleet.snapshots.length}, reserved instance offerings ${fleet.reservedInstanceOfferings.length}`,
    `  purchased reservations ${fleet.reservedInstances.length}, marketplace listings ${fleet.listings.length}, faults ${fleet.faults.length} (${pendingFaults} still to fire)`,
    '',
  ];
  if (fleet.calls.length === 0) return [...lines, 'No EC2 calls answered yet.'].join('\n');
  const counts = new Map<string, { operation: string; dryRun: boolean; result: string; n: number }>();
  for (const call of fleet.calls) {
    const key = `${call.operation}\u0000${call.dryRun}\u0000${call.result}`;
    const entry = counts.get(key) ?? { operation: call.operation, dryRun: call.dryRun, result: call.result, n: 0 };
    entry.n++;
    counts.set(key, entry);
  }
  const rows = [...counts.values()]
    .sort((a, b) => a.operation.localeCompare(b.operation) || Number(a.dryRun) - Number(b.dryRun) || a.result.localeCompare(b.result))
    .map((c) => [c.operation, c.dryRun ? 'yes' : 'no', c.result, String(c.n)]);
  return [...lines, `EC2 calls answered: ${fleet.calls.length}`, table(['OPERATION', 'DRY RUN', 'RESULT', 'CALLS'], rows, { ...layout, rightAligned: new Set([3]) })].join('\n');
}

/** `optex show`: the optimization, its risk, the exact plan, the approval asked for (authority, approvals so far, expiry), and why it waits now (`waiting`, when it does). */
export function detailText(d: OptimizationDetail, waiting?: WaitReason | null, now?: Date): string {
  const lines: string[] = [];
  const rec = d.recommendation;
  lines.push(`Optimization ${d.optimizationId}${d.dryRun ? ' (dry run)' : ''}`);
  lines.push(`  recommendation  ${rec.recommendationId} from ${rec.source}, account ${rec.accountId}, ${rec.region}`);
  lines.push(`  resource        ${rec.resource.type} ${rec.resource.id}`);
  lines.push(`  action          ${d.action}; estimated savings ${money(rec.estimatedMonthlySavings)}/mo`);
  lines.push(`  status          ${d.status}${d.error ? ` — ${d.error}` : ''}`);
  if (waiting) lines.push(`  waiting         ${waiting.hold}${waiting.until ? ` until ${waiting.until}` : ''}: ${waiting.reason}`);
  if (d.cancellation) lines.push(`  cancelled by    ${d.cancellation.by}: ${d.cancellation.reason}`);
  for (const c of d.conflicts) lines.push(`  conflict        resubmitted ${c.at} (delivery ${c.deliveryId}) with other content, not applied: ${c.differences.map(differenceText).join('; ')}`);
  if (d.risk) {
    lines.push(`Risk: ${d.risk.level} (base ${d.risk.baseLevel}, policy ${d.risk.policyVersion})`);
    for (const f of d.risk.factors) lines.push(`  + ${f.factor}: ${f.detail}`);
    const stated = d.risk.basis?.stated;
    const live = d.risk.basis?.live;
    if (stated) lines.push(`  stated by the analyzer: tags ${JSON.stringify(stated.tags ?? {})}, monthly cost ${money(stated.monthlyCost)}${stated.instanceType ? `, type ${stated.instanceType}` : ''}`);
    if (live) {
      const tags = live.observed && 'tags' in live.observed ? JSON.stringify(live.observed.tags ?? {}) : '—';
      const unknown = live.error ? `  live resource: could not be described (${safe(`${live.error.code}: ${live.error.message}`)}); assessed on what the analyzer stated` : '  live resource: not found';
      // No figure and nothing missing from the price book: a resource that costs nothing per month (an offering).
      const cost = live.monthlyCost !== undefined ? money(live.monthlyCost) : live.unpriced?.length ? `unpriced (${live.unpriced.join('; ')})` : '— (not a recurring cost)';
      lines.push(live.found ? `  live resource: tags ${tags}, monthly cost ${cost}` : unknown);
    }
  } else lines.push('Risk: not assessed yet');
  if (d.plan) {
    const p = d.plan;
    lines.push(`Plan (what is approved): ${p.change}`);
    p.steps.forEach((s, i) => lines.push(`  ${i + 1}. ${stepText(s)}`));
    lines.push(`  rollback: ${p.rollback.length === 0 ? 'none' : p.rollback.map(stepText).join(' → ')}`);
    lines.push(`  reversible: ${p.reversible}${d.reversible !== p.reversible ? ` when approved; now ${d.reversible}${d.backup?.expiry ? ' (its backup snapshot expired)' : ''}` : ''}`);
    lines.push(`  net monthly cost change: ${monthlyCostChangeText(p)}`);
    lines.push(`  risk factors: ${p.riskFactors.map((f) => f.factor).join(', ') || 'none'} (${p.riskLevel})`);
  } else lines.push('Plan: none recorded (the live resource was not seen when approval was decided)');
  const a = d.approval;
  const cancelledUndecided = d.status === 'cancelled' && a.state === null;
  lines.push(`Approval: ${a.state ?? (cancelledUndecided ? 'none (cancelled before a decision)' : 'not decided yet')}`);
  if (a.authority) lines.push(`  authority asked for: ${a.authority}, ${a.requiredApprovals ?? 1} distinct approval(s) needed`);
  // The request's own time: `approve --requested-at` with it approves this request only, never one asked again since.
  if (a.authority && a.requestedAt) lines.push(`  asked: ${a.requestedAt}`);
  if (a.eligibleApprovers) lines.push(`  who may decide: ${a.eligibleApprovers.join(', ') || 'nobody on the roster'}`);
  if (a.authority || a.approvers.length > 0) lines.push(`  approvals so far: ${a.approvers.length === 0 ? 'none' : a.approvers.join(', ')}`);
  // Past its expiry and not recorded as expired yet (the next resume, or the services, record ApprovalExpired).
  const lapsed = d.status === 'awaiting-approval' && now !== undefined && approvalExpired(a.expiresAt, now.getTime());
  if (a.expiresAt && !cancelledUndecided) lines.push(`  expires: ${a.expiresAt}${lapsed ? ' — expired: an approval or a denial is refused now; the next resume records it' : ''}`);
  if (a.deniedBy) lines.push(`  denied by ${a.deniedBy}: ${a.denyReason ?? ''}`);
  if (d.performance) lines.push(...performanceLines(d.performance));
  if (d.backup) lines.push(backupLine(d.backup));
  if (d.rollback) lines.push(...rollbackLines(d.rollback, d.action));
  // Each element is one line: its fields' line breaks (a reason, an id) are escaped with it, never printed as new lines.
  return lines.map(safe).join('\n');
}

/**
 * The rollback: why, each step done with what it made (the ids a person will look for: a restored volume, a new
 * allocation, a Marketplace listing), the step that failed, and what a rolled-back reservation purchase still is.
 */
function rollbackLines(r: RollbackDetail, action: OptimizationDetail['action']): string[] {
  const lines = [`Rollback: ${r.reason}`];
  const done = new Map(r.done.map((d) => [d.index, d]));
  r.steps.forEach((step, i) => {
    const d = done.get(i);
    const outputs = d ? Object.entries(d.outputs).map(([k, v]) => `${k} ${v}`) : [];
    const state = d ? `done${outputs.length > 0 ? ` → ${outputs.join(', ')}` : ''}` : r.failedStepIndex === i ? `failed${r.error ? `: ${r.error.code}: ${r.error.message}` : ''}` : 'not done';
    lines.push(`  ${i + 1}. ${stepText(step)}: ${state}`);
  });
  if (r.endedAt) lines.push(`  ended ${r.endedAt}`);
  if (action === 'purchase-reserved-instances' && r.done.length > 0) {
    lines.push('  the reservation cannot be returned: it is still owned, and listed for sale on the RI Marketplace until someone buys it');
  }
  return lines;
}

/** The backup snapshot of a delete-volume, and whether it expired (then nothing can roll the deletion back). */
function backupLine(b: BackupData): string {
  const taken = `Backup: ${b.snapshotId} of ${b.volumeId}, taken ${b.createdAt}`;
  const e = b.expiry;
  if (!e) return `${taken}; kept for the retention of the policy (optex backups says until when)`;
  if (e.outcome === 'refused') return `${taken}; due ${e.at} after ${e.retentionDays} day(s), its deletion ${backupExpiryText(e)}: left to people, optex no longer rolls back with it (the snapshot still exists: a person may restore the volume from it).`;
  return `${taken}; expired ${e.at} after ${e.retentionDays} day(s): ${backupExpiryText(e)}. Not reversible any more.`;
}

/** Post-validation's performance picture: the verdict, the window after the soak, each metric before → after. */
export function performanceLines(p: PerformanceImpact): string[] {
  const window = p.afterWindow ? `; after = ${p.afterWindow.from} → ${p.afterWindow.to}${p.soakMinutes !== undefined ? ` (soak ${p.soakMinutes} min)` : ''}` : '';
  const lines = [`Performance: ${p.verdict}${window}`];
  const figure = (v: number | boolean | undefined) => (v === undefined ? 'no data' : String(v));
  for (const c of p.comparison ?? []) lines.push(`  ${c.metric.padEnd(13)} ${figure(c.before)} → ${figure(c.after)}  ${c.verdict}${c.verdict === 'unknown' && !c.counts ? ' (not counted)' : ''}: ${c.detail}`);
  return lines;
}

/** One line of the performance picture for history: the verdict and each metric's. */
export function performanceSummary(p: PerformanceImpact): string {
  return `performance ${p.verdict}${p.comparison ? ` (${p.comparison.map((c) => `${c.metric} ${c.verdict}`).join(', ')})` : ''}`;
}
