import { applyDecorators, ForbiddenException, Inject, Injectable, SetMetadata, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiBearerAuth, ApiExtension } from '@nestjs/swagger';
import { authorize, type Role } from '@optex/domain';
import { API_DEPS, type ApiDeps, type AuthenticatedRequest } from '../api.constants';
import { Refuses } from '../openapi-schemas';

const ACCESS = 'optex:access';
type Access = { readonly role: Role } | 'public';

/** The role a route needs (documented in the OpenAPI spec as `x-optex-role`). */
export const Requires = (role: Role) =>
  applyDecorators(
    SetMetadata(ACCESS, { role } satisfies Access),
    ApiBearerAuth(),
    ApiExtension('x-optex-role', role),
    Refuses(
      [401, 'No, bad, expired or wrong-audience credentials; the body says why. Nothing was changed.'],
      [403, `The caller lacks the ${role} role (or, for a decision, the authority the request names). Nothing was changed.`],
    ),
  );

/** A route anyone may call (health, the OpenAPI document). */
export const Public = () => SetMetadata(ACCESS, 'public' satisfies Access);

/**
 * Authenticates every request and checks the role its route declares (domain `authorize`). A route that declares
 * neither a role nor `@Public()` is refused: forgetting the declaration closes a route, never opens it.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(API_DEPS) private readonly deps: ApiDeps,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS, [context.getHandler(), context.getClass()]);
    if (access === 'public') return true;
    if (access === undefined) throw new ForbiddenException({ statusCode: 403, error: 'Forbidden', reason: 'this route declares no role' });
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers['authorization'];
    const authentication = request.authentication ?? (await this.deps.authenticator.authenticate(Array.isArray(header) ? header[0] : header));
    const decision = authorize(authentication.ok ? authentication.principal : undefined, access.role, authentication.ok ? undefined : authentication.reason);
    if (!decision.allowed) {
      if (decision.status === 401) {
        context.switchToHttp().getResponse<{ setHeader(name: string, value: string): void }>().setHeader('WWW-Authenticate', 'Bearer realm="optex"');
        throw new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', reason: decision.reason });
      }
      throw new ForbiddenException({ statusCode: 403, error: 'Forbidden', reason: decision.reason });
    }
    request.principal = decision.principal;
    return true;
  }
}
