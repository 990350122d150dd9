import type { IntakeLimits, Policy } from '@optex/domain';
import type { Registry } from 'prom-client';
import type { Bus, EventStore } from '@optex/ports';
import type { Authenticator } from './auth/authenticator';
import type { ApiReadModel } from './read-model';

/** Injection token of {@link ApiDeps}. */
export const API_DEPS = Symbol('API_DEPS');

/** What the API's controllers work with: the adapters the process chose, and the read model kept from the log. */
export interface ApiDeps {
  readonly store: EventStore;
  readonly policy: Policy;
  readonly authenticator: Authenticator;
  readonly readModel: ApiReadModel;
  /** Where submitted recommendations go (the input topic); without one, submitting answers 503. */
  readonly bus?: Bus;
  readonly intakeLimits: IntakeLimits;
  readonly now: () => Date;
  /** Prometheus registry of this process (`GET /metrics`). */
  readonly registry: Registry;
}

/** The request, once the guard authenticated it. */
export interface AuthenticatedRequest {
  principal?: import('@optex/domain').Principal;
  headers: Record<string, string | string[] | undefined>;
  /** Set when the Authorization header was checked before the body was read (a request with a body): the guard checks the role on it. */
  authentication?: import('./auth/authenticator').Authentication;
}
