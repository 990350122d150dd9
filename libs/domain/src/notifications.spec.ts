import { AT, OPT_ID, ev, recs } from './__fixtures__';
import { foldOptimization } from './decider';
import type { OptimizationEvent } from './events';
import { approvalsDueForWarning, expiryWarningOf, notificationOf, slackMessageOf, trackPendingApprovals, type IdentifiedEvent, type Notification, type PendingApproval } from './notifications';
import { defaultPolicy, parsePolicy } from './policy';

const EXPIRES = '2026-03-08T10:00:00.000Z';
const received = ev('OptimizationReceived', { recommendation: { ...recs.rightsize, resource: { ...recs.rightsize.resource, id: 'i-<!channel>' } }, dryRun: false, deliveryId: 'd-1' });
const assessed = ev('RiskAssessed', { baseLevel: 'MEDIUM', level: 'HIGH', factors: [{ factor: 'production', detail: 'tag env=prod marks a production resource' }], policyVersion: 'default-v1' });
const requested = ev('ApprovalRequested', { authority: 'finops-manager', requiredApprovals: 1, expiresAt: EXPIRES, eligibleApprovers: [{ id: 'bob@acme.example' }] });
const rollbackStep = { kind: 'modify-instance-type', instanceId: 'i-0abc', instanceType: 'm5.xlarge' } as const;
const executed = [
  ev('ApprovalGranted', { mode: 'manual', by: 'bob@acme.example', approvers: ['bob@acme.example'], final: true }),
  ev('ExecutionScheduled', { batchId: 'b-1', notBefore: AT, priority: 'HIGH' }),
  ev('ExecutionStarted', { dryRun: false }),
  ev('PreValidationPassed', { observed: { kind: 'instance', id: 'i-0abc', instanceType: 'm5.xlarge', state: 'running', tags: {} } }),
  ev('RollbackPlanRecorded', { steps: [rollbackStep], reversible: 'yes' }),
  ev('ExecutionFailed', { error: { code: 'InsufficientInstanceCapacity', message: 'no capacity' }, durationMs: 10 }),
  ev('RollbackStarted', { reason: 'execution failed', steps: [rollbackStep] }),
];

/** Given the events of a stream (the last one recorded with `id`), when it is mapped, then this notification. */
const given = (events: readonly OptimizationEvent[], id = 'e-last') => ({
  notification: (): Notification | undefined => notificationOf({ ...events[events.length - 1]!, id } as IdentifiedEvent, foldOptimization(events)),
});

describe('notificationOf: which events of the log are notified', () => {
  it('given a recommendation assessed HIGH, when approval is requested, then approvers are told what, the risk factors, savings, who and the expiry, keyed by the event id', () => {
    const n = given([received, assessed, requested], 'ev-42').notification();
    expect(n).toMatchObject({ kind: 'approval-requested', key: 'optex:ev-42', optimizationId: OPT_ID, title: 'Approval requested: rightsize i-<!channel> m5.xlarge → m5.large' });
    expect(n!.summary).toBe(`HIGH risk: needs 1 approval of finops-manager before ${EXPIRES}.`);
    expect(n!.fields).toEqual(
      expect.arrayContaining([
        { label: 'Estimated savings', value: '$70.08/month' },
        { label: 'Risk factors', value: 'production: tag env=prod marks a production resource' },
        { label: 'Who may decide', value: 'finops-manager: bob@acme.example' },
        { label: 'Expires', value: EXPIRES },
      ]),
    );
  });

  it('given a rollback under way, when it fails, then on-call is told the error and the step that failed', () => {
    const failed = ev('RollbackFailed', { error: { code: 'IncorrectInstanceState', message: 'instance is pending' }, failedStepIndex: 0 });
    const n = given([received, assessed, requested, ...executed, failed]).notification();
    expect(n).toMatchObject({ kind: 'rollback-failed', title: 'Rollback failed: rightsize i-<!channel> m5.xlarge → m5.large' });
    expect(n!.summary).toMatch(/^IncorrectInstanceState: instance is pending\. .*retry the rollback or resolve it/);
    expect(n!.fields).toContainEqual({ label: 'Failed rollback step', value: '#0 modify-instance-type' });
    // An AWS message that ends its own sentence gets no second stop.
    const dotted = ev('RollbackFailed', { error: { code: 'Unsupported', message: 'Please check the documentation for supported configurations.' }, failedStepIndex: 0 });
    expect(given([received, assessed, requested, ...executed, dotted]).notification()!.summary).toMatch(/^Unsupported: Please check the documentation for supported configurations\. The resource may be half changed/);
  });

  it('given an execution step in flight, when its effect cannot be confirmed, then an operator is asked to reconcile', () => {
    const step = { kind: 'modify-instance-type', instanceId: 'i-0abc', instanceType: 'm5.large' } as const;
    const events = [received, assessed, requested, ...executed.slice(0, 5), ev('ExecutionStepStarted', { index: 0, step, clientToken: 'tok-1' }), ev('ReconciliationRequired', { phase: 'execution', index: 0, step, clientToken: 'tok-1', reason: 'EC2 cannot say' })];
    const n = given(events).notification();
    expect(n).toMatchObject({ kind: 'reconciliation-needed' });
    expect(n!.fields).toContainEqual({ label: 'Step', value: 'execution #0 modify-instance-type' });
  });

  it.each<[string, OptimizationEvent[]]>([
    ['the recommendation is received', [received]],
    ['the risk is assessed', [received, assessed]],
    ['the approval is granted', [received, assessed, requested, executed[0]!]],
    ['a rollback starts', [received, assessed, requested, ...executed]],
  ])('when %s, then nothing is notified', (_what, events) => {
    expect(given(events).notification()).toBeUndefined();
  });
});

