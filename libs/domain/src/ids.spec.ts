import { validate, version, v5 } from 'uuid';
import { OPTEX_NAMESPACE, eventIdFor, optimizationIdFor, previewIdFor } from './ids';

describe('ids', () => {
  it('uses a valid, fixed UUID namespace', () => {
    expect(validate(OPTEX_NAMESPACE)).toBe(true);
    expect(OPTEX_NAMESPACE).toBe('0b6f3a1e-5c7d-4e8a-9f21-6d3c8b7a4e50');
  });

  it('derives the optimization id as uuidv5 of "source/recommendationId"', () => {
    const id = optimizationIdFor('compute-optimizer', 'rec-1');
    expect(version(id)).toBe(5);
    expect(id).toBe(v5('compute-optimizer/rec-1', OPTEX_NAMESPACE));
  });

  it('keeps the ids of non-ASCII names as uuid computes them from the string (ids stored before stay valid)', () => {
    expect(optimizationIdFor('analyzer-é', 'rec-日本-😀')).toBe(v5('analyzer-é/rec-日本-😀', OPTEX_NAMESPACE));
  });

  it('derives an id from a name with a lone surrogate instead of throwing (uuid alone throws URIError)', () => {
    expect(() => v5('s/\ud800', OPTEX_NAMESPACE)).toThrow(URIError);
    expect(version(optimizationIdFor('s', '\ud800'))).toBe(5);
    expect(version(eventIdFor('s', 'delivery-\udc00', 0))).toBe(5);
  });

  it('gives the uuid package\'s v5 of the name\'s UTF-8 bytes for any name: empty, long, any code point', () => {
    const utf8 = new TextEncoder();
    const pick = (i: number, n: number) => String.fromCodePoint([0x41 + (i % 26), 0xe9, 0x65e5, 0x1f600, 0x2f, 0x20][(i * 7 + n) % 6]);
    const names = ['', 'x'.repeat(5000), ...Array.from({ length: 500 }, (_, i) => Array.from({ length: i % 40 }, (_, n) => pick(i, n)).join(''))];
    for (const name of names) expect(eventIdFor(name, 'c', 0)).toBe(v5(utf8.encode(`${name}/c/0`), OPTEX_NAMESPACE));
  });

  it('maps a duplicate recommendation to the same id and another source to another id', () => {
    expect(optimizationIdFor('custodian', 'r-9')).toBe(optimizationIdFor('custodian', 'r-9'));
    expect(optimizationIdFor('custodian', 'r-9')).not.toBe(optimizationIdFor('compute-optimizer', 'r-9'));
  });

  it('derives event ids from stream, causation key and index', () => {
    const id = eventIdFor('optimization-x', 'delivery-1', 0);
    expect(id).toBe(v5('optimization-x/delivery-1/0', OPTEX_NAMESPACE));
    expect(eventIdFor('optimization-x', 'delivery-1', 0)).toBe(id);
  });

  it('gives different event ids for different indexes and causations', () => {
    const ids = new Set([eventIdFor('s', 'c', 0), eventIdFor('s', 'c', 1), eventIdFor('s', 'd', 0), eventIdFor('t', 'c', 0)]);
    expect(ids.size).toBe(4);
  });
});

describe('previewIdFor', () => {
  it('gives a dry run a stream of its own, never the recommendation\'s', () => {
    expect(previewIdFor('co', 'rec-1')).not.toBe(optimizationIdFor('co', 'rec-1'));
    expect(previewIdFor('co', 'rec-1')).toBe(previewIdFor('co', 'rec-1'));
    expect(previewIdFor('co', 'rec-1')).not.toBe(previewIdFor('co', 'rec-2'));
  });
});
