import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { defaultIntakeLimits, defaultPolicy as defaultPolicyForDocument, recommendationJsonSchema, type IntakeLimits, type Policy } from '@optex/domain';
import { Gauge, Registry } from 'prom-client';
import { silentLogger, type Bus, type EventStore, type Logger } from '@optex/ports';
import { WebhookNotifier } from '@optex/messaging';
import type { ReadModelCheckpoints } from '@optex/projections';
import type { AuthConfig } from './auth/auth-config';
import { Authenticator } from './auth/authenticator';
import type { AuthenticatedRequest } from './api.constants';
import { ApiModule } from './api.module';
import { cookieOf } from './console/console.controller';
import { RECOMMENDATIONS_PATH } from './recommendations.controller';
import { API_READ_MODEL, ApiReadModel } from './read-model';
import { API_SCHEMAS, OUTAGE, TOO_LARGE, UNREADABLE_BODY } from './openapi-schemas';

export interface ApiOptions {
  readonly store: EventStore;
  readonly policy: Policy;
  readonly auth: AuthConfig;
  readonly bus?: Bus;
  readonly intakeLimits?: IntakeLimits;
  readonly now?: () => Date;
  readonly logger?: Logger;
  /**
   * Follow the log and POST the policy's webhooks (`notifications.webhooks`) from this process. Turn it off in every
   * API replica but one. @defaultValue true
   */
  readonly notifications?: boolean;
  /** The signing key of each webhook whose policy names a `signingSecretEnv`, by webhook name (`optex api` reads them from its environment). */
  readonly signingKeys?: ReadonlyMap<string, string>;
  /** Where the read model keeps its checkpoints (`optex api --read-model`); without, it folds the whole log at start. */
  readonly checkpoints?: ReadModelCheckpoints;
}

export interface ApiApp {
  readonly app: INestApplication;
  readonly readModel: ApiReadModel;
  readonly document: OpenAPIObject;
  /** What `GET /metrics` serves (Prometheus text): the read model's gauges, and the webhook notifier's metrics when it runs. */
  readonly registry: Registry;
}

/** The OpenAPI document of the API (what `/openapi.json` serves and docs/openapi.json holds). */
export function openApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('optex operator API')
    .setDescription('Optimizations, their history, metrics and savings; approvals and operator actions recorded under the authenticated principal; recommendation intake. Each operation names the role it needs in x-optex-role.')
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An OIDC JWT (issuer, audience, expiry checked) or a static optex_ API token' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  const { $schema: _ignored, ...recommendation } = recommendationJsonSchema() as Record<string, unknown>;
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...API_SCHEMAS, Recommendation: recommendation } };
  // Any route may meet an outage of the store or the bus, which ApiErrorFilter answers 503: every operation lists it
  // (one that answers 503 for a reason of its own documents the outage beside it).
  // An operation that reads a body may find it unreadable: not JSON (400) or over the parser's limit (413).
  for (const item of Object.values(document.paths)) {
    for (const operation of [item.get, item.put, item.post, item.delete, item.patch]) {
      if (!operation?.responses) continue;
      operation.responses['503'] ??= OUTAGE;
      if (operation.requestBody) {
        operation.responses['400'] ??= UNREADABLE_BODY;
        operation.responses['413'] ??= TOO_LARGE;
      }
    }
  }
  return document;
}

/** Builds the API application (not listening): Nest, body parsers, the read model started, `/openapi.json`. */
export async function createApiApp(options: ApiOptions): Promise<ApiApp> {
  const intakeLimits = options.intakeLimits ?? defaultIntakeLimits;
  const readModel = new ApiReadModel(options.store, { ...(options.checkpoints ? { checkpoints: options.checkpoints } : {}), ...(options.logger ? { logger: options.logger } : {}) });
  const registry = new Registry();
  readModelMetrics(registry, readModel);
  const deps = {
    registry,
    store: options.store,
    policy: options.policy,
    authenticator: new Authenticator(options.auth, options.policy.approval.roster),
    readModel,
    ...(options.bus ? { bus: options.bus } : {}),
    intakeLimits,
    now: options.now ?? (() => new Date()),
  };
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(deps), { logger: false, bodyParser: false, abortOnError: false });
  app.disable('x-powered-by');
  // Every answer is what its Content-Type says (no sniffing); the API's data is never kept by a cache between the
  // caller and optex (the console sets its own headers).
  app.use((req: BodyRequest, res: BodyResponse, next: () => void) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (routedPath(req.url).startsWith('/api/')) res.setHeader('Cache-Control', 'no-store');
    next();
  });
  app.use(beforeBodies(deps.authenticator));
  // Each parser reads only the bodies beforeBodies gave it: recommendations as bytes (the intake checks them, as on
  // Kafka); every other body is small JSON or a form (the console's).
  app.useBodyParser('raw', { type: (req: BodyRequest) => req.optexBody === 'bytes', limit: intakeLimits.maxFileBytes });
  app.useBodyParser('json', { type: (req: BodyRequest) => req.optexBody === 'json', limit: '64kb' });
  app.useBodyParser('urlencoded', { type: (req: BodyRequest) => req.optexBody === 'form', limit: '16kb', extended: false });
  const document = openApiDocument(app);
  app.getHttpAdapter().get('/openapi.json', (_req: unknown, res: { json(body: unknown): void }) => res.json(document));
  await readModel.start();
  await app.init();
  return { app, readModel, document, registry };
}

