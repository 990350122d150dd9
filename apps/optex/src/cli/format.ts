import type { OptimizationView, Summary } from '@optex/domain';
import type { RejectedRow, RunReport } from '@optex/runtime';

const money = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : `$${n.toFixed(2)}`);

/** A plain text table: columns padded to their widest cell, numbers right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number> = new Set()): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}

export function optimizationsTable(views: readonly OptimizationView[]): string {
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
      money(v.actualMonthlySavings),
      v.accuracyPct === null ? '—' : v.accuracyPct.toFixed(1),
      v.error ?? '',
    ]),
    new Set([7, 8, 9]),
  );
}

export function rejectedTable(rows: readonly RejectedRow[]): string {
  return table(
    ['INDEX', 'RECOMMENDATION', 'ERRORS'],
    rows.map((r) => [r.index === null ? '—' : String(r.index), r.recommendationId ?? '—', r.errors.join('; ')]),
  );
}

const average = (total: number, count: number): number => (count > 0 ? Math.round((total / count) * 100) / 100 : 0);

export function summaryText(s: Summary): string {
  const statuses = Object.entries(s.byStatus)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `Received ${s.received} recommendations: ${s.received - s.rejected - s.duplicates} optimizations, ${s.rejected} rejected, ${s.duplicates} duplicates.`,
    `By status: ${statuses || 'none'}.`,
    `Executions: ${s.totalExecutions} total, ${s.successfulExecutions} succeeded, ${s.failedExecutions} failed, success rate ${(s.successRate * 100).toFixed(1)} %, average ${s.averageExecutionMs} ms.`,
    `Savings per month: estimated ${money(s.estimatedMonthlySavings)} (average ${money(average(s.estimatedMonthlySavings, s.received - s.rejected - s.duplicates))} per optimization), realized ${money(s.realizedMonthlySavings)} (average ${money(average(s.realizedMonthlySavings, s.byStatus['completed'] ?? 0))} per completed one).`,
  ].join('\n');
}

/** How many rows of each table the text report of `run`/`resume` prints. @defaultValue 50 */
export const DEFAULT_REPORT_ROWS = 50;

export interface ReportTextOptions {
  /** Rows of each table to print (the rest is counted, not printed). @defaultValue {@link DEFAULT_REPORT_ROWS} */
  readonly maxRows?: number;
  /** Where the full report was written (`--output`), to point at it. */
  readonly outputFile?: string;
}

/**
 * The text report of `run`/`resume`: the optimizations table (its first `maxRows` rows, then how many
 * more), rejected input likewise, the summary and what to do next. `--json` or `--output FILE` give everything.
 */
export function reportText(r: RunReport, options: ReportTextOptions = {}): string {
  const maxRows = options.maxRows ?? DEFAULT_REPORT_ROWS;
  const more = (count: number, what: string) =>
    `… and ${count} more ${what} (${options.outputFile ? `all of them are in ${options.outputFile}` : 'print them all with --json, or write them to a file with --output FILE'}).`;
  const parts = [optimizationsTable(r.optimizations.slice(0, maxRows))];
  if (r.optimizations.length > maxRows) parts[0] += `\n${more(r.optimizations.length - maxRows, 'optimizations')}`;
  if (r.rejected.length) parts.push(`Rejected input:\n${rejectedTable(r.rejected.slice(0, maxRows))}${r.rejected.length > maxRows ? `\n${more(r.rejected.length - maxRows, 'rejected records')}` : ''}`);
  parts.push(summaryText(r.summary));
  const pending = r.optimizations.filter((o) => o.status === 'awaiting-approval');
  if (pending.length) parts.push(`${pending.length} awaiting approval: optex approve <OPTIMIZATION-ID> --by NAME, then optex resume.`);
  if (r.waitingUntil) parts.push(`Approved work is scheduled not before ${r.waitingUntil}: run optex resume after that time.`);
  return parts.join('\n\n');
}

/** JSON with bigint turned into strings. */
export const toJson = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
