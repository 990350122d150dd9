import { IntakeInvariantError, accountForRecords, defaultIntakeLimits, intakeRecord, invalidUtf8Offset, scanJsonText, type IntakeOutcome } from './intake';

const valid = {
  recommendationId: 'rec-1',
  source: 'compute-optimizer',
  accountId: '123456789012',
  region: 'us-east-1',
  resource: { type: 'ec2:instance', id: 'i-0abc', tags: { env: 'staging' } },
  action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' },
  estimatedMonthlySavings: 70.08,
  currency: 'USD',
};

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const intakeText = (text: string): IntakeOutcome => intakeRecord(utf8(text));
const rejected = (outcome: IntakeOutcome) => {
  if (outcome.ok) throw new Error('expected the record to be rejected');
  return outcome;
};
const messages = (outcome: IntakeOutcome): string[] => rejected(outcome).errors.map((e) => e.message);
const paths = (outcome: IntakeOutcome): string[] => rejected(outcome).errors.map((e) => e.path);
const deep = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('intakeRecord: a valid record', () => {
  it('becomes the recommendation', () => {
    const outcome = intakeText(JSON.stringify(valid));
    expect(outcome).toEqual({ ok: true, recommendation: valid });
  });

  it('with a UTF-8 BOM in front is read as if it had none', () => {
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8(JSON.stringify(valid))]);
    expect(intakeRecord(withBom)).toEqual({ ok: true, recommendation: valid });
  });
});

describe('intakeRecord: limits, checked before parsing', () => {
  it('rejects a record nested 10,000 deep without parsing it, naming where, keeping a short prefix', () => {
    const outcome = rejected(intakeText(deep(10_000)));
    expect(outcome.errors).toHaveLength(1);
    expect(outcome.errors[0]!.message).toMatch(/^a\.a\.a.* is nested deeper than the limit of 16 levels$/);
    expect(outcome.raw).toEqual({ truncated: true, bytes: deep(10_000).length, prefix: deep(10_000).slice(0, 512) });
    expect(() => JSON.stringify(outcome)).not.toThrow();
  });

  it('accepts nesting up to the limit (the depth is checked, not guessed)', () => {
    expect(scanJsonText(deep(16), defaultIntakeLimits).tooDeep).toBe(false);
    expect(scanJsonText(deep(17), defaultIntakeLimits).tooDeep).toBe(true);
  });

  it('rejects a record over the size limit, naming the long field found in what was kept', () => {
    const huge = JSON.stringify({ ...valid, resource: { ...valid.resource, id: 'i-'.padEnd(200_000, 'x') } });
    const outcome = rejected(intakeText(huge));
    expect(outcome.errors.map((e) => e.message)).toEqual([
      `(root) is ${huge.length} bytes, more than the limit of 65536`,
      'resource.id is longer than the limit of 1024 characters',
    ]);
    expect(JSON.stringify(outcome.raw).length).toBeLessThan(1000);
  });

  it('uses the size the record had when only a prefix of it was kept', () => {
    const outcome = rejected(intakeRecord(utf8(JSON.stringify(valid)), defaultIntakeLimits, 50_000_000));
    expect(outcome.errors[0]!.message).toBe('(root) is 50000000 bytes, more than the limit of 65536');
  });

  it('rejects a string longer than the limit, naming the field', () => {
    expect(messages(intakeText(JSON.stringify({ ...valid, source: 's'.repeat(1025) })))).toContain('source is 1025 characters long, more than the limit of 1024');
  });

  it('rejects more tags than the limit', () => {
    const tags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    expect(messages(intakeText(JSON.stringify({ ...valid, resource: { ...valid.resource, tags } })))).toContain('resource.tags has 51 tags, more than the limit of 50');
  });

  it('cuts a long key in the paths of every error, so a rejection stays small (the fuzz seed 1366221239)', () => {
    // Two 30,000-character tag keys, one value with a tab and one with a lone surrogate: the schema's errors used to
    // carry each whole key twice (path and message), beside the scan's cut ones: 197,839 characters for one record.
    const key = (c: string) => `k${c.repeat(29_999)}`;
    const text = JSON.stringify({ ...valid, resource: { ...valid.resource, tags: { [key('x')]: 'a\tb', [key('y')]: 'c' } } }).replace('"c"', '"\\udf44"');
    const outcome = rejected(intakeText(text));
    const cutKey = (c: string) => `resource.tags.${key(c)}`.slice(0, 199) + '…';
    expect(outcome.errors).toEqual([
      { path: cutKey('x'), message: `${cutKey('x')} is 30000 characters long, more than the limit of 1024` },
      { path: cutKey('y'), message: `${cutKey('y')} is 30000 characters long, more than the limit of 1024` },
      { path: cutKey('y'), message: `${cutKey('y')} must be well-formed Unicode: a lone surrogate (\\udf44) at position 0` },
      { path: cutKey('x'), message: `${cutKey('x')} must not contain control characters: \\t at position 1` },
    ]);
    expect(JSON.stringify(outcome.errors).length).toBeLessThan(2_000);
  });

  it('names an empty key as "" (the fuzz seed 1367766015: a reason with the path "")', () => {
    const outcome = rejected(intakeText(JSON.stringify({ '': 'x'.repeat(1025), ...valid, resource: { ...valid.resource, tags: { '': 'y\u0001' } } })));
    expect(outcome.errors).toEqual([
      { path: '""', message: '"" is 1025 characters long, more than the limit of 1024' },
      { path: 'resource.tags.""', message: 'resource.tags."" must not contain control characters: \\x01 at position 1' },
      { path: '""', message: '"" is not a known field' },
    ]);
  });

  it('applies the limits it is given', () => {
    const record = utf8(JSON.stringify(valid));
    expect(messages(intakeRecord(record, { ...defaultIntakeLimits, maxDepth: 2 }))).toEqual(['resource.tags is nested deeper than the limit of 2 levels']);
    expect(messages(intakeRecord(record, { ...defaultIntakeLimits, maxStringLength: 20 }))).toEqual([
      'estimatedMonthlySavi… is 23 characters long, more than the limit of 20',
    ]);
    expect(messages(intakeRecord(record, { ...defaultIntakeLimits, maxRecordBytes: 100 }))[0]).toBe(`(root) is ${record.length} bytes, more than the limit of 100`);
    expect(messages(intakeRecord(record, { ...defaultIntakeLimits, maxTags: 0 }))).toEqual(['resource.tags has 1 tags, more than the limit of 0']);
  });
});

