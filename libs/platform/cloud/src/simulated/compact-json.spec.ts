import { compactJsonParser } from './compact-json';

describe('compactJsonParser', () => {
  it('parses what JSON.parse parses, to equal values', () => {
    const parse = compactJsonParser();
    const texts = [
      '{"volumes":[{"id":"vol-0123456789abcdef0","region":"us-east-1","tags":{"env":"dev","note":"\\u00e9t\\u00e9 \\"q\\""},"sizeGiB":100,"iops":null,"encrypted":false}]}',
      '[1,-2.5e3,"x",[],{},[["nested"]]]',
      '"a lone string that is longer than thirteen characters"',
      '{"same":"us-east-1","again":"us-east-1","emoji":"😀 ok"}',
    ];
    for (const text of texts) expect(parse(text)).toEqual(JSON.parse(text));
  });

  it('keeps the values of many records apart', () => {
    const parse = compactJsonParser();
    const rows = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `vol-${String(i).padStart(17, '0')}`, region: i % 2 ? 'us-east-1' : 'eu-west-1' }));
    expect(rows.map(parse)).toEqual(rows.map((r) => JSON.parse(r)));
  });

  it('throws on text that is not JSON, as JSON.parse does', () => {
    expect(() => compactJsonParser()('{"id": ')).toThrow(SyntaxError);
  });
});
