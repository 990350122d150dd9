import { z } from 'zod';
import type { Authority } from './types';

/**
 * One person (or service account) who may decide approvals. `id` is the identity optex records (an e-mail, an OIDC
 * subject…); `aliases` are other names the same person is known by (a CLI user name, an IdP's `preferred_username`),
 * so an authenticated principal can be mapped onto the entry by any of them.
 */
export interface RosterEntry {
  readonly id: string;
  readonly name?: string;
  readonly aliases?: readonly string[];
  readonly authorities: readonly Authority[];
  readonly groups?: readonly string[];
}

/** Authorities from the lowest to the highest. */
export const AUTHORITY_ORDER: readonly Authority[] = ['team-lead', 'finops-manager', 'change-board'];

/**
 * The one form identities are compared in: Unicode NFKC, invisible format characters (Unicode's Cf: the zero-width
 * space and joiners, the word joiner, the soft hyphen, a byte order mark, bidirectional marks) removed, surrounding
 * space removed, inner runs of space made one space, lower case. `Alice`, ` alice ` and `ALICE` are one person; so are
 * the full-width `ａｌｉｃｅ`, `alice` and `ali\u200bce` (which prints as `alice`: two approvals by one person otherwise).
 */
export const normalizeIdentity = (identity: string): string =>
  identity
    .normalize('NFKC')
    .replace(/\p{Cf}/gu, '')
    .trim()
    .replace(/\s+/g, ' ')
    .toLowerCase();

const identity = z
  .string()
  .refine((s) => normalizeIdentity(s) !== '', { error: 'must not be empty' })
  .refine((s) => !/\p{Cc}/u.test(s), { error: 'must not contain control characters' });

/** zod schema of the roster (the policy file's `approval.roster`): identities unique across ids and aliases. */
export const rosterSchema = z
  .array(
    z.strictObject({
      id: identity,
      name: z.string().optional(),
      aliases: z.array(identity).optional(),
      authorities: z.array(z.enum(AUTHORITY_ORDER as unknown as [Authority, ...Authority[]])).min(1, { error: 'must name at least one authority' }),
      groups: z.array(z.string().min(1, { error: 'must not be empty' })).optional(),
    }),
  )
  .superRefine((entries, ctx) => {
    const seen = new Map<string, string>();
    entries.forEach((entry, i) => {
      [entry.id, ...(entry.aliases ?? [])].forEach((name, j) => {
        const key = normalizeIdentity(name);
        const path = j === 0 ? [i, 'id'] : [i, 'aliases', j - 1];
        const first = seen.get(key);
        if (first !== undefined) ctx.addIssue({ code: 'custom', path, message: `${JSON.stringify(name)} is already ${first}` });
        else seen.set(key, `roster[${i}]${j === 0 ? '.id' : `.aliases[${j - 1}]`}`);
      });
    });
  });

/**
 * The key an identifier a caller proved is compared by: trimmed, ASCII letters lower-cased, nothing else changed. Unlike
 * {@link normalizeIdentity} (NFKC, format characters dropped, every letter lower-cased: right for "is this the same
 * person twice", where doubt must refuse), it cannot make `Ｃａｒｏｌ` (full-width), `da\u00adve` (a soft hyphen) or `\u212a`
 * (the Kelvin sign, lower-cased `k`) into the roster's `carol`, `dave` or `k`: an identity provider that lets its users
 * choose such names would otherwise let them approve as someone else.
 */
export const exactIdentifier = (identifier: string): string => identifier.trim().replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * The roster entry a name denotes (by id or alias), if any: compared normalized, or with `exact` as
 * {@link exactIdentifier} compares (an identifier an authenticated caller proved).
 */
export function rosterEntryFor(roster: readonly RosterEntry[], name: string, exact = false): RosterEntry | undefined {
  const keyOf = exact ? exactIdentifier : normalizeIdentity;
  const key = keyOf(name);
  return roster.find((e) => keyOf(e.id) === key || (e.aliases ?? []).some((a) => keyOf(a) === key));
}

/** Whether `entry` may decide a request for `requested`: it holds that authority, or (when allowed) a higher one. */
export function holdsAuthority(entry: RosterEntry, requested: Authority, higherMayDecide: boolean): boolean {
  const needed = AUTHORITY_ORDER.indexOf(requested);
  return entry.authorities.some((a) => a === requested || (higherMayDecide && AUTHORITY_ORDER.indexOf(a) > needed));
}

/** Someone who may decide a request: a roster entry's normalized id and aliases. */
export interface EligibleApprover {
  readonly id: string;
  readonly aliases?: readonly string[];
}

/**
 * The roster entries who may decide a request for `requested` (ids and aliases normalized), recorded on the request so
 * the decision is checked against the roster as it was when approval was asked, and auditors see who could decide.
 * Undefined without a roster: then any name may decide, compared normalized.
 */
export function eligibleApprovers(roster: readonly RosterEntry[], requested: Authority, higherMayDecide: boolean): EligibleApprover[] | undefined {
  if (roster.length === 0) return undefined;
  return roster
    .filter((e) => holdsAuthority(e, requested, higherMayDecide))
    .map((e) => ({ id: normalizeIdentity(e.id), ...(e.aliases?.length ? { aliases: e.aliases.map(normalizeIdentity) } : {}) }));
}

/**
 * The identity `name` stands for among `eligible` (its id, found by id or alias), or undefined when it is not one of
 * them. Compared normalized, or with `exact` as {@link exactIdentifier} compares (an authenticated caller's identifier
 * against the normalized ids and aliases recorded on the request).
 */
export function eligibleIdentity(eligible: readonly EligibleApprover[], name: string, exact = false): string | undefined {
  const key = exact ? exactIdentifier(name) : normalizeIdentity(name);
  return eligible.find((e) => e.id === key || (e.aliases ?? []).includes(key))?.id;
}