describe('intakeRecord: honest parsing', () => {
  it('rejects invalid UTF-8, naming the field the bad byte is in', () => {
    const [before, after] = JSON.stringify(valid).split('i-0abc');
    const bytes = new Uint8Array([...utf8(`${before}i-0`), 0xff, ...utf8(`abc${after}`)]);
    const outcome = rejected(intakeRecord(bytes));
    expect(outcome.errors).toEqual([{ path: 'resource.id', message: `resource.id is not valid UTF-8 (byte 0xff at offset ${utf8(before!).length + 3})` }]);
    expect(outcome.raw).toMatchObject({ encoding: 'base64', bytes: bytes.length });
  });

  it.each([
    ['a lone high surrogate', '\\ud800x', '\\ud800', 0],
    ['a lone low surrogate', 'ab\\udc00', '\\udc00', 2],
    ['two high surrogates', '\\ud800\\ud800\\udc00', '\\ud800', 0],
  ])('rejects %s in an id, naming the field (the URIError that made records vanish)', (_name, escaped, unit, index) => {
    const text = JSON.stringify(valid).replace('"rec-1"', `"${escaped}"`);
    expect(rejected(intakeText(text)).errors).toEqual([{ path: 'recommendationId', message: `recommendationId must be well-formed Unicode: a lone surrogate (${unit}) at position ${index}` }]);
  });

  it('accepts a surrogate pair, escaped or not', () => {
    expect(intakeText(JSON.stringify(valid).replace('"rec-1"', '"rec-\\ud83d\\ude00-😀"')).ok).toBe(true);
  });

  it('rejects a lone surrogate in any key, even an unknown one', () => {
    expect(paths(intakeText(JSON.stringify(valid).replace('{', '{"x\\udc00":1,')))).toContain('x\udc00');
  });

  it('rejects a key given twice, naming it (JSON.parse would keep the last silently)', () => {
    const text = JSON.stringify(valid).replace('"id":"i-0abc"', '"id":"i-0abc","id":"i-other"');
    expect(rejected(intakeText(text)).errors).toEqual([{ path: 'resource.id', message: 'resource.id is given more than once (duplicate key)' }]);
  });

  it('does not confuse equal keys of different objects', () => {
    expect(intakeText(JSON.stringify({ ...valid, resource: { ...valid.resource, tags: { type: 'a', id: 'b' } } })).ok).toBe(true);
  });

  it('rejects text that is not JSON as (root), keeping the text', () => {
    const outcome = rejected(intakeText('{"recommendationId": '));
    expect(outcome.errors[0]!.message).toMatch(/^\(root\) is not valid JSON/);
    expect(outcome.raw).toBe('{"recommendationId": ');
  });

  it('keeps a record holding a number too large for a double as its text: parsed, it would not be JSON again', () => {
    const text = JSON.stringify(valid).replace('70.08', '-1e999');
    const outcome = rejected(intakeText(text));
    expect(outcome.errors).toEqual([{ path: 'estimatedMonthlySavings', message: 'estimatedMonthlySavings must be a number, got -Infinity' }]);
    expect(outcome.raw).toBe(text);
    expect(outcome.recommendationId).toBe('rec-1');
  });

  it('keeps the parsed record and its id in a rejection of a parseable one', () => {
    const outcome = rejected(intakeText(JSON.stringify({ ...valid, source: '   ' })));
    expect(outcome.errors).toEqual([{ path: 'source', message: 'source must not be blank (only whitespace)' }]);
    expect(outcome.raw).toEqual({ ...valid, source: '   ' });
    expect(outcome.recommendationId).toBe('rec-1');
  });

  it.each([
    ['resource.id', { ...valid, resource: { ...valid.resource, id: 'i-1\n\u001b[2J' } }, 'resource.id must not contain control characters: \\n at position 3'],
    ['recommendationId', { ...valid, recommendationId: 'rec\u009b1' }, 'recommendationId must not contain control characters: \\x9b at position 3'],
    ['source', { ...valid, source: 'a\u202eb' }, 'source must not contain control characters: \\u202e at position 1'],
    ['resource.tags.env', { ...valid, resource: { ...valid.resource, tags: { env: 'x\u0007' } } }, 'resource.tags.env must not contain control characters: \\x07 at position 1'],
  ])('rejects control characters in %s', (path, record, message) => {
    expect(rejected(intakeText(JSON.stringify(record))).errors).toEqual([{ path, message }]);
  });

  it('rejects whitespace-only resource.id', () => {
    expect(messages(intakeText(JSON.stringify({ ...valid, resource: { ...valid.resource, id: ' \t ' } })))).toContain('resource.id must not be blank (only whitespace)');
  });

  it('rejects an instance type and a region that only fit the pattern', () => {
    const outcome = intakeText(JSON.stringify({ ...valid, region: 'xx-yy-1', action: { ...valid.action, targetInstanceType: 'm5.huge' } }));
    expect(rejected(outcome).errors).toEqual([
      { path: 'region', message: 'region must be a known AWS region (e.g. us-east-1, eu-west-1; the list ships with the price book), got "xx-yy-1"' },
      { path: 'action.targetInstanceType', message: 'action.targetInstanceType must be a known EC2 instance type (family.size, e.g. m5.large), got "m5.huge"' },
    ]);
  });

  it('lists at most 20 problems of one record and counts the rest', () => {
    const record = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`unknown${i}`, i]));
    const errors = rejected(intakeText(JSON.stringify({ ...valid, ...record }))).errors;
    expect(errors).toHaveLength(21);
    expect(errors[20]).toEqual({ path: '(root)', message: '(root) has 10 more problems (not listed)' });
  });
});

