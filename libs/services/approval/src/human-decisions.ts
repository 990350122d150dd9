import { normalizeIdentity, optimizationDecider, optimizationStream, DomainError, type OptimizationCommand, type OptimizationState, type Principal, type RosterInForce } from '@optex/domain';
import type { EventStore } from '@optex/ports';
import { handleCommand, resourceKeyOf } from '@optex/engine';

export interface HumanDecision {
  readonly optimizationId: string;
  readonly by: string;
  readonly reason?: string;
  readonly now: Date;
  /**
   * How the person was authenticated, when the decision came through the HTTP API or the console (absent: typed into
   * the CLI, which holds the store). `by` is then an identifier the caller proved (the decider matches it against the
   * roster exactly, and `names` against the requester), and the event's metadata records `via` (channel, method,
   * subject): an auditor tells an API decision from `optex approve --by` and sees which credentials made it.
   */
  readonly authenticated?: { readonly channel: 'api' | 'console'; readonly method: 'jwt' | 'api-token'; readonly subject: string; readonly names: readonly string[] };
  /**
   * The approval roster of the policy the deciding process runs with: an approval or a denial by someone not on it now
   * (with the authority the request names) is refused, even when the request, asked under an earlier roster, names them.
   */
  readonly rosterInForce?: RosterInForce;
  /**
   * For an approval: when the approval request the person looked at was asked (the API's body, the console's form);
   * one asked again since (its plan drifted) is then refused (`REQUEST_CHANGED`) instead of approved unseen.
   */
  readonly requestedAt?: string;
}

/** {@link HumanDecision.authenticated} of a caller the API or the console authenticated. */
export const authenticatedAs = (principal: Pick<Principal, 'method' | 'subject' | 'names'>, channel: 'api' | 'console'): NonNullable<HumanDecision['authenticated']> => ({
  channel,
  method: principal.method,
  subject: principal.subject,
  names: principal.names,
});

/** What a person can decide about one optimization. */
type HumanCommand = Extract<OptimizationCommand, { type: 'Approve' | 'Deny' | 'CancelOptimization' | 'RetryRollback' | 'ResolveOptimization' }>;

function commandOf(type: HumanCommand['type'], decision: HumanDecision): HumanCommand {
  const metadata = { now: decision.now };
  const text = decision.reason ?? '';
  const authenticated = decision.authenticated ? { authenticated: { names: decision.authenticated.names } } : {};
  const roster = decision.rosterInForce ? { rosterInForce: decision.rosterInForce } : {};
  switch (type) {
    case 'Approve':
      return { type, data: { by: decision.by, ...(decision.reason ? { reason: decision.reason } : {}), ...authenticated, ...roster, ...(decision.requestedAt ? { requestedAt: decision.requestedAt } : {}) }, metadata };
    case 'Deny':
      return { type, data: { by: decision.by, reason: text, ...authenticated, ...roster }, metadata };
    case 'CancelOptimization':
    case 'RetryRollback':
      return { type, data: { by: decision.by, reason: text }, metadata };
    case 'ResolveOptimization':
      return { type, data: { by: decision.by, note: text }, metadata };
  }
}

/**
 * Every decision is keyed by the person and the moment: the decider refuses what may not repeat (a second approval by
 * the same person in one request: ALREADY_APPROVED), and a person may decide again when asked again — a request
 * made after a plan drifted, a rollback that failed again. (Approvals were keyed by the person alone until the
 * twenty-sixth part: an approval of the second request got the first one's event id, the store took it for a
 * repeat, and the CLI said "approved" with nothing recorded.)
 */
const causationOf = (type: HumanCommand['type'], decision: HumanDecision): string => `${type}:${normalizeIdentity(decision.by)}:${decision.now.toISOString()}`;

async function decideAsHuman(store: EventStore, decision: HumanDecision, type: HumanCommand['type']): Promise<OptimizationState> {
  const result = await handleCommand(
    store,
    optimizationStream(decision.optimizationId),
    optimizationDecider,
    (state) => {
      if (state.status === 'initial') throw new DomainError('NOT_FOUND', `no optimization ${decision.optimizationId}`);
      return commandOf(type, decision);
    },
    {
      causationKey: causationOf(type, decision),
      recordedBy: `human:${decision.by}`,
      metadata: (state: OptimizationState) => ({
        ...(state.status === 'initial' ? {} : { resourceKey: resourceKeyOf(state.recommendation) }),
        via: decision.authenticated ? { channel: decision.authenticated.channel, method: decision.authenticated.method, subject: decision.authenticated.subject } : { channel: 'cli' },
      }),
    },
  );
  return result.state;
}

/** Records one approver's approval (CRITICAL needs two distinct approvers). Throws DomainError when not allowed. */
export const recordApproval = (store: EventStore, decision: HumanDecision): Promise<OptimizationState> => decideAsHuman(store, decision, 'Approve');

/** Records a denial; `reason` is required. Throws DomainError when not allowed. */
export const recordDenial = (store: EventStore, decision: HumanDecision): Promise<OptimizationState> => decideAsHuman(store, decision, 'Deny');

/** Operator actions: cancel (before execution), retry a failed rollback, resolve what waits for an operator. */
export type OperatorAction = 'cancel' | 'retry-rollback' | 'resolve';

const OPERATOR_COMMANDS: Record<OperatorAction, HumanCommand['type']> = { cancel: 'CancelOptimization', 'retry-rollback': 'RetryRollback', resolve: 'ResolveOptimization' };

/** Records an operator action; `reason` is the reason (cancel, retry-rollback) or the note (resolve), required. Throws DomainError when not allowed. */
export const recordOperatorAction = (store: EventStore, action: OperatorAction, decision: HumanDecision): Promise<OptimizationState> =>
  decideAsHuman(store, decision, OPERATOR_COMMANDS[action]);