interface BodyRequest extends AuthenticatedRequest {
  method?: string;
  url?: string;
  /** Set by {@link beforeBodies} once the caller authenticated: the parser that reads the body. Unset, it is left unread. */
  optexBody?: 'bytes' | 'json' | 'form';
}

interface BodyResponse {
  status(code: number): BodyResponse;
  setHeader(name: string, value: string): void;
  json(body: unknown): void;
}

/** A path as Express routes it: without the query, a trailing slash or case. */
const routedPath = (url: string | undefined): string => (url ?? '').split('?')[0]!.replace(/\/+$/, '').toLowerCase();

/**
 * Runs before any body is read, and has a body read only when the caller's credential authenticates (the guard's
 * Authenticator): the Authorization header, or on the console the session cookie — but for the sign-in form, whose
 * body is the credential. Any other body is left unread, whatever its size, type or content, so that nobody without a
 * credential makes the API parse a body or buffer one (a recommendations POST's may be as large as the intake's file
 * limit): a route that needs a role answers 401 (the guard checks the role on the authentication made here, without
 * verifying the token again), the console answers as to a caller without a session, and the public routes read no body.
 * A body read must be JSON or a form (any other type is refused 415: it used to be dropped unread, and the route ran as
 * if none had been sent), but a recommendations POST's, read as bytes whatever its type. Paths are matched as Express
 * routes them (a trailing slash, another case).
 */
function beforeBodies(authenticator: Authenticator) {
  return (req: BodyRequest, res: BodyResponse, next: (error?: unknown) => void): void => {
    const length = req.headers['content-length'];
    const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) {
      next();
      return;
    }
    const path = routedPath(req.url);
    const read = (): void => {
      const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (req.method === 'POST' && path === RECOMMENDATIONS_PATH.toLowerCase()) req.optexBody = 'bytes';
      else if (type === 'application/json' || type.endsWith('+json')) req.optexBody = 'json';
      else if (type === 'application/x-www-form-urlencoded') req.optexBody = 'form';
      else {
        res.status(415).json({ statusCode: 415, error: 'Unsupported Media Type', reason: `content-type: send the body as application/json${type ? `, not ${type}` : ''}` });
        return;
      }
      next();
    };
    if (path === '/console/sign-in') {
      read();
      return;
    }
    const onConsole = path.startsWith('/console/');
    const session = onConsole ? cookieOf(req) : undefined;
    const header = req.headers['authorization'];
    authenticator.authenticate(onConsole ? (session ? `Bearer ${session}` : undefined) : Array.isArray(header) ? header[0] : header).then((authentication) => {
      if (!onConsole) req.authentication = authentication;
      if (authentication.ok) read();
      else next();
    }, next);
  };
}

/**
 * The read model's gauges, computed when `/metrics` is scraped: `optex_projection_lag_events` (events of the streams it
 * reads that it has not applied) and `optex_projection_position` (commit position of the last one it applied).
 */
function readModelMetrics(registry: Registry, readModel: ApiReadModel): void {
  new Gauge({
    name: 'optex_projection_lag_events',
    help: 'Events of the log a read model reads and has not applied yet',
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      this.set({ projection: API_READ_MODEL }, await readModel.lag());
    },
  });
  new Gauge({
    name: 'optex_projection_position',
    help: 'Commit position of the last event a read model applied (-1 before any)',
    labelNames: ['projection'],
    registers: [registry],
    collect() {
      this.set({ projection: API_READ_MODEL }, Number(readModel.appliedPosition));
    },
  });
}

export interface RunningApi extends ApiApp {
  readonly url: string;
  /** The webhook notifier, when the policy has webhooks and `notifications` is not off. */
  readonly notifier?: WebhookNotifier;
  close(): Promise<void>;
}

/** Starts the API on `host:port` (loopback unless told otherwise; port 0 = any free one). */
export async function startApi(options: ApiOptions & { readonly port: number; readonly host?: string }): Promise<RunningApi> {
  const built = await createApiApp(options);
  await built.app.listen(options.port, options.host ?? '127.0.0.1');
  const notifier =
    options.notifications !== false && options.policy.notifications.webhooks.length > 0
      ? new WebhookNotifier(options.store, options.policy.notifications, {
          logger: options.logger ?? silentLogger,
          registry: built.registry,
          ...(options.now ? { now: options.now } : {}),
          ...(options.signingKeys ? { signingKeys: options.signingKeys } : {}),
        })
      : undefined;
  await notifier?.start();
  const address = built.app.getHttpServer().address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    ...built,
    url: `http://${host}:${address.port}`,
    ...(notifier ? { notifier } : {}),
    async close() {
      await notifier?.stop();
      await built.readModel.stop();
      await built.app.close();
    },
  };
}

/**
 * The committed docs/openapi.json's exact text: the document of an API built on an empty in-memory store (the routes
 * and schemas do not depend on the store), 2-space JSON with a trailing newline.
 */
export async function openApiText(store: EventStore): Promise<string> {
  const built = await createApiApp({ store, policy: defaultPolicyForDocument, auth: { tokens: [{ name: 'doc', sha256: '0'.repeat(64), subject: 'doc', roles: ['reader'] }] } });
  try {
    return `${JSON.stringify(built.document, null, 2)}\n`;
  } finally {
    await built.readModel.stop();
    await built.app.close();
  }
}