describe('invalidUtf8Offset', () => {
  it.each([
    ['ASCII', [0x61, 0x62], 2],
    ['a 2-byte sequence', [0xc3, 0xa9], 2],
    ['a stray continuation byte', [0x61, 0x80], 1],
    ['an overlong form', [0xc0, 0xaf], 0],
    ['an encoded surrogate', [0xed, 0xa0, 0x80], 0],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['a sequence cut at the end', [0x61, 0xe2, 0x82], 1],
  ])('%s', (_name, bytes, offset) => {
    expect(invalidUtf8Offset(new Uint8Array(bytes))).toBe(offset);
  });

  it('does not count a sequence cut at the end of a truncated record', () => {
    expect(invalidUtf8Offset(new Uint8Array([0x61, 0xe2, 0x82]), true)).toBe(3);
  });
});

describe('accountForRecords: every record ends exactly once', () => {
  it('given one fate per record, counts them: received = processed + rejected + duplicates', () => {
    expect(accountForRecords(4, [[0, 'processed'], [1, 'rejected'], [2, 'duplicate'], [3, 'processed']])).toEqual({ received: 4, processed: 2, rejected: 1, duplicates: 1 });
  });

  it('given a record without a fate (lost), throws naming it', () => {
    expect(() => accountForRecords(3, [[0, 'processed'], [2, 'rejected']])).toThrow(new IntakeInvariantError('of 3 records received, 1 with no outcome (record 1): every record must end processed, rejected or duplicate'));
  });

  it('given a record with two fates, throws naming both', () => {
    expect(() => accountForRecords(1, [[0, 'processed'], [0, 'rejected']])).toThrow(/1 with more than one \(record 0 \(processed, rejected\)\)/);
  });

  it('given a fate of a record that was not received, throws', () => {
    expect(() => accountForRecords(1, [[0, 'processed'], [1, 'duplicate']])).toThrow(/outcomes of records that were not received \(index 1\)/);
  });

  it('given nothing received, accounts for nothing', () => {
    expect(accountForRecords(0, [])).toEqual({ received: 0, processed: 0, rejected: 0, duplicates: 0 });
  });
});
