import { z } from 'zod';
import { fieldErrorsOf } from './field-errors';
import { isKnownRegion } from './aws-catalog';
import { reversibility } from './plans';
import type { ScopePolicy } from './scope';
import { isPriced, quoteInstance } from './pricing';
import type { PriceBook } from './pricing';
import { ACTION_TYPES, RISK_LEVELS } from './types';
import type { ActionType, AppliedFactor, ApprovalDecision, Authority, LiveResource, ObservedResource, Recommendation, RiskAssessment, RiskBasis, RiskLevel } from './types';
import { quoteInUse } from './savings';
import { addedMonthlyCost, pricedMonthlySavings, unpricedAddition, type ChangePlan } from './change-plan';
import type { ParseResult } from './recommendation';
import { eligibleApprovers, holdsAuthority, rosterSchema, type RosterEntry } from './roster';
import { tagText } from './scope';
import { DEFAULT_API_BUDGET, apiBudgetSchema, type ApiBudgetPolicy } from './api-budget';
import { DEFAULT_CHANGE_WINDOWS, changeWindowsSchema, type ChangeWindowPolicy } from './change-windows';
import { DEFAULT_COOL_DOWN, coolDownSchema, type CoolDownPolicy } from './cool-down';
import { NOTIFICATION_KINDS, type NotificationKind } from './notifications';
import { DEFAULT_BLAST_RADIUS, blastRadiusSchema, type BlastRadiusPolicy } from './blast-radius';
import { DEFAULT_STAGED_ROLLOUT, stagedRolloutSchema, type StagedRolloutPolicy } from './staged-rollout';
import { DEFAULT_BACKUPS, backupsSchema, type BackupPolicy } from './backups';

// ── The policy ──

/** A tag-based risk factor: a tag whose key matches `tagKeyPattern` has a value matching `tagValuePattern` (both case-insensitive regex sources). */
export interface TagFactorPolicy {
  readonly enabled: boolean;
  readonly tagKeyPattern: string;
  readonly tagValuePattern: string;
}

