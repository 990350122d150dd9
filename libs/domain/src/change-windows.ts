import { Cron } from 'croner';
import { z } from 'zod';
import type { Recommendation } from './types';
import { isKnownRegion } from './aws-catalog';

/**
 * When execution may start. A maintenance window opens at each time its cron expression names, in its time zone, and
 * stays open `durationMinutes`; it applies to the recommendations its scope matches (accounts, regions, tags — every
 * given part must match; none given: all). A recommendation that some window applies to starts only inside one of
 * them; one that no window applies to may start any time. A freeze blocks every start, auto-approved work included,
 * from `from` to `to`. Pure: the instant comes in.
 */
export interface ChangeWindow {
  readonly name: string;
  /** Five or six fields (croner's syntax: minute hour day-of-month month day-of-week, seconds first when six). */
  readonly cron: string;
  /** IANA time zone the cron expression is read in. @defaultValue UTC */
  readonly timeZone: string;
  readonly durationMinutes: number;
  readonly accounts?: readonly string[];
  readonly regions?: readonly string[];
  /** Every listed tag must be on the resource with that value. */
  readonly tags?: Readonly<Record<string, string>>;
}

export interface Freeze {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

export interface ChangeWindowPolicy {
  readonly windows: readonly ChangeWindow[];
  readonly freezes: readonly Freeze[];
}

export const DEFAULT_CHANGE_WINDOWS: ChangeWindowPolicy = { windows: [], freezes: [] };

/** A year from which every cron expression of five or six fields that ever matches matches within a few years (no year field). */
const CRON_REFERENCE = new Date('2000-01-01T00:00:00Z');

/**
 * Why `expression` is no cron expression a window can open at, or undefined when it is one: five fields (minute hour
 * day-of-month month day-of-week) or six (seconds first) — no year field, so that whether it ever matches does not
 * depend on the day the policy is read —, croner's syntax, and some date matching it (30 February never comes).
 */
const cronProblem = (expression: string): string | undefined => {
  const fields = expression.trim().split(/\s+/).filter((f) => f !== '').length;
  if (fields !== 5 && fields !== 6) return `must have five fields (minute hour day-of-month month day-of-week) or six (seconds first), got ${fields}`;
  let cron: Cron;
  try {
    cron = new Cron(expression, { paused: true, timezone: 'UTC' });
  } catch (error) {
    return `must be a cron expression (minute hour day-of-month month day-of-week): ${(error as Error).message}`;
  }
  return cron.nextRun(CRON_REFERENCE) ? undefined : 'never matches a date (e.g. 30 February), so the window would never open';
};

/** The longest window: 366 days (a longer one is open all the time; far longer ones put its openings out of the range of dates). */
export const MAX_WINDOW_MINUTES = 366 * 24 * 60;

const validTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

export const changeWindowsSchema = z.strictObject({
  windows: z.array(
    z.strictObject({
      name: z.string().min(1, { error: 'must not be empty' }),
      cron: z.string().superRefine((expression, ctx) => {
        const problem = cronProblem(expression);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
      timeZone: z.string().refine(validTimeZone, { error: 'must be an IANA time zone such as Europe/Berlin' }).default('UTC'),
      durationMinutes: z.number().int({ error: 'must be a whole number' }).positive({ error: 'must be greater than 0' }).max(MAX_WINDOW_MINUTES, { error: `must be at most ${MAX_WINDOW_MINUTES} (366 days)` }),
      accounts: z.array(z.string().regex(/^\d{12}$/, { error: 'must be exactly 12 digits' })).min(1).optional(),
      regions: z.array(z.string().refine(isKnownRegion, { error: (issue) => `must be an AWS region such as us-east-1, got ${JSON.stringify(issue.input)}` })).min(1).optional(),
      tags: z.record(z.string(), z.string()).optional(),
    }),
  ),
  freezes: z.array(
    z
      .strictObject({ name: z.string().min(1, { error: 'must not be empty' }), from: z.iso.datetime({ offset: true }), to: z.iso.datetime({ offset: true }), reason: z.string().min(1, { error: 'must say why' }) })
      .refine((f) => Date.parse(f.from) < Date.parse(f.to), { error: 'to must be after from', path: ['to'] }),
  ),
});

export type ExecutionWindowVerdict =
  | { readonly allowed: true }
  /** `until`: when it may start (the freeze's end, the next window's opening); `hold`: which of the two holds it. */
  | { readonly allowed: false; readonly hold: 'freeze' | 'change-window'; readonly until: string; readonly reason: string };

/**
 * Whether the window governs `rec`: its accounts, its regions, and each of its tags carried by the resource — as the
 * recommendation states it or as the live resource was described (an analyzer that leaves the tags out does not take a
 * production volume out of its window, as it does not lower its risk).
 */
function applies(window: ChangeWindow, rec: Recommendation, liveTags: Readonly<Record<string, string>> | undefined): boolean {
  if (window.accounts && !window.accounts.includes(rec.accountId)) return false;
  if (window.regions && !window.regions.includes(rec.region)) return false;
  if (window.tags) {
    const stated = rec.resource.tags ?? {};
    for (const [key, value] of Object.entries(window.tags)) if (stated[key] !== value && liveTags?.[key] !== value) return false;
  }
  return true;
}

/** The window's opening at or before `now` that is still open, else its next opening. */
function windowAt(window: ChangeWindow, now: Date): { open: boolean; start: Date } | undefined {
  const cron = new Cron(window.cron, { timezone: window.timeZone, paused: true });
  const durationMs = window.durationMinutes * 60_000;
  // The first opening strictly after (now − duration) is still open at now if it is at or before now (windows are
  // [opening, opening + duration)); otherwise it is the next opening.
  const start = cron.nextRun(new Date(now.getTime() - durationMs));
  if (!start) return undefined;
  if (start.getTime() <= now.getTime()) return { open: true, start };
  return { open: false, start };
}

/** What holds a start at one instant: the freeze in force (the one that ends last), else its windows, all closed; `label` names it in a reason. */
type Block = { readonly hold: 'freeze' | 'change-window'; readonly until: number; readonly reason: string; readonly label: string };

function blockAt(policy: ChangeWindowPolicy, windows: readonly ChangeWindow[], t: number): Block | undefined {
  let freeze: ChangeWindowPolicy['freezes'][number] | undefined;
  for (const f of policy.freezes) if (Date.parse(f.from) <= t && t < Date.parse(f.to) && (!freeze || Date.parse(f.to) > Date.parse(freeze.to))) freeze = f;
  if (freeze) {
    const to = Date.parse(freeze.to);
    return { hold: 'freeze', until: to, reason: `freeze ${freeze.name} until ${new Date(to).toISOString()}: ${freeze.reason}`, label: `freeze ${freeze.name}` };
  }
  if (windows.length === 0) return undefined;
  let next: { start: Date; window: ChangeWindow } | undefined;
  for (const window of windows) {
    const at = windowAt(window, new Date(t));
    if (!at) continue;
    if (at.open) return undefined;
    if (!next || at.start < next.start) next = { start: at.start, window };
  }
  const label = 'outside its change windows';
  if (!next) return { hold: 'change-window', until: NEVER, reason: `outside every change window (${windows.map((w) => w.name).join(', ')}), and none opens again`, label };
  return { hold: 'change-window', until: next.start.getTime(), reason: `outside its change windows; ${next.window.name} opens at ${next.start.toISOString()} (${next.window.cron}, ${next.window.timeZone})`, label };
}

/** The end of time as a wait: a window that never opens again (the parser refuses such a cron; kept for safety). */
const NEVER = Date.parse('9999-12-31T23:59:59.999Z');
/** How many freezes and closed windows in a row the first allowed start is looked for across before giving up on it. */
const MAX_HOPS = 64;

/**
 * Whether `rec` (whose live resource carries `liveTags`, when described) may start executing at `now`; if not, what
 * holds it now (`hold`, `reason`: the freeze in force — the one ending last when several overlap —, else its windows,
 * all closed) and the first instant it may start (`until`): past a freeze that ends while its windows are closed to
 * their next opening, past a window that opens inside a freeze to the freeze's end, and so on — so "waiting until"
 * is when a `resume` will start it, not merely when the first hold ends.
 */
export function executionWindow(policy: ChangeWindowPolicy, rec: Recommendation, now: Date, liveTags?: Readonly<Record<string, string>>): ExecutionWindowVerdict {
  const windows = policy.windows.filter((w) => applies(w, rec, liveTags));
  const first = blockAt(policy, windows, now.getTime());
  if (!first) return { allowed: true };
  let t = first.until;
  const then: string[] = [];
  for (let hop = 0; hop < MAX_HOPS && t < NEVER; hop++) {
    const block = blockAt(policy, windows, t);
    if (!block) break;
    then.push(block.label);
    t = block.until;
  }
  const until = new Date(t).toISOString();
  return { allowed: false, hold: first.hold, until, reason: then.length === 0 ? first.reason : `${first.reason}; then held until ${until} (${then.join(', then ')})` };
}
