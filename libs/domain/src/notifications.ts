import type { OptimizationEvent } from './events';
import type { KnownOptimizationState, OptimizationState } from './decider';
import type { Action } from './types';
import { usdText } from './numbers';

// ── What is notified ──

/**
 * What an outgoing webhook can be told about. A circuit breaker opening is recorded by the process whose breaker opened
 * (`CircuitBreakerOpened`, circuit-breakers.ts), since notifications follow the log only.
 */
export const NOTIFICATION_KINDS = ['approval-requested', 'approval-expiring', 'rollback-failed', 'reconciliation-needed', 'circuit-breaker-open'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** A notification, before it is shaped for a receiver. `key` is its idempotency key: the same for every attempt and every re-delivery. */
export interface Notification {
  readonly kind: NotificationKind;
  readonly key: string;
  /** The optimization it is about; absent for what concerns no single one (a circuit breaker). */
  readonly optimizationId?: string;
  readonly title: string;
  readonly summary: string;
  readonly fields: readonly { readonly label: string; readonly value: string }[];
}

/** An event as the log holds it: its id (unique in the log) and the parsed event. */
export type IdentifiedEvent = OptimizationEvent & { readonly id: string };

const money = (usd: number): string => `${usdText(usd)}/month`;

/** One line saying what the change is, e.g. `rightsize i-0abc m5.xlarge → m5.large`. */
export function describeChange(state: KnownOptimizationState): string {
  const { resource, action } = state.recommendation;
  return `${action.type} ${resource.id}${actionDetail(action)}`;
}

function actionDetail(action: Action): string {
  switch (action.type) {
    case 'rightsize':
      return ` ${action.currentInstanceType} → ${action.targetInstanceType}`;
    case 'modify-volume':
      return ` → ${action.targetVolumeType}`;
    case 'delete-volume':
      return action.snapshotFirst ? ' (snapshot first)' : ' (no snapshot)';
    case 'purchase-reserved-instances':
      return ` ${action.instanceCount} × ${action.offeringId}`;
    case 'stop-idle':
    case 'delete-snapshot':
    case 'release-address':
      return '';
    default: {
      const _exhaustive: never = action;
      return _exhaustive;
    }
  }
}

function commonFields(state: KnownOptimizationState): { label: string; value: string }[] {
  const rec = state.recommendation;
  return [
    { label: 'Account / region', value: `${rec.accountId} / ${rec.region}` },
    { label: 'Estimated savings', value: money(rec.estimatedMonthlySavings) },
    { label: 'Recommendation', value: `${rec.recommendationId} (${rec.source})` },
  ];
}

function approvalFields(state: KnownOptimizationState): { label: string; value: string }[] {
  const approval = state.approval;
  const factors = state.risk?.factors.length ? state.risk.factors.map((f) => `${f.factor}: ${f.detail}`).join('\n') : 'none';
  return [
    { label: 'Risk', value: state.risk ? `${state.risk.level} (base ${state.risk.baseLevel})` : 'not assessed' },
    { label: 'Risk factors', value: factors },
    { label: 'Who may decide', value: `${approval.authority ?? 'anyone'}${approval.eligibleApprovers ? `: ${approval.eligibleApprovers.map((e) => e.id).join(', ')}` : ''}` },
    { label: 'Approvals', value: `${approval.approvers.length} of ${approval.requiredApprovals ?? 1}` },
    { label: 'Expires', value: approval.expiresAt ?? 'never' },
  ];
}

/**
 * The notification an event of the log calls for, given the optimization's state just after it (the fold of its
 * stream up to and including the event), or `undefined`. Approval requested, rollback failed and reconciliation
 * needed are notified; every other event is not. The key is derived from the event id.
 */
export function notificationOf(event: IdentifiedEvent, state: OptimizationState): Notification | undefined {
  if (state.status === 'initial') return undefined;
  const base = { key: `optex:${event.id}`, optimizationId: state.optimizationId };
  switch (event.type) {
    case 'ApprovalRequested': {
      const d = event.data;
      return {
        ...base,
        kind: 'approval-requested',
        title: `Approval requested: ${describeChange(state)}`,
        summary: `${state.risk?.level ?? 'Unassessed'} risk: needs ${d.requiredApprovals} approval${d.requiredApprovals === 1 ? '' : 's'} of ${d.authority} before ${d.expiresAt}.`,
        fields: [...commonFields(state), ...approvalFields(state)],
      };
    }
    case 'RollbackFailed': {
      const d = event.data;
      return {
        ...base,
        kind: 'rollback-failed',
        title: `Rollback failed: ${describeChange(state)}`,
        summary: `${d.error.code}: ${sentence(d.error.message)} The resource may be half changed: an operator must retry the rollback or resolve it.`,
        fields: [
          ...commonFields(state),
          { label: 'Failed rollback step', value: d.failedStepIndex === undefined ? 'unknown' : `#${d.failedStepIndex} ${state.rollback?.steps[d.failedStepIndex]?.kind ?? ''}`.trim() },
          { label: 'Why it was rolled back', value: state.rollback?.reason ?? 'unknown' },
        ],
      };
    }
    case 'ReconciliationRequired': {
      const d = event.data;
      return {
        ...base,
        kind: 'reconciliation-needed',
        title: `Reconciliation needed: ${describeChange(state)}`,
        summary: `${d.reason}. The engine will not repeat the call: an operator must check it by hand and resolve it.`,
        fields: [...commonFields(state), { label: 'Step', value: `${d.phase} #${d.index} ${d.step.kind}` }, { label: 'Client token', value: d.clientToken }],
      };
    }
    default:
      return undefined;
  }
}

// ── Approvals about to expire ──

/** An approval request still waiting: the event that asked for it and when it expires. */
export interface PendingApproval {
  readonly optimizationId: string;
  readonly requestEventId: string;
  readonly expiresAt: string;
}

/**
 * The approvals still waiting after `event`: an `ApprovalRequested` adds one; a final grant, a denial, an expiry or a
 * cancellation removes it. Returns the same map when nothing changed, a new one otherwise.
 */
export function trackPendingApprovals(pending: ReadonlyMap<string, PendingApproval>, event: IdentifiedEvent): ReadonlyMap<string, PendingApproval> {
  const id = event.data.optimizationId;
  switch (event.type) {
    case 'ApprovalRequested':
      return new Map(pending).set(id, { optimizationId: id, requestEventId: event.id, expiresAt: event.data.expiresAt });
    case 'ApprovalGranted':
      if (!event.data.final) return pending;
      break;
    case 'ApprovalDenied':
    case 'ApprovalExpired':
    case 'OptimizationCancelled':
      break;
    default:
      return pending;
  }
  if (!pending.has(id)) return pending;
  const next = new Map(pending);
  next.delete(id);
  return next;
}

/** The pending approvals within `leadHours` of their expiry at `now` and not expired yet, oldest expiry first. */
export function approvalsDueForWarning(pending: Iterable<PendingApproval>, now: Date, leadHours: number): PendingApproval[] {
  const t = now.getTime();
  return [...pending]
    .filter((p) => {
      const expires = Date.parse(p.expiresAt);
      return t < expires && t >= expires - leadHours * 3_600_000;
    })
    .sort((a, b) => a.expiresAt.localeCompare(b.expiresAt) || a.optimizationId.localeCompare(b.optimizationId));
}

/**
 * The warning that an approval is about to expire, when the optimization still awaits the request `pending` names at
 * `now`; `undefined` otherwise (decided since, or a newer request). Keyed by the request's event id.
 */
export function expiryWarningOf(pending: PendingApproval, state: OptimizationState, now: Date): Notification | undefined {
  if (state.status !== 'awaiting-approval' || state.approval.expiresAt !== pending.expiresAt) return undefined;
  // Whole minutes first, then hours and minutes of them: 1 h 59.6 min reads 2 h 0 min, never 1 h 60 min.
  const minutes = Math.round(Math.max(0, Date.parse(pending.expiresAt) - now.getTime()) / 60_000);
  const left = minutes >= 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes} min`;
  return {
    kind: 'approval-expiring',
    key: `optex:${pending.requestEventId}:expiring`,
    optimizationId: state.optimizationId,
    title: `Approval expires soon: ${describeChange(state)}`,
    summary: `Expires at ${pending.expiresAt} (in ${left}) with ${state.approval.approvers.length} of ${state.approval.requiredApprovals ?? 1} approvals; after that it is not executed.`,
    fields: [...commonFields(state), ...approvalFields(state)],
  };
}

// ── Slack-compatible message ──

export interface SlackText {
  readonly type: 'plain_text' | 'mrkdwn';
  readonly text: string;
  /** On mrkdwn: Slack takes the text as written — no URL turned into a link, no channel name or mention parsed. */
  readonly verbatim?: boolean;
}
export type SlackBlock =
  | { readonly type: 'header'; readonly text: SlackText }
  | { readonly type: 'section'; readonly text?: SlackText; readonly fields?: readonly SlackText[] }
  | { readonly type: 'context'; readonly elements: readonly SlackText[] }
  | { readonly type: 'actions'; readonly elements: readonly { readonly type: 'button'; readonly text: SlackText; readonly url: string }[] };

/** A Slack incoming-webhook body (also read by Mattermost, Rocket.Chat, Teams workflows): `text` is the fallback. */
export interface SlackMessage {
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

/** Slack's mrkdwn control characters, escaped so recorded text (resource ids, tags, reasons) can make no link or mention. */
export const escapeMrkdwn = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** At most `max` UTF-16 units, the last one `…` when cut; never half of a character outside the BMP (a lone surrogate is not Unicode). */
const cut = (text: string, max: number): string => {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
};
/** Recorded text (an AWS message) as a sentence: its own final stop kept, one added when it has none. */
const sentence = (text: string): string => (/[.!?]$/.test(text.trimEnd()) ? text.trimEnd() : `${text.trimEnd()}.`);
/** Recorded text in a mrkdwn object Slack takes verbatim: escaped, and neither linked nor parsed for mentions. */
const mrkdwn = (text: string): SlackText => ({ type: 'mrkdwn', text, verbatim: true });

/**
 * The Slack-compatible body of a notification: a header, the summary, up to 10 fields, a button to the console's
 * timeline of the optimization when `consoleUrl` is given, and a context line naming the notification's kind and the
 * optimization id.
 */
export function slackMessageOf(notification: Notification, consoleUrl?: string): SlackMessage {
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(notification.title, 150) } },
    { type: 'section', text: mrkdwn(cut(escapeMrkdwn(notification.summary), 3000)) },
    { type: 'section', fields: notification.fields.slice(0, 10).map((f) => mrkdwn(cut(`*${escapeMrkdwn(f.label)}*\n${escapeMrkdwn(f.value)}`, 2000))) },
  ];
  if (consoleUrl && notification.optimizationId !== undefined) {
    const url = new URL(`console/optimizations/${encodeURIComponent(notification.optimizationId)}`, consoleUrl.endsWith('/') ? consoleUrl : `${consoleUrl}/`).toString();
    blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in the optex console' }, url }] });
  }
  blocks.push({ type: 'context', elements: [mrkdwn(escapeMrkdwn(`optex ${notification.kind}${notification.optimizationId !== undefined ? ` · optimization ${notification.optimizationId}` : ''}`))] });
  return { text: escapeMrkdwn(`${notification.title}: ${notification.summary}`), blocks };
}