/** Risk and approval rules. {@link defaultPolicy} is the design's pinned default; a policy file overrides parts of it ({@link parsePolicy}). */
export interface Policy {
  /** Recorded on every risk assessment. @defaultValue 'default-v1' */
  readonly version: string;
  readonly risk: {
    /** Starting level per action. */
    readonly baseLevels: Readonly<Record<ActionType, RiskLevel>>;
    /** Each applied factor raises the level by one, capped at CRITICAL. */
    readonly factors: {
      readonly production: TagFactorPolicy;
      readonly criticality: TagFactorPolicy;
      readonly large: {
        readonly enabled: boolean;
        /** Actions the factor applies to. @defaultValue ['rightsize', 'stop-idle'] */
        readonly actions: readonly ActionType[];
        /** `<N>xlarge` sizes with N at least this count as large. @defaultValue 8 */
        readonly minXlargeMultiplier: number;
        /** `metal*` sizes count as large. @defaultValue true */
        readonly metal: boolean;
        /** `resource.monthlyCost` at or above this counts as large. @defaultValue 1000 */
        readonly monthlyCostAtLeast: number;
      };
      readonly bigImpact: {
        readonly enabled: boolean;
        /** `estimatedMonthlySavings` strictly above this is a big impact. @defaultValue 5000 */
        readonly savingsAbove: number;
      };
      /** delete-snapshot, delete-volume without a snapshot. */
      readonly irreversible: { readonly enabled: boolean };
      /**
       * The change costs more per month than it saves, by the price book (a rightsize to a dearer type in the
       * recommendation's region). Such a change is never approved automatically. @defaultValue enabled
       */
      readonly costsMore: { readonly enabled: boolean };
    };
  };
  readonly approval: {
    /**
     * Approved automatically when the level is at most `maxLevel` and the savings at most `maxMonthlySavings`
     * (inclusive), and a reservation purchase's upfront price at most `maxUpfront` (inclusive; `null`: any upfront
     * price, as the pinned default policy has it). @defaultValue enabled, LOW, 500, maxUpfront null
     */
    readonly autoApprove: { readonly enabled: boolean; readonly maxLevel: RiskLevel; readonly maxMonthlySavings: number; readonly maxUpfront: number | null };
    /** Who decides, per risk level. */
    readonly authority: Readonly<Record<RiskLevel, Authority>>;
    /** Distinct approvers needed, per risk level. @defaultValue CRITICAL 2, others 1 */
    readonly requiredApprovals: Readonly<Record<RiskLevel, number>>;
    /** A request not decided within this many hours expires. @defaultValue 168 (7 days) */
    readonly expiryHours: number;
    /**
     * Who may decide: people and their authorities (see roster.ts). Empty (the default): any name decides, compared
     * normalized. Otherwise only an entry holding the requested authority (or, with `higherAuthorityDecides`, a
     * higher one) may approve or deny. @defaultValue []
     */
    readonly roster: readonly RosterEntry[];
    /** A holder of a higher authority (change-board > finops-manager > team-lead) may decide a lower request. @defaultValue true */
    readonly higherAuthorityDecides: boolean;
  };
  /** Post-validation of a change's performance (see performance.ts). */
  readonly validation: {
    /** CPU p95 after the change strictly above this (percent) is a degradation. @defaultValue 80 */
    readonly maxCpuP95AfterPct: number;
    /** Memory used (CloudWatch agent `mem_used_percent`) after the change strictly above this (percent) is a degradation. @defaultValue 90 */
    readonly maxMemoryUsedPctAfter: number;
    /** Network in or out falling by more than this share (percent of the rate before) is a degradation. @defaultValue 50 */
    readonly maxNetworkDropPct: number;
    /**
     * Minutes the validator waits after the change before it reads the "after" metrics, over a window that starts when
     * the change ended. @defaultValue 0 (the simulated fleet answers at once; on AWS use at least 10: basic monitoring
     * publishes every 5 minutes, and an empty window is unknown)
     */
    readonly soakMinutes: number;
    /** A metric without data after the change (unknown) fails the validation instead of being recorded as unknown. @defaultValue false */
    readonly unknownBlocks: boolean;
  };
  /** Where optex may act: allow-lists (absent = everything) and the opt-out tag (on, `optex:skip=true`). See scope.ts. */
  readonly scope: ScopePolicy;
  /** What optex allows itself of each account-region's EC2 request budget (see api-budget.ts). */
  readonly apiBudget: ApiBudgetPolicy;
  /** When execution may start: maintenance windows and freezes (see change-windows.ts). @defaultValue none: any time */
  readonly changeWindows: ChangeWindowPolicy;
  /** How much changes before a person looks: per account, region and action per day, per batch, and the error threshold (see blast-radius.ts). */
  readonly blastRadius: BlastRadiusPolicy;
  /** A batch as stages (one, a canary share, the rest), each gated on the previous (see staged-rollout.ts). @defaultValue off */
  readonly stagedRollout: StagedRolloutPolicy;
  /** No execution starts on a resource within `coolDown.days` of the last change to it (see cool-down.ts). @defaultValue 0 days: off */
  readonly coolDown: CoolDownPolicy;
  /** Outgoing webhooks (Slack-compatible JSON). @defaultValue no webhooks, warnings 24 hours before an approval expires */
  readonly notifications: NotificationPolicy;
  /** How long a delete-volume's backup snapshot is kept before `optex backups expire` deletes it (see backups.ts). @defaultValue 30 days */
  readonly backups: BackupPolicy;
}

/** One outgoing webhook: where, and which notifications it wants. */
export interface WebhookPolicy {
  /** Names it in logs and metrics (the URL is a secret and is never logged). */
  readonly name: string;
  /** https, or http on loopback only. */
  readonly url: string;
  /** @defaultValue every kind */
  readonly events: readonly NotificationKind[];
  /**
   * The environment variable of the `optex api` process that holds the key its POSTs are signed with (HMAC-SHA256 of
   * `<timestamp>.<body>`, in `X-Optex-Signature: v1=<hex>` with `X-Optex-Timestamp`), so a receiver can tell optex's
   * notifications from anyone else's. The key itself never goes in the policy, which is recorded with the store.
   * @defaultValue not signed
   */
  readonly signingSecretEnv?: string;
}

export interface NotificationPolicy {
  /** @defaultValue [] */
  readonly webhooks: readonly WebhookPolicy[];
  /** Warn this many hours before a pending approval expires; less than `approval.expiryHours` when a webhook wants the warning. @defaultValue 24 */
  readonly expiryWarningHours: number;
  /** Where the console is (notifications link to the optimization's timeline there). */
  readonly consoleUrl?: string;
}

