// Server-rendered HTML of the console. Every recorded value goes through `h` (HTML-escaped); data for the charts
// travels as JSON in a non-executed <script type="application/json">, with "<" escaped.
import { describeChange, monthlyCostChangeText, stepText, type BatchProgress, type ChangePlan, type KnownOptimizationState, type Principal, type SavingsGrouping, type SavingsRow, type WaitReason, usdText } from '@optex/domain';

export const h = (value: unknown): string =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const NAV: [string, string][] = [
  ['/console/approvals', 'Approvals'],
  ['/console/operator', 'Needs an operator'],
  ['/console/batches', 'Batches'],
  ['/console/savings', 'Savings'],
];

/** The page frame: skip link, navigation, the signed-in principal and a sign-out form (CSRF-protected like every POST). */
export function layout(title: string, body: string, session?: { principal: Principal; csrf: string }, scripts: string[] = []): string {
  const nav = session
    ? `<nav aria-label="Console"><ul>${NAV.map(([href, label]) => `<li><a href="${href}">${label}</a></li>`).join('')}</ul>
<form method="post" action="/console/sign-out"><input type="hidden" name="csrf" value="${h(session.csrf)}"><span>Signed in as <strong>${h(session.principal.identity)}</strong> (${h(session.principal.roles.join(', '))})</span> <button type="submit">Sign out</button></form></nav>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(title)} · optex console</title><link rel="stylesheet" href="/console/assets/console.css"></head>
<body><a class="skip" href="#main">Skip to content</a><header><p class="brand">optex console</p>${nav}</header>
<main id="main"><h1>${h(title)}</h1>${body}</main>${scripts.map((s) => `<script src="${h(s)}"></script>`).join('')}</body></html>`;
}

export function signInPage(error?: string): string {
  return layout(
    'Sign in',
    `${error ? `<p role="alert" class="error">${h(error)}</p>` : ''}
<form method="post" action="/console/sign-in" class="card">
<label for="token">Bearer token (an OIDC JWT from your identity provider, or an optex_ API token)</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Sign in</button></form>
<p>The token is kept in an HttpOnly, SameSite=Strict cookie for this console only, and checked on every page.</p>`,
  );
}

const money = (n: number): string => usdText(n);

/** The plan recorded with the request — what the approver approves — with its rollback; or why there is none. */
function planDetails(plan: ChangePlan | undefined): string {
  if (!plan) {
    const none = '<p>No plan recorded: the live resource was not seen when approval was asked for. Pre-validation derives the steps from what it observes at execution.</p>';
    return `<h4>Plan</h4>${none}<h4>Rollback</h4><p>Derived with the plan at execution.</p>`;
  }
  const list = (steps: readonly ChangePlan['steps'][number][]) => `<ol>${steps.map((s) => `<li><code>${h(stepText(s))}</code></li>`).join('')}</ol>`;
  return `<p>${h(plan.change)} (reversible: ${h(plan.reversible)})</p><h4>Plan</h4>${list(plan.steps)}<h4>Rollback</h4>${plan.rollback.length ? list(plan.rollback) : '<p>None: this change cannot be undone.</p>'}`;
}

/**
 * One approval request: what, the risk and its factors, the analyzer's estimated savings and the plan's net monthly
 * change by the price book, the expiry, the plan recorded with the request and its rollback, and the approve/deny forms.
 */
