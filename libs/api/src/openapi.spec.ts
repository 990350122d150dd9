import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteEventStore } from '@optex/event-store';
import { openApiText } from './api-app';

describe('docs/openapi.json', () => {
  it('is the document the API serves (regenerate with npm run -s openapi)', async () => {
    const store = SqliteEventStore.open(':memory:');
    const text = await openApiText(store).finally(() => store.close());
    expect(readFileSync(join(__dirname, '../../../docs/openapi.json'), 'utf8')).toBe(text);
  });

  it('states the role of every operation but the public ones', async () => {
    const store = SqliteEventStore.open(':memory:');
    const document = JSON.parse(await openApiText(store).finally(() => store.close())) as { paths: Record<string, Record<string, Record<string, unknown>>> };
    const operations = Object.entries(document.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, role: op['x-optex-role'] })));
    expect(operations.filter((o) => o.role === undefined).map((o) => o.path)).toEqual(['/health']);
    expect(operations.length).toBeGreaterThanOrEqual(11);
  });

  it('lists 503 for every operation, with an Error body: an outage of the store or the bus is answered 503 whatever the route', async () => {
    const store = SqliteEventStore.open(':memory:');
    type Responses = Record<string, { content?: Record<string, { schema?: { $ref?: string; oneOf?: { $ref?: string }[] } }> }>;
    const document = JSON.parse(await openApiText(store).finally(() => store.close())) as { paths: Record<string, Record<string, { responses: Responses }>> };
    const error = '#/components/schemas/Error';
    const withoutOutage = Object.entries(document.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => {
          const schema = op.responses['503']?.content?.['application/json']?.schema;
          return !(schema?.$ref === error || schema?.oneOf?.some((s) => s.$ref === error));
        })
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(withoutOutage).toEqual([]);
  });
});
