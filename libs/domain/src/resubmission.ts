import type { Recommendation } from './types';

/** One field a resubmission changed: where (`action.type`, `resource.tags.env`), what was recorded and what came again (absent: no such field). */
export interface RecommendationDifference {
  readonly path: string;
  readonly recorded?: unknown;
  readonly resubmitted?: unknown;
}

/**
 * Fields a resubmission may change without being a conflict: `createdAt` is when the analyzer produced the
 * recommendation, and a re-export of the same advice carries a newer one.
 */
const NOT_CONTENT: ReadonlySet<string> = new Set(['createdAt']);
/** What changes the most comes first: another kind of change, another resource, another place. */
const FIRST = ['action.type', 'resource.type', 'resource.id', 'accountId', 'region'];
const rank = (path: string): number => (FIRST.includes(path) ? FIRST.indexOf(path) : FIRST.length);

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function differences(recorded: unknown, resubmitted: unknown, path: string, out: RecommendationDifference[]): void {
  if (isRecord(recorded) && isRecord(resubmitted)) {
    const keys = [...new Set([...Object.keys(recorded), ...Object.keys(resubmitted)])].sort();
    for (const key of keys) differences(recorded[key], resubmitted[key], path === '' ? key : `${path}.${key}`, out);
    return;
  }
  if (Array.isArray(recorded) && Array.isArray(resubmitted) && recorded.length === resubmitted.length) {
    recorded.forEach((item, i) => differences(item, resubmitted[i], `${path}.${i}`, out));
    return;
  }
  if (Object.is(recorded, resubmitted)) return;
  out.push({ path, ...(recorded === undefined ? {} : { recorded }), ...(resubmitted === undefined ? {} : { resubmitted }) });
}

/**
 * What a recommendation resubmitted under a known id (same source and `recommendationId`, so the same optimization)
 * changes in the one recorded first, field by field: the action's type, the resource, account and region first, then
 * the rest in key order; empty when it is the same recommendation (an
 * idempotent resubmission). Key order and `createdAt` do not count.
 */
export function recommendationDifferences(recorded: Recommendation, resubmitted: Recommendation): RecommendationDifference[] {
  const out: RecommendationDifference[] = [];
  differences(recorded, resubmitted, '', out);
  return out.filter((d) => !NOT_CONTENT.has(d.path)).sort((a, b) => rank(a.path) - rank(b.path));
}

/** A difference in words: `action.type: "stop-idle" → "rightsize"` (`—` for a field one side lacks). */
export const differenceText = (d: RecommendationDifference): string =>
  `${d.path}: ${d.recorded === undefined ? '—' : JSON.stringify(d.recorded)} → ${d.resubmitted === undefined ? '—' : JSON.stringify(d.resubmitted)}`;