function approvalCard(s: KnownOptimizationState, csrf: string): string {
  const id = h(s.optimizationId);
  const factors = s.risk?.factors.length ? `<ul>${s.risk.factors.map((f) => `<li><strong>${h(f.factor)}</strong>: ${h(f.detail)}</li>`).join('')}</ul>` : '<p>No risk factor applied.</p>';
  return `<article class="card" aria-labelledby="t-${id}">
<h2 id="t-${id}">${h(describeChange(s))}</h2>
<dl><dt>Account / region</dt><dd>${h(s.recommendation.accountId)} / ${h(s.recommendation.region)}</dd>
<dt>Risk</dt><dd>${h(s.risk?.level ?? 'not assessed')} (needs ${h(s.approval.requiredApprovals ?? 1)} of ${h(s.approval.authority ?? 'anyone')}; ${h(s.approval.approvers.length)} so far)</dd>
<dt>Estimated savings (the analyzer's)</dt><dd>${money(s.recommendation.estimatedMonthlySavings)}/month</dd>
<dt>Net monthly cost change (price book)</dt><dd>${s.approval.plan ? h(monthlyCostChangeText(s.approval.plan)) : 'not planned yet'}</dd>
<dt>Expires</dt><dd><time datetime="${h(s.approval.expiresAt)}">${h(s.approval.expiresAt ?? 'never')}</time></dd></dl>
<h3>Risk factors</h3>${factors}
<details><summary>Plan and rollback</summary>${planDetails(s.approval.plan)}</details>
<p><a href="/console/optimizations/${id}">Timeline</a></p>
<form method="post" action="/console/optimizations/${id}/approve" class="decide"><input type="hidden" name="csrf" value="${h(csrf)}"><input type="hidden" name="requestedAt" value="${h(s.approval.requestedAt ?? '')}">
<label for="ar-${id}">Reason (optional)</label><input id="ar-${id}" name="reason" maxlength="1024"><button type="submit">Approve</button></form>
<form method="post" action="/console/optimizations/${id}/deny" class="decide"><input type="hidden" name="csrf" value="${h(csrf)}">
<label for="dr-${id}">Reason (required to deny)</label><input id="dr-${id}" name="reason" maxlength="1024" required><button type="submit" class="deny">Deny</button></form>
</article>`;
}

export function approvalsPage(queue: readonly KnownOptimizationState[], session: { principal: Principal; csrf: string }, notice?: { ok: boolean; text: string }): string {
  const message = notice ? `<p role="${notice.ok ? 'status' : 'alert'}" class="${notice.ok ? 'ok' : 'error'}">${h(notice.text)}</p>` : '';
  const body = queue.length ? queue.map((s) => approvalCard(s, session.csrf)).join('') : '<p>Nothing waits for your approval.</p>';
  return layout(`Approvals waiting for ${session.principal.identity}`, `${message}<p>${queue.length} waiting, soonest expiry first.</p>${body}`, session);
}

const row = (s: KnownOptimizationState): string =>
  `<tr><td><a href="/console/optimizations/${h(s.optimizationId)}">${h(s.optimizationId.slice(0, 8))}</a></td><td>${h(describeChange(s))}</td><td>${h(s.status)}</td><td>${h(s.rollback?.error?.message ?? s.reconciliation?.reason ?? '')}</td></tr>`;

export function operatorPage(list: readonly KnownOptimizationState[], session: { principal: Principal; csrf: string }): string {
  const table = list.length
    ? `<table><caption>Stopped by the engine, waiting for a person (retry-rollback or resolve)</caption><thead><tr><th scope="col">Id</th><th scope="col">Change</th><th scope="col">Status</th><th scope="col">Why</th></tr></thead><tbody>${list.map(row).join('')}</tbody></table>`
    : '<p>Nothing needs an operator.</p>';
  return layout('Needs an operator', table, session);
}

export function batchesPage(batches: readonly BatchProgress[], session: { principal: Principal; csrf: string }): string {
  const table = batches.length
    ? `<table><caption>Optimizations per batch, by status</caption><thead><tr><th scope="col">Batch</th><th scope="col">Total</th><th scope="col">By status</th></tr></thead><tbody>${batches
        .map((b) => `<tr><td>${h(b.batchId)}</td><td>${b.total}</td><td>${Object.entries(b.byStatus).map(([status, n]) => `${h(status)}: ${n}`).join(', ')}</td></tr>`)
        .join('')}</tbody></table>`
    : '<p>No batch has been scheduled.</p>';
  return layout('Batch progress', table, session);
}

export interface TimelineEvent {
  readonly type: string;
  readonly recordedAt: string;
  readonly data: unknown;
}

export function timelinePage(state: KnownOptimizationState, events: readonly TimelineEvent[], session: { principal: Principal; csrf: string }, waiting?: WaitReason): string {
  const items = events
    .map((e) => `<li><time datetime="${h(e.recordedAt)}">${h(e.recordedAt)}</time> <strong>${h(e.type)}</strong><details><summary>Data</summary><pre>${h(JSON.stringify(e.data, null, 2))}</pre></details></li>`)
    .join('');
  const until = waiting?.until ? ` until <time datetime="${h(waiting.until)}">${h(waiting.until)}</time>` : waiting ? ' until it is lifted' : '';
  const why = waiting ? `<p class="waiting" role="status">Waits for the <strong>${h(waiting.hold)}</strong>${until}: ${h(waiting.reason)}</p>` : '';
  return layout(`Timeline: ${describeChange(state)}`, `<p>Optimization <code>${h(state.optimizationId)}</code>, now <strong>${h(state.status)}</strong>.</p>${why}<ol class="timeline">${items}</ol>`, session);
}