describe('approvals about to expire', () => {
  const track = (events: IdentifiedEvent[]) => events.reduce((p, e) => trackPendingApprovals(p, e), new Map() as ReadonlyMap<string, PendingApproval>);
  const withId = (e: OptimizationEvent, id: string) => ({ ...e, id }) as IdentifiedEvent;

  it('given an approval requested, it is pending until a final grant, a denial, an expiry or a cancellation', () => {
    const pending = track([withId(received, 'e1'), withId(requested, 'e3')]);
    expect([...pending.values()]).toEqual([{ optimizationId: OPT_ID, requestEventId: 'e3', expiresAt: EXPIRES }]);
    expect(trackPendingApprovals(pending, withId(ev('ApprovalGranted', { mode: 'manual', by: 'a', approvers: ['a'], final: false }), 'e4')).size).toBe(1);
    for (const end of [
      ev('ApprovalGranted', { mode: 'manual', by: 'a', approvers: ['a', 'b'], final: true }),
      ev('ApprovalDenied', { by: 'a', reason: 'no' }),
      ev('ApprovalExpired', { expiresAt: EXPIRES }),
      ev('OptimizationCancelled', { by: 'a', reason: 'no' }),
    ]) {
      expect(trackPendingApprovals(pending, withId(end, 'e5')).size).toBe(0);
    }
  });

  it('is due within the lead time before the expiry, and no longer once expired', () => {
    const p: PendingApproval = { optimizationId: OPT_ID, requestEventId: 'e3', expiresAt: EXPIRES };
    expect(approvalsDueForWarning([p], new Date('2026-03-07T09:59:59.000Z'), 24)).toEqual([]);
    expect(approvalsDueForWarning([p], new Date('2026-03-07T10:00:00.000Z'), 24)).toEqual([p]);
    expect(approvalsDueForWarning([p], new Date('2026-03-08T10:00:00.000Z'), 24)).toEqual([]);
  });

  it('warns, keyed by the request event, only while the optimization still awaits that request', () => {
    const p: PendingApproval = { optimizationId: OPT_ID, requestEventId: 'e3', expiresAt: EXPIRES };
    const now = new Date('2026-03-08T07:30:00.000Z');
    const warning = expiryWarningOf(p, foldOptimization([received, assessed, requested]), now);
    expect(warning).toMatchObject({ kind: 'approval-expiring', key: 'optex:e3:expiring', title: 'Approval expires soon: rightsize i-<!channel> m5.xlarge → m5.large' });
    expect(warning!.summary).toBe(`Expires at ${EXPIRES} (in 2 h 30 min) with 0 of 1 approvals; after that it is not executed.`);
    expect(expiryWarningOf(p, foldOptimization([received, assessed, requested, executed[0]!]), now)).toBeUndefined();
  });

  it('says the time left in whole minutes: 1 h 59 min 40 s reads 2 h 0 min (it read 1 h 60 min), 59 min 40 s reads 1 h 0 min, 20 s reads 0 min', () => {
    const p: PendingApproval = { optimizationId: OPT_ID, requestEventId: 'e3', expiresAt: EXPIRES };
    const left = (ms: number) => /\(in ([^)]*)\)/.exec(expiryWarningOf(p, foldOptimization([received, assessed, requested]), new Date(Date.parse(EXPIRES) - ms))!.summary)![1];
    expect([left(7_180_000), left(3_580_000), left(20_000), left(90 * 60_000)]).toEqual(['2 h 0 min', '1 h 0 min', '0 min', '1 h 30 min']);
  });
});

