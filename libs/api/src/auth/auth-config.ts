import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ROLES, fieldErrorsOf, withoutByteOrderMark } from '@optex/domain';

const loopback = (url: URL): boolean => ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);

/**
 * The API's authentication settings (the `--auth FILE` of `optex api`):
 * - `jwt`: bearer JWTs from any OIDC provider, verified with `jose` against the provider's key set (`jwksUrl`,
 *   https unless on loopback) or a local one (`jwks`, a JSON Web Key Set); `issuer`, `audience`, `exp` (required)
 *   and `nbf` are checked with `clockToleranceSeconds` of skew. The identity is `subjectClaim`; `nameClaims` (default
 *   `email`) are other names mapped onto the roster, each left out when the token marks it unverified (`email` with
 *   `email_verified` other than true); roles come from `rolesClaim` (a list, or a space-separated string).
 * - `tokens`: static API tokens for automation, stored only as the SHA-256 of the token (`optex api-token` makes one).
 */
export const authConfigSchema = z
  .strictObject({
    jwt: z
      .strictObject({
        issuer: z.string().min(1, { error: 'must not be empty' }),
        audience: z.string().min(1, { error: 'must not be empty' }),
        jwksUrl: z
          .url({ error: 'must be a URL' })
          .refine((u) => new URL(u).protocol === 'https:' || loopback(new URL(u)), { error: 'must be https (plain http only on loopback)' })
          .optional(),
        jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1, { error: 'must hold at least one key' }) }).optional(),
        clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
        algorithms: z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).min(1).default(['RS256', 'PS256', 'ES256', 'EdDSA']),
        subjectClaim: z.string().min(1).default('sub'),
        nameClaims: z.array(z.string().min(1)).default(['email']),
        rolesClaim: z.string().min(1).default('roles'),
      })
      .refine((j) => (j.jwksUrl === undefined) !== (j.jwks === undefined), { error: 'give exactly one of jwksUrl and jwks', path: ['jwksUrl'] })
      .optional(),
    tokens: z
      .array(
        z.strictObject({
          name: z.string().min(1, { error: 'must not be empty' }),
          sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be the token’s SHA-256 in lower-case hex (optex api-token prints it)' }),
          subject: z.string().min(1, { error: 'must not be empty' }),
          roles: z.array(z.enum(ROLES)).min(1, { error: 'must name at least one role' }),
        }),
      )
      .default([])
      // The same hash twice is one token with two entries, and the last would silently win.
      .superRefine((tokens, ctx) => {
        const seen = new Map<string, number>();
        tokens.forEach((t, i) => {
          const first = seen.get(t.sha256);
          if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'sha256'], message: `is the same token as tokens.${first} (${JSON.stringify(tokens[first]!.name)}); give each token one entry` });
          else seen.set(t.sha256, i);
        });
      }),
  })
  .refine((c) => c.jwt !== undefined || c.tokens.length > 0, { error: 'configure jwt, tokens or both: without them nobody can call the API', path: ['jwt'] });

export type AuthConfig = z.output<typeof authConfigSchema>;

export class AuthConfigError extends Error {
  constructor(message: string) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Parses an auth configuration; every problem is named by its field. */
export function parseAuthConfig(raw: unknown, source = 'auth config'): AuthConfig {
  const parsed = authConfigSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw new AuthConfigError(`${source}: ${fieldErrorsOf(parsed.error.issues).map((e) => e.message).join('; ')}`);
  return parsed.data;
}

export async function loadAuthConfig(file: string): Promise<AuthConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new AuthConfigError(`--auth: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(withoutByteOrderMark(text));
  } catch (error) {
    throw new AuthConfigError(`--auth: ${file} is not valid JSON: ${(error as Error).message}`);
  }
  return parseAuthConfig(raw, `--auth: ${file}`);
}
