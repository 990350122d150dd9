import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { principalOf, type Credentials, type Principal, type RosterEntry } from '@optex/domain';
import type { AuthConfig } from './auth-config';

/** Static API tokens start with this, so a leaked one is recognisable (secret scanners) and never taken for a JWT. */
export const API_TOKEN_PREFIX = 'optex_';

/** A new static API token (256 random bits) and the SHA-256 the auth config stores instead of it. */
export function newApiToken(): { token: string; sha256: string } {
  const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, sha256: sha256Of(token) };
}

export const sha256Of = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export type Authentication = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly reason: string };

/**
 * Turns an `Authorization` header into a principal: a static API token (compared by its SHA-256, in constant time) or a
 * JWT verified with jose (signature against the key set, issuer, audience, expiry and not-before with the configured
 * clock skew; `exp` is required). The principal is mapped onto the approver roster (domain `principalOf`).
 */
export class Authenticator {
  private readonly keySet?: JWTVerifyGetKey;
  private readonly tokenHashes: { readonly hash: Buffer; readonly entry: AuthConfig['tokens'][number] }[];

  constructor(
    private readonly config: AuthConfig,
    private readonly roster: readonly RosterEntry[],
  ) {
    const jwt = config.jwt;
    if (jwt?.jwksUrl) this.keySet = createRemoteJWKSet(new URL(jwt.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
    else if (jwt?.jwks) this.keySet = createLocalJWKSet(jwt.jwks as Parameters<typeof createLocalJWKSet>[0]);
    this.tokenHashes = config.tokens.map((entry) => ({ hash: Buffer.from(entry.sha256, 'hex'), entry }));
  }

  async authenticate(authorization: string | undefined): Promise<Authentication> {
    if (!authorization) return { ok: false, reason: 'no credentials: send Authorization: Bearer <token>' };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) return { ok: false, reason: 'the Authorization header is not "Bearer <token>"' };
    const token = match[1]!;
    const credentials = token.startsWith(API_TOKEN_PREFIX) ? this.staticToken(token) : await this.jwt(token);
    return 'reason' in credentials ? { ok: false, reason: credentials.reason } : { ok: true, principal: principalOf(credentials, this.roster) };
  }

  private staticToken(token: string): Credentials | { reason: string } {
    const hash = createHash('sha256').update(token, 'utf8').digest();
    let found: AuthConfig['tokens'][number] | undefined;
    for (const t of this.tokenHashes) if (timingSafeEqual(t.hash, hash)) found = t.entry;
    if (!found) return { reason: 'unknown API token' };
    return { subject: found.subject, names: [], roles: found.roles, method: 'api-token' };
  }

  private async jwt(token: string): Promise<Credentials | { reason: string }> {
    const jwt = this.config.jwt;
    if (!jwt || !this.keySet) return { reason: 'bearer JWTs are not accepted: this API has no jwt configuration' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keySet, {
        issuer: jwt.issuer,
        audience: jwt.audience,
        clockTolerance: jwt.clockToleranceSeconds,
        algorithms: jwt.algorithms,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      return { reason: `token rejected: ${jwtProblem(error)}` };
    }
    const subject = payload[jwt.subjectClaim];
    if (typeof subject !== 'string' || !subject.trim()) return { reason: `token rejected: claim ${jwt.subjectClaim} is missing or not a string` };
    // A claim its provider marks unverified (`email` with `email_verified: false`) is not who the caller is.
    const verified = (claim: string) => payload[`${claim}_verified`] === undefined || payload[`${claim}_verified`] === true;
    const names = jwt.nameClaims
      .filter(verified)
      .map((c) => payload[c])
      .filter((v): v is string => typeof v === 'string' && v.trim() !== '');
    const claimed = payload[jwt.rolesClaim];
    const roles = Array.isArray(claimed) ? claimed.filter((r): r is string => typeof r === 'string') : typeof claimed === 'string' ? claimed.split(/\s+/).filter(Boolean) : [];
    return { subject, names, roles, method: 'jwt' };
  }
}

function jwtProblem(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim ${error.claim} ${error.reason === 'check_failed' ? 'does not match' : error.reason}: ${error.message}`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature does not verify';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the key set matches the token';
  if (error instanceof joseErrors.JOSEError) return `${error.code}: ${error.message}`;
  return (error as Error).message;
}