/** Realized against estimated savings as bar charts (chart.js, configured by console.js from the JSON below). */
export function savingsPage(data: Readonly<Record<SavingsGrouping, readonly SavingsRow[]>>, session: { principal: Principal; csrf: string }): string {
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const sections = (Object.keys(data) as SavingsGrouping[])
    .map(
      (by) => `<section aria-labelledby="s-${by}"><h2 id="s-${by}">By ${by}</h2><div class="chart"><canvas id="chart-${by}" data-by="${by}" role="img" aria-label="Realized and estimated monthly savings by ${by}"></canvas></div>
<table><caption>Savings by ${by} (USD per month, completed optimizations)</caption><thead><tr><th scope="col">${by}</th><th scope="col">Completed</th><th scope="col">Estimated</th><th scope="col">Realized</th><th scope="col">Unpriced</th></tr></thead><tbody>${data[by]
        .map((r) => `<tr><td>${h(r.key)}</td><td>${r.completed}</td><td>${money(r.estimatedMonthlySavings)}</td><td>${money(r.realizedMonthlySavings)}</td><td>${r.unpriced}</td></tr>`)
        .join('')}</tbody></table></section>`,
    )
    .join('');
  return layout('Savings: realized vs estimated', `<script type="application/json" id="savings-data">${json}</script>${sections}`, session, ['/console/assets/chart.umd.js', '/console/assets/console.js']);
}

/** The console's only script: reads the JSON and hands it to chart.js (no chart drawing of its own). */
export const CONSOLE_JS = `document.addEventListener('DOMContentLoaded', function () {
  var el = document.getElementById('savings-data');
  if (!el || typeof Chart === 'undefined') return;
  var data = JSON.parse(el.textContent);
  document.querySelectorAll('canvas[data-by]').forEach(function (canvas) {
    var rows = data[canvas.dataset.by] || [];
    new Chart(canvas, {
      type: 'bar',
      data: {
        labels: rows.map(function (r) { return r.key; }),
        datasets: [
          { label: 'Estimated $/month', data: rows.map(function (r) { return r.estimatedMonthlySavings; }), backgroundColor: '#1f4e79' },
          { label: 'Realized $/month', data: rows.map(function (r) { return r.realizedMonthlySavings; }), backgroundColor: '#2e7d32' }
        ]
      },
      options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } }
    });
  });
});
`;

export const CONSOLE_CSS = `*{box-sizing:border-box}body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff}
header{background:#0b2545;color:#fff;padding:.5rem 1.5rem;display:flex;flex-wrap:wrap;align-items:center;gap:1rem}
header a{color:#fff}.brand{font-weight:700;margin:0}nav{display:flex;flex-wrap:wrap;align-items:center;gap:1rem;flex:1}
nav ul{list-style:none;display:flex;gap:1rem;margin:0;padding:0}nav form{margin-left:auto}
main{max-width:72rem;margin:0 auto;padding:1rem 1.5rem}.card{border:1px solid #767676;border-radius:6px;padding:1rem;margin:1rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}
label{display:block;font-weight:600;margin-top:.5rem}input{font:inherit;padding:.4rem;border:1px solid #555;border-radius:4px;width:min(100%,32rem)}
button{font:inherit;padding:.4rem 1rem;margin:.5rem 0;border:0;border-radius:4px;background:#0b5394;color:#fff;cursor:pointer}button.deny{background:#a61b1b}
:focus-visible{outline:3px solid #f9a825;outline-offset:2px}.decide{display:inline-block;margin-right:2rem;vertical-align:top}
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border:1px solid #999;padding:.3rem .6rem;text-align:left}caption{text-align:left;font-weight:600}
.chart{position:relative;height:18rem}.error{color:#a61b1b;font-weight:600}.ok{color:#1b5e20;font-weight:600}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.5rem}pre{white-space:pre-wrap;background:#f4f4f4;padding:.5rem}
`;