/** The design's pinned default policy (`default-v1`). */
export const defaultPolicy: Policy = {
  version: 'default-v1',
  risk: {
    baseLevels: {
      'purchase-reserved-instances': 'LOW',
      'modify-volume': 'LOW',
      rightsize: 'MEDIUM',
      'stop-idle': 'MEDIUM',
      'delete-volume': 'HIGH',
      'delete-snapshot': 'HIGH',
      'release-address': 'HIGH',
    },
    factors: {
      production: { enabled: true, tagKeyPattern: '^(env|environment|stage)$', tagValuePattern: '^prod(uction)?$' },
      criticality: { enabled: true, tagKeyPattern: '^criticality$', tagValuePattern: '^(high|critical)$' },
      large: { enabled: true, actions: ['rightsize', 'stop-idle'], minXlargeMultiplier: 8, metal: true, monthlyCostAtLeast: 1000 },
      bigImpact: { enabled: true, savingsAbove: 5000 },
      irreversible: { enabled: true },
      costsMore: { enabled: true },
    },
  },
  approval: {
    autoApprove: { enabled: true, maxLevel: 'LOW', maxMonthlySavings: 500, maxUpfront: null },
    authority: { LOW: 'team-lead', MEDIUM: 'team-lead', HIGH: 'finops-manager', CRITICAL: 'change-board' },
    requiredApprovals: { LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 2 },
    expiryHours: 168,
    roster: [],
    higherAuthorityDecides: true,
  },
  validation: { maxCpuP95AfterPct: 80, maxMemoryUsedPctAfter: 90, maxNetworkDropPct: 50, soakMinutes: 0, unknownBlocks: false },
  scope: { optOutTag: { enabled: true, key: 'optex:skip', value: 'true' } },
  apiBudget: DEFAULT_API_BUDGET,
  changeWindows: DEFAULT_CHANGE_WINDOWS,
  blastRadius: DEFAULT_BLAST_RADIUS,
  stagedRollout: DEFAULT_STAGED_ROLLOUT,
  coolDown: DEFAULT_COOL_DOWN,
  notifications: { webhooks: [], expiryWarningHours: 24 },
  backups: DEFAULT_BACKUPS,
};

// ── Parsing a policy file ──

const riskLevel = z.enum(RISK_LEVELS as unknown as ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']);
const actionType = z.enum(ACTION_TYPES as unknown as [ActionType, ...ActionType[]]);
const authority = z.enum(['team-lead', 'finops-manager', 'change-board']);
const regexSource = z.string().refine(
  (source) => {
    try {
      new RegExp(source, 'i');
      return true;
    } catch {
      return false;
    }
  },
  { error: 'must be a valid regular expression' },
);
const atLeastOne = <T extends z.ZodType>(item: T, what: string) =>
  z.array(item).min(1, { error: `must list at least one ${what}; leave the field out to allow every ${what}` });
const tagFactor = z.strictObject({ enabled: z.boolean(), tagKeyPattern: regexSource, tagValuePattern: regexSource });
const nonNegative = () => z.number().min(0, { error: 'must be at least 0' });
const isLoopback = (url: URL): boolean => ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
const webUrl = (what: string) =>
  z.url({ error: 'must be a URL' }).refine(
    (u) => {
      if (!URL.canParse(u)) return true; // reported by z.url
      const url = new URL(u);
      return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url));
    },
    { error: `${what} must be https (plain http only on loopback)` },
  ).refine(
    (u) => {
      if (!URL.canParse(u)) return true;
      const url = new URL(u);
      return url.username === '' && url.password === '';
    },
    // fetch refuses such a URL on every attempt, and its error quoted the URL, secret and all, into the logs.
    { error: `${what} must not hold a user name or password (user:password@host): the POST would never be sent` },
  );
const percent = () => z.number({ error: 'must be a percentage' }).min(0, { error: 'must be at least 0' }).max(100, { error: 'must be at most 100' });
const perLevel = <T extends z.ZodType>(value: T) => z.strictObject({ LOW: value, MEDIUM: value, HIGH: value, CRITICAL: value });

