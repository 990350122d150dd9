import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultIntakeLimits } from '@optex/domain';
import { InputFormatError, RecordSplitter, envWholeNumber, intakeLimitsFromEnv, readInput } from './input';
import { UsageError } from './adapters';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Splits `input` fed in chunks of `chunkSize` bytes; the records as text. */
function split(input: string | Buffer, chunkSize = Number.MAX_SAFE_INTEGER, maxRecordBytes = 64 * 1024) {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const splitter = new RecordSplitter({ maxRecordBytes });
  for (let i = 0; i < bytes.length; i += chunkSize) splitter.push(bytes.subarray(i, i + chunkSize));
  const { format, records } = splitter.end();
  return { format, texts: records.map((r) => Buffer.from(r.bytes).toString('utf8')), sizes: records.map((r) => r.size) };
}

describe('RecordSplitter: NDJSON', () => {
  it('gives one record per line; blank lines are not records; CRLF and a last line without newline are fine', () => {
    expect(split('{"a":1}\r\n\n   \n{"b":2}\n{"c":3}')).toEqual({ format: 'ndjson', texts: ['{"a":1}', '{"b":2}', '{"c":3}'], sizes: [7, 7, 7] });
  });

  it('keeps a bad line as a record (it is rejected later, not here)', () => {
    expect(split('{"a":1}\nnot json\n').texts).toEqual(['{"a":1}', 'not json']);
  });

  it('drops a UTF-8 BOM at the start and keeps the first record whole', () => {
    expect(split(Buffer.concat([BOM, Buffer.from('{"a":1}\n{"b":2}\n')])).texts).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('passes invalid UTF-8 bytes on unchanged', () => {
    const splitter = new RecordSplitter({ maxRecordBytes: 100 });
    splitter.push(Buffer.from([0x7b, 0xff, 0x7d, 0x0a]));
    expect([...splitter.end().records[0]!.bytes]).toEqual([0x7b, 0xff, 0x7d]);
  });

  it('keeps only the first maxRecordBytes of a long line, and its full size', () => {
    const long = `{"id":"${'x'.repeat(5000)}"}`;
    const { texts, sizes } = split(`${long}\n{"b":2}\n`, 1024, 100);
    expect(texts).toEqual([long.slice(0, 100), '{"b":2}']);
    expect(sizes).toEqual([long.length, 7]);
  });

  it('reads nothing from an empty or blank input', () => {
    expect(split('')).toEqual({ format: 'ndjson', texts: [], sizes: [] });
    expect(split(' \n\n')).toEqual({ format: 'ndjson', texts: [], sizes: [] });
  });
});

describe('RecordSplitter: one object over several lines', () => {
  const pretty = JSON.stringify({ recommendationId: 'r1', resource: { type: 'ec2:volume', id: 'vol-1' }, tags: ['a b'] }, null, 2);

  it('is one record (jq .[0], an editor), not a record per line rejected one by one', () => {
    const { format, texts, sizes } = split(`${pretty}\n`, 7);
    expect(format).toBe('object');
    expect(texts).toHaveLength(1);
    expect(JSON.parse(texts[0]!)).toEqual(JSON.parse(pretty));
    expect(sizes).toEqual([Buffer.byteLength(texts[0]!)]);
    expect(split(pretty.replace(/\n/g, '\r\n')).format).toBe('object');
  });

  it('above maxRecordBytes keeps a prefix and counts its whole size, so it is refused as too large like any record', () => {
    const { texts, sizes } = split(pretty, 5, 20);
    expect(texts).toEqual([texts[0]!.slice(0, 20)]);
    expect(sizes[0]).toBeGreaterThan(20);
  });

  it('NDJSON whose lines are whole objects is unchanged, even when a line is bad', () => {
    expect(split('{"a":1}\n{\n{"b":2}\n')).toEqual({ format: 'ndjson', texts: ['{"a":1}', '{', '{"b":2}'], sizes: [7, 1, 7] });
  });
});

describe('RecordSplitter: JSON array', () => {
  it('gives one record per top-level element, following strings, escapes and brackets', () => {
    const input = ' [ {"a":"x,]\\"}{["} , {"b":[1,{"c":[2]}]},"s" ,3 ] \n';
    expect(split(input)).toEqual({ format: 'array', texts: ['{"a":"x,]\\"}{["}', '{"b":[1,{"c":[2]}]}', '"s"', '3'], sizes: [16, 19, 3, 1] });
  });

  it('splits the same way whatever the chunks', () => {
    const input = Buffer.concat([BOM, Buffer.from('[{"a":"é,]\\\\"},\n{"b":[1,2]}]')]);
    const whole = split(input);
    for (let size = 1; size <= input.length; size++) expect(split(input, size)).toEqual(whole);
    expect(whole.texts).toEqual(['{"a":"é,]\\\\"}', '{"b":[1,2]}']);
  });

  it('drops a UTF-8 BOM at the start (the array was unreadable with it)', () => {
    expect(split(Buffer.concat([BOM, Buffer.from('[{"a":1}]')])).texts).toEqual(['{"a":1}']);
  });

  it('takes a record nested 10,000 deep as one record, without recursion', () => {
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    expect(split(`[${deep},{"b":2}]`).texts).toEqual([deep, '{"b":2}']);
  });

  it('reads nothing from an empty array', () => {
    expect(split('[ ]')).toEqual({ format: 'array', texts: [], sizes: [] });
  });

  it.each([
    ['not closed', '[{"recommendationId": ', /not closed \(input ends inside record 0\)/],
    ['an empty element', '[{"a":1},,{"b":2}]', /an empty element at byte 9/],
    ['a trailing comma', '[{"a":1},]', /an empty element at byte 9/],
    ['text after the array', '[{"a":1}] x', /unexpected text after the array at byte 10/],
    ['neither [ nor {', 'hello', /expected a JSON array or NDJSON/],
    ['a broken BOM', Buffer.from([0xef, 0xbb, 0x5b, 0x5d]), /expected a JSON array or NDJSON/],
  ])('refuses an input %s as a whole', (_name, input, message) => {
    expect(() => split(input)).toThrow(InputFormatError);
    expect(() => split(input)).toThrow(message);
  });
});

describe('readInput', () => {
  const dir = mkdtempSync(join(tmpdir(), 'optex-input-'));

  it('reads a file in chunks and gives a delivery prefix from its content', async () => {
    const file = join(dir, 'recs.ndjson');
    writeFileSync(file, '{"a":1}\n{"b":2}\n');
    const input = await readInput(file, defaultIntakeLimits);
    expect(input.records.map((r) => Buffer.from(r.bytes).toString())).toEqual(['{"a":1}', '{"b":2}']);
    expect(input.deliveryPrefix).toMatch(/^input:[0-9a-f]{16}$/);
    expect((await readInput(file, defaultIntakeLimits)).deliveryPrefix).toBe(input.deliveryPrefix);
  });

  it('refuses a file over the input limit before reading it', async () => {
    const file = join(dir, 'big.ndjson');
    writeFileSync(file, '{"a":1}\n'.repeat(100));
    await expect(readInput(file, { ...defaultIntakeLimits, maxFileBytes: 799 })).rejects.toThrow(new UsageError(`${file} is 800 bytes, more than the input limit of 799 (OPTEX_MAX_FILE_BYTES)`));
  });

  it('is a usage error for a missing file, a directory and an input that is not JSON', async () => {
    await expect(readInput(join(dir, 'missing.json'), defaultIntakeLimits)).rejects.toThrow(/no such file/);
    await expect(readInput(dir, defaultIntakeLimits)).rejects.toThrow(/is a directory/);
    const file = join(dir, 'text.txt');
    writeFileSync(file, 'hello');
    await expect(readInput(file, defaultIntakeLimits)).rejects.toThrow(new UsageError(`unreadable input ${file}: expected a JSON array or NDJSON (one JSON object per line)`));
  });
});

describe('intakeLimitsFromEnv', () => {
  it('gives the defaults, each overridden by its variable', () => {
    expect(intakeLimitsFromEnv({})).toEqual(defaultIntakeLimits);
    expect(intakeLimitsFromEnv({ OPTEX_MAX_FILE_BYTES: '1000', OPTEX_MAX_TAGS: '0' })).toEqual({ ...defaultIntakeLimits, maxFileBytes: 1000, maxTags: 0 });
  });

  it.each([['OPTEX_MAX_STRING_LENGTH', '-1'], ['OPTEX_MAX_RECORD_BYTES', '1e3'], ['OPTEX_MAX_TAGS', 'many']])('refuses %s=%s naming it', (name, value) => {
    expect(() => intakeLimitsFromEnv({ [name]: value })).toThrow(UsageError);
    expect(() => intakeLimitsFromEnv({ [name]: value })).toThrow(name);
  });
});

describe('envWholeNumber', () => {
  it('reads decimal digits only, from min to max; unset or empty is undefined', () => {
    expect(envWholeNumber({ N: '42' }, 'N', 0)).toBe(42);
    expect(envWholeNumber({ N: ' 7 ' }, 'N', 0)).toBe(7);
    expect(envWholeNumber({ N: '65535' }, 'N', 0, 65535)).toBe(65535);
    expect(envWholeNumber({ N: '' }, 'N', 0)).toBeUndefined();
    expect(envWholeNumber({}, 'N', 0)).toBeUndefined();
    for (const raw of ['0x10', '1e3', '1.0', '-1', '+1', 'Infinity', '10k']) {
      expect(() => envWholeNumber({ N: raw }, 'N', 0)).toThrow(`N must be a whole number ≥ 0, got ${JSON.stringify(raw)}`);
    }
  });

  it('refuses a number above max, saying the range', () => {
    expect(() => envWholeNumber({ PORT: '65536' }, 'PORT', 0, 65535)).toThrow(UsageError);
    expect(() => envWholeNumber({ PORT: '65536' }, 'PORT', 0, 65535)).toThrow('PORT must be a whole number from 0 to 65535, got "65536"');
    expect(() => envWholeNumber({ PORT: '99999' }, 'PORT', 1, 65535)).toThrow('PORT must be a whole number from 1 to 65535, got "99999"');
  });
});
