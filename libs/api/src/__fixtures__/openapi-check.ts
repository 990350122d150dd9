// Test support (not exported): checks a response of the API against the OpenAPI document it serves. A response of a
// documented operation must be one of that operation's documented statuses, and a JSON body must match the schema
// documented for it (OpenAPI 3.0's schemas, turned into JSON Schema for Ajv: `nullable` becomes a null alternative).
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

type Json = Record<string, unknown>;
interface Operation {
  readonly method: string;
  readonly template: string;
  readonly pattern: RegExp;
  readonly responses: Record<string, { content?: Record<string, { schema?: Json }> }>;
}

/** OpenAPI 3.0 → JSON Schema: `nullable: true` allows null as well; `$ref`s point into `definitions`. */
function jsonSchemaOf(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(jsonSchemaOf);
  if (typeof schema !== 'object' || schema === null) return schema;
  const { nullable, ...rest } = schema as Json;
  const out: Json = {};
  for (const [key, value] of Object.entries(rest)) {
    if (key === '$ref' && typeof value === 'string') out[key] = value.replace('#/components/schemas/', '#/definitions/');
    else if (key === 'properties' || key === 'definitions') out[key] = Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, jsonSchemaOf(v)]));
    else if (key === 'example' || key === 'examples') continue;
    else out[key] = jsonSchemaOf(value);
  }
  if (nullable !== true) return out;
  if (Array.isArray(out['enum'])) out['enum'] = [...(out['enum'] as unknown[]), null];
  if (typeof out['type'] === 'string' && out['$ref'] === undefined && out['allOf'] === undefined) return { ...out, type: [out['type'], 'null'] };
  return { anyOf: [out, { type: 'null' }] };
}

export interface ResponseCheck {
  /** Throws naming the operation when a documented operation answers an undocumented status or a body off its schema. */
  (method: string, path: string, status: number, contentType: string | null, body: unknown): void;
  /** `METHOD /template status` of every response checked so far. */
  readonly seen: ReadonlySet<string>;
  /** `METHOD /template` of every documented operation. */
  readonly operations: readonly string[];
}

export function openApiResponseCheck(document: Json): ResponseCheck {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const schemas = (document['components'] as { schemas: Json }).schemas;
  const definitions = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, jsonSchemaOf(schema)]));
  const operations: Operation[] = Object.entries(document['paths'] as Record<string, Record<string, Json>>).flatMap(([template, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      template,
      // As Express routes it: case-insensitive, a trailing slash allowed, a parameter is one segment.
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`, 'i'),
      responses: op['responses'] as Operation['responses'],
    })),
  );
  const validators = new Map<string, ValidateFunction>();
  const seen = new Set<string>();
  const check = (method: string, path: string, status: number, contentType: string | null, body: unknown): void => {
    const bare = path.split('?')[0]!;
    const operation = operations.find((o) => o.method === method.toUpperCase() && o.pattern.test(bare));
    if (!operation) return; // the console's pages, /openapi.json, routes that do not exist
    const name = `${operation.method} ${operation.template}`;
    const documented = operation.responses[String(status)];
    if (!documented) throw new Error(`${name} answered ${status}, which its OpenAPI document does not list (it lists ${Object.keys(operation.responses).join(', ')}): ${JSON.stringify(body)}`);
    seen.add(`${name} ${status}`);
    const media = (contentType ?? '').split(';')[0]!.trim();
    const content = documented.content?.[media];
    if (!content?.schema) throw new Error(`${name} ${status} answered ${media || 'no content type'}, which its OpenAPI document does not describe (it has ${Object.keys(documented.content ?? {}).join(', ') || 'no content'})`);
    if (media !== 'application/json') return;
    const key = `${name} ${status}`;
    let validate = validators.get(key);
    if (!validate) validators.set(key, (validate = ajv.compile({ definitions, ...(jsonSchemaOf(content.schema) as Json) })));
    if (!validate(body)) throw new Error(`${name} ${status}: the body does not match its documented schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`);
  };
  return Object.assign(check, { seen, operations: operations.map((o) => `${o.method} ${o.template}`) });
}