/** zod schema of a complete policy (what {@link parsePolicy} checks after merging the override onto the default). */
export const policySchema = z.strictObject({
  version: z.string().min(1, { error: 'must not be empty' }),
  risk: z.strictObject({
    baseLevels: z.strictObject(Object.fromEntries(ACTION_TYPES.map((a) => [a, riskLevel])) as Record<ActionType, typeof riskLevel>),
    factors: z.strictObject({
      production: tagFactor,
      criticality: tagFactor,
      large: z.strictObject({
        enabled: z.boolean(),
        actions: z.array(actionType),
        minXlargeMultiplier: z.number().int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }),
        metal: z.boolean(),
        monthlyCostAtLeast: nonNegative(),
      }),
      bigImpact: z.strictObject({ enabled: z.boolean(), savingsAbove: nonNegative() }),
      irreversible: z.strictObject({ enabled: z.boolean() }),
      costsMore: z.strictObject({ enabled: z.boolean() }),
    }),
  }),
  approval: z.strictObject({
    autoApprove: z.strictObject({ enabled: z.boolean(), maxLevel: riskLevel, maxMonthlySavings: nonNegative(), maxUpfront: nonNegative().nullable() }),
    authority: perLevel(authority),
    requiredApprovals: perLevel(z.number().int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' })),
    expiryHours: z.number().positive({ error: 'must be greater than 0' }).max(8760, { error: 'must be at most 8760 (a year)' }),
    roster: rosterSchema,
    higherAuthorityDecides: z.boolean(),
  }),
  validation: z.strictObject({
    maxCpuP95AfterPct: percent(),
    maxMemoryUsedPctAfter: percent(),
    maxNetworkDropPct: percent(),
    soakMinutes: z.number({ error: 'must be a number of minutes' }).min(0, { error: 'must be at least 0' }).max(7 * 24 * 60, { error: 'must be at most 10080 (7 days)' }),
    unknownBlocks: z.boolean(),
  }),
  scope: z.strictObject({
    accounts: atLeastOne(z.string().regex(/^\d{12}$/, { error: 'must be exactly 12 digits' }), 'account').optional(),
    // A region no recommendation can name (us-east-9) would refuse everything as out of scope: the recommendation
    // schema's regions, as change windows check theirs.
    regions: atLeastOne(z.string().refine(isKnownRegion, { error: (issue) => `must be an AWS region such as us-east-1, got ${JSON.stringify(issue.input)}` }), 'region').optional(),
    resourceIdPattern: regexSource.optional(),
    optOutTag: z.strictObject({ enabled: z.boolean(), key: z.string().min(1, { error: 'must not be empty' }), value: z.string() }),
  }),
  apiBudget: apiBudgetSchema,
  changeWindows: changeWindowsSchema,
  blastRadius: blastRadiusSchema,
  stagedRollout: stagedRolloutSchema,
  coolDown: coolDownSchema,
  notifications: z.strictObject({
    webhooks: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, { error: 'must be 1-63 letters, digits, ".", "_" or "-" (it names the webhook in logs and metrics)' }),
          url: webUrl('a webhook URL'),
          events: z
            .array(z.enum(NOTIFICATION_KINDS), { error: `must list some of ${NOTIFICATION_KINDS.join(', ')}` })
            .min(1, { error: 'must list at least one notification; leave the field out for all of them' })
            .default([...NOTIFICATION_KINDS]),
          // A refinement (a custom issue), not a regex: the error must not echo the value, which may be a key pasted in.
          signingSecretEnv: z
            .string()
            .refine((name) => /^[A-Z_][A-Z0-9_]{0,127}$/.test(name), { error: 'must name an environment variable (upper-case letters, digits, _) that holds the signing key; the key itself never goes in the policy' })
            .optional(),
        }),
      )
      .refine((hooks) => new Set(hooks.map((h) => h.name)).size === hooks.length, { error: 'webhook names must be unique' }),
    expiryWarningHours: z.number().positive({ error: 'must be greater than 0' }),
    consoleUrl: webUrl('the console URL').optional(),
  }),
  backups: backupsSchema,
}).superRefine((policy, ctx) => {
  // With a roster, a level needing more distinct approvers than the roster has people who may decide for its authority
  // could never be approved: each of its requests would wait to expire.
  const { roster, authority, requiredApprovals, higherAuthorityDecides } = policy.approval;
  if (roster.length > 0) {
    for (const level of RISK_LEVELS) {
      const eligible = roster.filter((e) => holdsAuthority(e, authority[level], higherAuthorityDecides));
      const needed = requiredApprovals[level];
      if (eligible.length >= needed) continue;
      const who = eligible.length === 0 ? 'nobody' : `only ${eligible.length} (${eligible.map((e) => e.id).join(', ')})`;
      ctx.addIssue({
        code: 'custom',
        path: ['approval', 'requiredApprovals', level],
        message: `needs ${needed} distinct ${needed === 1 ? 'approver' : 'approvers'}, but ${who} on approval.roster may decide for ${authority[level]}: no ${level} change could ever be approved`,
        input: requiredApprovals[level],
      });
    }
  }
  const warns = policy.notifications.webhooks.some((h) => h.events.includes('approval-expiring'));
  if (warns && policy.notifications.expiryWarningHours >= policy.approval.expiryHours) {
    ctx.addIssue({
      code: 'custom',
      path: ['notifications', 'expiryWarningHours'],
      message: `must be less than approval.expiryHours (${policy.approval.expiryHours}): the warning would come with the request`,
      input: policy.notifications.expiryWarningHours,
    });
  }
});

