import type { ObservedResource, Recommendation } from './types';

// ── Where optex may act ──

/** The opt-out tag: a resource carrying it is never touched. */
export interface OptOutTagPolicy {
  /** @defaultValue true */
  readonly enabled: boolean;
  /** Compared case-insensitively, as IAM compares `aws:ResourceTag/<key>`. @defaultValue 'optex:skip' */
  readonly key: string;
  /** Compared case-insensitively (`True` opts out too). @defaultValue 'true' */
  readonly value: string;
}

/**
 * The scope guard of a policy: allow-lists of accounts and regions, an optional resource-id pattern and the opt-out
 * tag. An allow-list left out allows everything (the default); the opt-out tag is on by default.
 */
export interface ScopePolicy {
  /** Accounts optex may act in. @defaultValue absent: every account */
  readonly accounts?: readonly string[];
  /** Regions optex may act in. @defaultValue absent: every region */
  readonly regions?: readonly string[];
  /** A regular expression (source, case-sensitive) every `resource.id` must match. @defaultValue absent: any id */
  readonly resourceIdPattern?: string;
  readonly optOutTag: OptOutTagPolicy;
}

/** The rule a recommendation broke; each names the policy field (or the credentials) it comes from. */
export type ScopeRule = 'accounts' | 'regions' | 'resource-id-pattern' | 'opt-out-tag' | 'credentials-account';
export const SCOPE_RULES: readonly ScopeRule[] = ['accounts', 'regions', 'resource-id-pattern', 'opt-out-tag', 'credentials-account'];

export interface ScopeViolation {
  readonly rule: ScopeRule;
  /** Says which rule and why, e.g. `scope.regions: region eu-west-1 is not allowed (allowed: us-east-1)`. */
  readonly reason: string;
}

/** Characters that show as nothing: zero-width spaces and joiners, the word joiner, the byte-order mark. */
const INVISIBLE = /[\u200B-\u200D\u2060\uFEFF]/g;

/**
 * A tag key or value as a person reads it, for the opt-out tag and the risk's tag factors: without invisible
 * characters and without the white space around it, so `env=production ` or `optex:skip=true\u200B` counts as what it
 * looks like (matching fails safe: a mistyped opt-out still keeps optex away).
 */
export const tagText = (text: string): string => text.replace(INVISIBLE, '').trim();

/** The opt-out tag among `tags` as `key=value` (the resource's own spelling), or `undefined`; keys and values are compared as {@link tagText}, ignoring case. */
export function optOutTagIn(tags: Readonly<Record<string, string>> | undefined, policy: OptOutTagPolicy): string | undefined {
  if (!policy.enabled || !tags) return undefined;
  const key = tagText(policy.key).toLowerCase();
  const value = tagText(policy.value).toLowerCase();
  const hit = Object.entries(tags).find(([k, v]) => tagText(k).toLowerCase() === key && tagText(v).toLowerCase() === value);
  return hit ? `${hit[0]}=${hit[1]}` : undefined;
}

/** The allow-lists and the resource-id pattern: what the policy says about the recommendation's account, region and id. */
function allowListViolations(rec: Recommendation, scope: ScopePolicy): ScopeViolation[] {
  const violations: ScopeViolation[] = [];
  if (scope.accounts && !scope.accounts.includes(rec.accountId)) {
    violations.push({ rule: 'accounts', reason: `scope.accounts: account ${rec.accountId} is not allowed (allowed: ${scope.accounts.join(', ')})` });
  }
  if (scope.regions && !scope.regions.includes(rec.region)) {
    violations.push({ rule: 'regions', reason: `scope.regions: region ${rec.region} is not allowed (allowed: ${scope.regions.join(', ')})` });
  }
  if (scope.resourceIdPattern !== undefined) {
    const pattern = new RegExp(scope.resourceIdPattern);
    for (const id of actedOn(rec)) {
      if (!pattern.test(id)) violations.push({ rule: 'resource-id-pattern', reason: `scope.resourceIdPattern: resource id ${id} does not match /${scope.resourceIdPattern}/` });
    }
  }
  return violations;
}

/** The ids a change acts on: its resource, and a reservation purchase's offering when the recommendation names another. */
function actedOn(rec: Recommendation): string[] {
  const ids = [rec.resource.id];
  if (rec.action.type === 'purchase-reserved-instances' && rec.action.offeringId !== rec.resource.id) ids.push(rec.action.offeringId);
  return ids;
}

/**
 * What the scope guard finds when a recommendation is assessed: the allow-lists, the resource-id pattern, the opt-out
 * tag among the tags the recommendation states, and the account of the cloud credentials (`credentialsAccountId`,
 * as STS `GetCallerIdentity` or the simulated fleet reports it). An `undefined` credentials account means the cloud
 * does not say whose credentials these are (a simulated fleet file that declares no account): that check is then
 * not made. Empty = in scope.
 */
export function assessmentScopeViolations(rec: Recommendation, scope: ScopePolicy, credentialsAccountId: string | undefined): ScopeViolation[] {
  const violations = allowListViolations(rec, scope);
  const tag = optOutTagIn(rec.resource.tags, scope.optOutTag);
  if (tag) violations.push({ rule: 'opt-out-tag', reason: `scope.optOutTag: the recommendation says ${rec.resource.id} is tagged ${tag}` });
  if (credentialsAccountId !== undefined && credentialsAccountId !== rec.accountId) {
    violations.push({
      rule: 'credentials-account',
      reason: `credentials: account ${rec.accountId} is not the account of the cloud credentials (${credentialsAccountId})`,
    });
  }
  return violations;
}

/** The live resource's tags, where its kind has tags (a Reserved Instances offering has none). */
const tagsOf = (observed: ObservedResource): Readonly<Record<string, string>> | undefined =>
  observed.kind === 'reserved-instances-offering' ? undefined : observed.tags;

/**
 * What the scope guard finds at pre-validation, just before anything is changed: the allow-lists and the resource-id
 * pattern again (the policy may have changed since the assessment), and the opt-out tag on the live resource as
 * described (`observed`; nothing to check when the resource does not exist). Empty = in scope.
 */
export function preValidationScopeViolations(rec: Recommendation, scope: ScopePolicy, observed: ObservedResource | undefined): ScopeViolation[] {
  const violations = allowListViolations(rec, scope);
  const tag = observed ? optOutTagIn(tagsOf(observed), scope.optOutTag) : undefined;
  if (tag) violations.push({ rule: 'opt-out-tag', reason: `scope.optOutTag: the live resource ${rec.resource.id} is tagged ${tag}` });
  return violations;
}