describe('slackMessageOf', () => {
  const n = given([received, assessed, requested], 'ev-42').notification()!;

  it('has a fallback text and blocks, with recorded text escaped so it makes no mention or link', () => {
    const message = slackMessageOf(n);
    expect(message.text).toContain('i-&lt;!channel&gt;');
    const mrkdwn = JSON.stringify(message.blocks.filter((b) => b.type !== 'header')); // a header is plain text: Slack parses nothing in it
    expect(mrkdwn).not.toContain('<!channel>');
    expect(message.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context']);
  });

  it('gives Slack its mrkdwn verbatim (no URL made a link, no @here or #channel parsed), and never cuts a character in two', () => {
    const message = slackMessageOf({ ...n, title: `${'a'.repeat(148)}😀tail`, summary: 'approve at https://evil.example/login @here #general' });
    const texts = message.blocks.flatMap((b): readonly { type: string }[] => ('text' in b && b.text ? [b.text] : 'fields' in b && b.fields ? b.fields : 'elements' in b ? b.elements : []));
    for (const t of texts.filter((t) => t.type === 'mrkdwn')) expect(t).toMatchObject({ verbatim: true });
    const header = (message.blocks[0] as { text: { text: string } }).text.text;
    expect(header).toBe(`${'a'.repeat(148)}…`); // the emoji would have been cut in half at 149: it goes whole
    expect(/[\ud800-\udbff](?![\udc00-\udfff])/.test(header)).toBe(false); // no lone high surrogate
  });

  it('links to the optimization in the console when its URL is configured', () => {
    const message = slackMessageOf(n, 'https://optex.acme.example/');
    expect(message.blocks).toContainEqual({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in the optex console' }, url: `https://optex.acme.example/console/optimizations/${OPT_ID}` }] });
  });
});

describe('the policy file: notifications', () => {
  it('defaults to no webhooks and a 24-hour warning; a webhook without events gets every kind', () => {
    expect(defaultPolicy.notifications).toEqual({ webhooks: [], expiryWarningHours: 24 });
    const parsed = parsePolicy({ notifications: { webhooks: [{ name: 'finops', url: 'https://hooks.slack.com/services/T/B/X' }] } });
    expect(parsed.ok && parsed.value.notifications.webhooks[0]!.events).toEqual(['approval-requested', 'approval-expiring', 'rollback-failed', 'reconciliation-needed', 'circuit-breaker-open']);
  });

  it('names the field of every problem', () => {
    const parsed = parsePolicy({
      notifications: {
        webhooks: [
          { name: 'a', url: 'http://hooks.example.com/x', events: ['approval-requested', 'breaker-open'] },
          { name: 'a', url: 'not a url', events: [] },
        ],
        consoleUrl: 'ftp://console',
      },
    });
    expect(parsed.ok).toBe(false);
    const paths = parsed.ok ? [] : parsed.errors.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(['notifications.webhooks.0.url', 'notifications.webhooks.0.events.1', 'notifications.webhooks.1.url', 'notifications.webhooks.1.events', 'notifications.consoleUrl']),
    );
    expect(parsed.ok ? '' : parsed.errors.find((e) => e.path === 'notifications.webhooks.0.url')!.message).toMatch(/must be https \(plain http only on loopback\)/);
  });

  it('refuses duplicate names, and a warning lead not shorter than the expiry', () => {
    const dup = parsePolicy({ notifications: { webhooks: [{ name: 'a', url: 'https://x.example' }, { name: 'a', url: 'https://y.example' }] } });
    expect(dup.ok ? [] : dup.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^notifications\.webhooks.*unique/)]);
    const lead = parsePolicy({ approval: { expiryHours: 12 }, notifications: { expiryWarningHours: 12, webhooks: [{ name: 'a', url: 'https://x.example' }] } });
    expect(lead.ok ? [] : lead.errors).toEqual([{ path: 'notifications.expiryWarningHours', message: expect.stringMatching(/must be less than approval\.expiryHours \(12\)/) }]);
    expect(parsePolicy({ approval: { expiryHours: 12 }, notifications: { webhooks: [{ name: 'x', url: 'https://x.example', events: ['rollback-failed'] }] } }).ok).toBe(true);
    expect(parsePolicy({ notifications: { webhooks: [{ name: 'local', url: 'http://127.0.0.1:9000/hook' }] } }).ok).toBe(true);
  });

  it('refuses a URL holding a user name or password (fetch never sends it, and retried it for ever)', () => {
    for (const url of ['https://svc:s3cr3t@hooks.example/x', 'http://svc@127.0.0.1:9000/hook']) {
      const parsed = parsePolicy({ notifications: { webhooks: [{ name: 'creds', url }] } });
      expect(parsed.ok ? [] : parsed.errors).toEqual([{ path: 'notifications.webhooks.0.url', message: expect.stringMatching(/must not hold a user name or password/) }]);
    }
  });
});