// Compile-time proof that the schema and the interface agree.
const _schemaIsPolicy = (p: z.output<typeof policySchema>): Policy => p;
void _schemaIsPolicy;

const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Objects merge key by key; anything else (arrays included) in the override replaces the base value. */
function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) merged[key] = value;
  for (const [key, value] of Object.entries(override)) {
    // defineProperty, not assignment: a "__proto__" key from JSON must stay a plain (and rejected) field.
    Object.defineProperty(merged, key, {
      value: Object.prototype.hasOwnProperty.call(base, key) ? deepMerge(base[key], value) : value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return merged;
}

/**
 * Reads a policy file's content (already JSON-parsed): a partial override deep-merged onto {@link defaultPolicy}
 * (objects merge, arrays and values replace), then validated; unknown fields are rejected. Without a `version`,
 * a non-empty override is versioned `default-v1+override`.
 */
export function parsePolicy(raw: unknown): ParseResult<Policy> {
  if (!isPlainObject(raw)) {
    return { ok: false, errors: [{ path: '(root)', message: `(root) policy must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}` }] };
  }
  const merged = deepMerge(defaultPolicy, raw) as Record<string, unknown>;
  if (!('version' in raw) && Object.keys(raw).length > 0) merged['version'] = `${defaultPolicy.version}+override`;
  const result = policySchema.safeParse(merged, { reportInput: true });
  if (!result.success) return { ok: false, errors: fieldErrorsOf(result.error.issues) };
  return { ok: true, value: result.data };
}

// ── Risk ──

const levelIndex = (level: RiskLevel): number => RISK_LEVELS.indexOf(level);

function matchingTag(tags: Readonly<Record<string, string>> | undefined, factor: TagFactorPolicy): string | undefined {
  if (!tags) return undefined;
  const key = new RegExp(factor.tagKeyPattern, 'i');
  const value = new RegExp(factor.tagValuePattern, 'i');
  const hit = Object.entries(tags).find(([k, v]) => key.test(tagText(k)) && value.test(tagText(v)));
  return hit ? `${hit[0]}=${hit[1]}` : undefined;
}

/** Where a fact came from: the recommendation (what the analyzer stated) or the live resource (what is there). */
const LIVE = 'on the live resource';

/** Why `instanceType` counts as large by its size, or `undefined`. */
function largeSize(instanceType: string, policy: Policy['risk']['factors']['large']): string | undefined {
  const size = instanceType.slice(instanceType.indexOf('.') + 1);
  const xlarge = /^(\d+)xlarge$/.exec(size);
  if (policy.metal && size.startsWith('metal')) return `instance size ${size} (${instanceType}) is metal`;
  if (xlarge && Number(xlarge[1]) >= policy.minXlargeMultiplier) return `instance size ${size} (${instanceType}) is at least ${policy.minXlargeMultiplier}xlarge`;
  return undefined;
}

/**
 * Why the resource counts as large for the `large` factor, or `undefined`: by the instance size the recommendation
 * states (rightsize) or the live instance has, or by the monthly cost the recommendation states or the price book
 * gives the live resource.
 */
function largeDetail(rec: Recommendation, basis: RiskBasis, policy: Policy['risk']['factors']['large']): string | undefined {
  const reasons: string[] = [];
  const stated = basis.stated.instanceType;
  const live = basis.live?.observed?.kind === 'instance' ? basis.live.observed.instanceType : undefined;
  const statedSize = stated === undefined ? undefined : largeSize(stated, policy);
  if (statedSize) reasons.push(statedSize);
  const liveSize = live === undefined || live === stated ? undefined : largeSize(live, policy);
  if (liveSize) reasons.push(`${liveSize} ${LIVE}`);
  const cost = rec.resource.monthlyCost;
  if (cost !== undefined && cost >= policy.monthlyCostAtLeast) reasons.push(`monthly cost ${cost} is at least ${policy.monthlyCostAtLeast}`);
  const liveCost = basis.live?.monthlyCost;
  if (liveCost !== undefined && liveCost >= policy.monthlyCostAtLeast && (cost === undefined || cost < policy.monthlyCostAtLeast)) {
    reasons.push(`monthly cost ${liveCost} (price book) ${LIVE} is at least ${policy.monthlyCostAtLeast}`);
  }
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

/**
 * What an assessment is made on: what the recommendation states and, when the live resource was described
 * (`live`), what it is — found or not, and its monthly cost by the price book (`unpriced` when the book lacks it) —
 * or why it could not be described (`error`).
 */
export function riskBasis(rec: Recommendation, live: LiveResource | undefined, priceBook: PriceBook | undefined): RiskBasis {
  const stated = {
    ...(rec.resource.tags ? { tags: rec.resource.tags } : {}),
    ...(rec.resource.monthlyCost !== undefined ? { monthlyCost: rec.resource.monthlyCost } : {}),
    ...(rec.action.type === 'rightsize' ? { instanceType: rec.action.currentInstanceType } : {}),
  };
  if (!live) return { stated };
  if (live.error) return { stated, live: { found: false, error: live.error } };
  const observed = live.observed;
  if (!observed) return { stated, live: { found: false } };
  const quote = priceBook ? quoteInUse(observed, rec.region, priceBook) : undefined;
  const cost = quote && isPriced(quote) ? { monthlyCost: quote.usd } : quote && quote.unpriced.length > 0 ? { unpriced: quote.unpriced } : {};
  return { stated, live: { found: true, observed, ...cost } };
}

/** The live resource's tags as the risk assessment described it, when it has any. */
export const liveTags = (basis: RiskBasis): Readonly<Record<string, string>> | undefined => {
  const observed = basis.live?.observed;
  return observed && 'tags' in observed ? observed.tags : undefined;
};

/** The tag factor's detail: a matching tag the recommendation states, else one the live resource carries. */
function tagDetail(basis: RiskBasis, factor: TagFactorPolicy, marks: string): string | undefined {
  const stated = matchingTag(basis.stated.tags, factor);
  if (stated) return `tag ${stated} marks ${marks}`;
  const live = matchingTag(liveTags(basis), factor);
  return live ? `tag ${live} ${LIVE} marks ${marks}` : undefined;
}

/**
 * Why a change costs more per month than it saves, or may, or `undefined`: a rightsize whose target type costs more
 * than its current type in the recommendation's region, or one of the two the book does not price (unless the target is
 * a smaller size of the same family); any other action
 * whose plan on the live resource as described (a volume's size, type, IOPS and throughput, say) adds to the bill, as
 * the approved plan's net monthly cost change would say ({@link addedMonthlyCost}), and a volume modification or a
 * reservation purchase the book cannot price ({@link unpricedAddition}). Without the live resource only a rightsize is
 * judged (pre-validation judges the rest on the resource it observes, and asks for approval again).
 */
function costsMoreDetail(rec: Recommendation, priceBook: PriceBook, live: LiveResource | undefined): string | undefined {
  if (rec.action.type !== 'rightsize') {
    if (!live?.observed) return undefined;
    const added = addedMonthlyCost(rec, live.observed, priceBook);
    if (added !== undefined) return `${rec.action.type} of ${rec.resource.id} as it is now adds $${added.toFixed(2)}/month to the bill in ${rec.region}`;
    const lacking = unpricedAddition(rec, live.observed, priceBook);
    return lacking === undefined ? undefined : `${rec.action.type} of ${rec.resource.id} may add to the bill: the price book lacks ${lacking.join(', ')}`;
  }
  const { currentInstanceType: from, targetInstanceType: to } = rec.action;
  const current = quoteInstance(priceBook, rec.region, from);
  const target = quoteInstance(priceBook, rec.region, to);
  if (!isPriced(current) || !isPriced(target)) {
    if (smallerInFamily(from, to)) return undefined;
    const lacking = [...new Set([current, target].flatMap((q) => (isPriced(q) ? [] : q.unpriced)))];
    return `${from} → ${to} may cost more: the price book lacks ${lacking.join(', ')}`;
  }
  if (target.usd <= current.usd) return undefined;
  const more = Math.round((target.usd - current.usd) * 100) / 100;
  return `${from} → ${to} costs $${more.toFixed(2)}/month more in ${rec.region} (${current.usd} → ${target.usd})`;
}

const SIZES = ['nano', 'micro', 'small', 'medium', 'large', 'xlarge'];

/** The order of an instance size within its family (`2xlarge` above `xlarge`); `undefined` for one without an order (`metal`). */
function sizeRank(size: string): number | undefined {
  const named = SIZES.indexOf(size);
  if (named >= 0) return named;
  const times = /^(\d+)xlarge$/.exec(size);
  return times ? SIZES.length + Number(times[1]) : undefined;
}

/** Whether `to` is a smaller size of `from`'s own family (`t4g.small` → `t4g.micro`): within a family a smaller size never costs more. */
function smallerInFamily(from: string, to: string): boolean {
  const [fromFamily, fromSize] = from.split('.');
  const [toFamily, toSize] = to.split('.');
  if (fromFamily !== toFamily || fromSize === undefined || toSize === undefined) return false;
  const [a, b] = [sizeRank(fromSize), sizeRank(toSize)];
  return a !== undefined && b !== undefined && b < a;
}

/**
 * Why a change is big, or `undefined`: its estimated monthly savings above `savingsAbove`, or what its plan on the live
 * resource saves by the book ({@link pricedMonthlySavings}) above it — an understated estimate does not lower the
 * risk, as it does not get past the auto-approval limit.
 */
function bigImpactDetail(rec: Recommendation, savingsAbove: number, priceBook: PriceBook | undefined, live: LiveResource | undefined): string | undefined {
  if (rec.estimatedMonthlySavings > savingsAbove) return `estimated monthly savings ${rec.estimatedMonthlySavings} is above ${savingsAbove}`;
  const priced = priceBook && live?.observed ? pricedMonthlySavings(rec, live.observed, priceBook) : undefined;
  return priced !== undefined && priced > savingsAbove
    ? `monthly savings ${priced.toFixed(2)} by the price book on the live resource is above ${savingsAbove} (estimated ${rec.estimatedMonthlySavings})`
    : undefined;
}

/**
 * Risk of a recommendation under a policy: the action's base level, raised by one per applied factor
 * (production, criticality, large, big impact, irreversible, costs more), capped at CRITICAL. Every applied factor is
 * recorded with a detail saying why. The factors apply to the union of what the recommendation states and what the
 * live resource is (`live`, as described by the cloud: its tags, its instance type, its monthly cost from the price
 * book), so an analyzer that leaves the tags or the cost out does not lower the risk; {@link RiskAssessment.basis}
 * records both. Without `live` only the recommendation counts. `costs-more` is assessed only with a price book.
 */
export function assessRisk(rec: Recommendation, policy: Policy, priceBook?: PriceBook, live?: LiveResource): RiskAssessment {
  const baseLevel = policy.risk.baseLevels[rec.action.type];
  const { production, criticality, large, bigImpact, irreversible, costsMore } = policy.risk.factors;
  const basis = riskBasis(rec, live, priceBook);
  const factors: AppliedFactor[] = [];
  if (production.enabled) {
    const detail = tagDetail(basis, production, 'a production resource');
    if (detail) factors.push({ factor: 'production', detail });
  }
  if (criticality.enabled) {
    const detail = tagDetail(basis, criticality, 'a critical resource');
    if (detail) factors.push({ factor: 'criticality', detail });
  }
  if (large.enabled && large.actions.includes(rec.action.type)) {
    const detail = largeDetail(rec, basis, large);
    if (detail) factors.push({ factor: 'large', detail });
  }
  if (bigImpact.enabled) {
    const detail = bigImpactDetail(rec, bigImpact.savingsAbove, priceBook, live);
    if (detail) factors.push({ factor: 'big-impact', detail });
  }
  if (irreversible.enabled && reversibility(rec.action) === 'no') {
    factors.push({
      factor: 'irreversible',
      detail: rec.action.type === 'delete-volume' ? 'delete-volume without a snapshot cannot be undone' : `${rec.action.type} cannot be undone`,
    });
  }
  if (costsMore.enabled && priceBook) {
    const detail = costsMoreDetail(rec, priceBook, live);
    if (detail) factors.push({ factor: 'costs-more', detail });
  }
  const level = RISK_LEVELS[Math.min(levelIndex(baseLevel) + factors.length, RISK_LEVELS.length - 1)];
  return { baseLevel, level, factors, policyVersion: policy.version, ...(live ? { basis } : {}) };
}

/**
 * What a change pays at once: a reservation purchase's upfront price (the offering's fixed price, as the live offering
 * was described, times the instance count), or, when the offering was not described, the most the purchase may pay
 * (its `limitPrice`, EC2's cap on the total upfront price), else undefined (unknown); 0 for every other action.
 */
export function upfrontPriceOf(rec: Recommendation, observed: ObservedResource | undefined): number | undefined {
  if (rec.action.type !== 'purchase-reserved-instances') return 0;
  if (observed?.kind === 'reserved-instances-offering') return observed.fixedPrice * rec.action.instanceCount;
  return rec.action.limitPrice;
}

/** Whether `level` is above `than`. */
export const isHigherRisk = (level: RiskLevel, than: RiskLevel): boolean => levelIndex(level) > levelIndex(than);

// ── Approval ──

/**
 * Auto approval when enabled, the assessed level is at most `autoApprove.maxLevel`, the savings at most
 * `autoApprove.maxMonthlySavings` (both inclusive) and the assessment has no `costs-more` factor; otherwise a manual
 * request to the level's authority, needing the level's number of distinct approvers and expiring after `expiryHours`.
 * The savings are the recommendation's estimate and, when the `plan` on the live resource is given and priced, what
 * it saves by the price book (its `monthlyCostChange`, negated), the larger of the two counting: an estimate below
 * what the change really moves (a reservation of 100 instances stated to save $100 a month) does not take it past
 * the limit. With `maxUpfront`, a reservation purchase is approved automatically only when its upfront price is known
 * ({@link upfrontPriceOf}) and at most that: a commitment of thousands paid at once needs a person, whatever it saves.
 */
export function decideApproval(assessment: RiskAssessment, rec: Recommendation, policy: Policy, plan?: Pick<ChangePlan, 'monthlyCostChange'> & { readonly observed?: ObservedResource }): ApprovalDecision {
  const auto = policy.approval.autoApprove;
  const costsMore = assessment.factors.some((f) => f.factor === 'costs-more');
  const savings = plan?.monthlyCostChange === undefined ? rec.estimatedMonthlySavings : Math.max(rec.estimatedMonthlySavings, -plan.monthlyCostChange);
  const upfront = upfrontPriceOf(rec, plan?.observed);
  const upfrontAllowed = auto.maxUpfront === null || upfront === 0 || (upfront !== undefined && upfront <= auto.maxUpfront);
  if (auto.enabled && !costsMore && levelIndex(assessment.level) <= levelIndex(auto.maxLevel) && savings <= auto.maxMonthlySavings && upfrontAllowed) {
    return { mode: 'auto' };
  }
  const authority = policy.approval.authority[assessment.level];
  const eligible = eligibleApprovers(policy.approval.roster, authority, policy.approval.higherAuthorityDecides);
  return {
    mode: 'manual',
    authority,
    requiredApprovals: policy.approval.requiredApprovals[assessment.level],
    expiresInMs: Math.round(policy.approval.expiryHours * 60 * 60 * 1000),
    ...(eligible ? { eligibleApprovers: eligible } : {}),
  };
}
