import { exactIdentifier, normalizeIdentity, rosterEntryFor, type RosterEntry } from './roster';

// ── Who may call the operator surface (HTTP API, console) ──

/**
 * What a caller may do: `reader` lists, shows, reads history, metrics and savings; `approver` approves and denies
 * (the decider still checks the authority the request names, four eyes and the roster); `operator` cancels, retries a
 * failed rollback, resolves, pauses and resumes execution and lets a halted batch go on; `submitter` submits
 * recommendations.
 */
export const ROLES = ['reader', 'approver', 'operator', 'submitter'] as const;
export type Role = (typeof ROLES)[number];

/** What authentication established about a caller (a verified JWT's claims, or a static API token's entry). */
export interface Credentials {
  /** The JWT `sub` (or the configured subject claim), or the static token's subject. */
  readonly subject: string;
  /** Other names the caller goes by (e-mail, preferred_username…): mapped onto the roster like the subject. */
  readonly names: readonly string[];
  /** Roles as claimed by the verified token (unknown ones are ignored). */
  readonly roles: readonly string[];
  readonly method: 'jwt' | 'api-token';
}

/** An authenticated caller: the identity decisions are recorded under, and the roles it holds. */
export interface Principal {
  /** The roster id the caller maps onto (normalized as the roster's ids are), else its subject as {@link exactIdentifier} keys it: what `by` of a decision becomes. */
  readonly identity: string;
  readonly subject: string;
  /** Every name the credentials gave (the subject, then the name claims), as given: who the caller is, for the requester rule. */
  readonly names: readonly string[];
  readonly roles: readonly Role[];
  readonly method: Credentials['method'];
  /** Whether the caller maps onto a roster entry. */
  readonly onRoster: boolean;
}

const isRole = (name: string): name is Role => (ROLES as readonly string[]).includes(name);

/**
 * Maps verified credentials onto the approver roster: by subject first, then by each other name, each equal to an id
 * or alias as it is, letter case aside ({@link rosterEntryFor} `exact`: never after Unicode normalization, which would let
 * `Ｃａｒｏｌ` or `da\u00adve` be carol or dave). A roster entry is an approver and a reader whatever the token claims;
 * everything else comes from the claimed roles. The recorded identity is the roster id, or the subject keyed exactly.
 */
export function principalOf(credentials: Credentials, roster: readonly RosterEntry[]): Principal {
  const entry = [credentials.subject, ...credentials.names].map((name) => rosterEntryFor(roster, name, true)).find((e) => e !== undefined);
  const roles = new Set<Role>(credentials.roles.map(normalizeIdentity).filter(isRole));
  if (entry) {
    roles.add('approver');
    roles.add('reader');
  }
  return {
    identity: entry ? normalizeIdentity(entry.id) : exactIdentifier(credentials.subject),
    subject: credentials.subject,
    names: [credentials.subject, ...credentials.names],
    roles: ROLES.filter((r) => roles.has(r)),
    method: credentials.method,
    onRoster: entry !== undefined,
  };
}

/** The answer to "may this caller do what needs `role`": 401 without a caller, 403 with the reason when it lacks the role. */
export type AccessDecision = { readonly allowed: true; readonly principal: Principal } | { readonly allowed: false; readonly status: 401 | 403; readonly reason: string };

export function authorize(principal: Principal | undefined, role: Role, unauthenticatedReason = 'no credentials: send Authorization: Bearer <token>'): AccessDecision {
  if (!principal) return { allowed: false, status: 401, reason: unauthenticatedReason };
  if (!principal.roles.includes(role)) {
    const held = principal.roles.length ? `holds ${principal.roles.join(', ')}` : 'holds no role';
    return { allowed: false, status: 403, reason: `${principal.identity} ${held}; this needs the ${role} role` };
  }
  return { allowed: true, principal };
}
