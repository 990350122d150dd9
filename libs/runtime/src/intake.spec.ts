import { IntakeInvariantError, REJECTED_STREAM, defaultIntakeLimits, defaultPolicy, defaultPriceBook, type IntakeLimits } from '@optex/domain';
import { silentLogger } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { InMemoryBus } from '@optex/messaging';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics } from '@optex/engine';
import { gp3Recommendation } from '@optex/testing';
import { RecordSplitter, inputRecord, type InputRecords } from './input';
import { processUntilQuiescent, report } from './processing';

jest.setTimeout(60_000);

const ACCOUNT = '123456789012';
const gp3 = (recommendationId: string, extra: Record<string, unknown> = {}) => gp3Recommendation({ recommendationId, source: 'spec', volumeId: 'vol-1' }, extra);
const rightsize = (recommendationId: string, extra: Record<string, unknown> = {}, action: Record<string, unknown> = {}) =>
  gp3(recommendationId, { resource: { type: 'ec2:instance', id: 'i-1' }, action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large', ...action }, ...extra });
const fleet = { volumes: [{ id: 'vol-1', accountId: ACCOUNT, region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' }] };

/** Runs `input` through the whole embedded engine (the CLI's path: bus → risk-assessor → …) on an in-memory store. */
async function run(input: InputRecords, intakeLimits: IntakeLimits = defaultIntakeLimits) {
  const store = SqliteEventStore.open(':memory:');
  const bus = new InMemoryBus();
  const sim = SimulatedFleet.fromFleet(fleet);
  try {
    const result = await processUntilQuiescent(
      { store, bus, ec2: sim, metricsSource: sim, identity: sim, priceBook: defaultPriceBook, policy: defaultPolicy, clock: { now: () => new Date() }, logger: silentLogger, metrics: new OptexMetrics(), options: { stepBackoffMs: 1, intakeLimits } },
      { input, dryRun: true },
    );
    const rejections = await store.readStream(REJECTED_STREAM);
    return { result, rejections };
  } finally {
    await bus.close();
    await store.close();
  }
}

/** An input as the CLI reads it: split from bytes. */
function splitInput(bytes: Buffer, deliveryPrefix: string): InputRecords {
  const splitter = new RecordSplitter(defaultIntakeLimits);
  splitter.push(bytes);
  return { records: splitter.end().records, deliveryPrefix, name: 'spec' };
}

const line = (value: unknown) => Buffer.from(`${JSON.stringify(value)}\n`);
const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('intake through the engine: every record ends processed, rejected or duplicate', () => {
  it('the run spends its input: each record keeps its size and lets go of its bytes once its message went out', async () => {
    const input = splitInput(Buffer.concat([line(gp3('rec-a')), line({ recommendationId: 'broken' }), line(gp3('rec-a'))]), 'spent');
    const sizes = input.records.map((r) => r.size);
    expect(input.records.every((r) => r.bytes.length > 0)).toBe(true);
    const { result } = await run(input);
    expect(result.summary).toMatchObject({ received: 3, rejected: 1, duplicates: 1 });
    expect(result.optimizations).toEqual([expect.objectContaining({ recommendationId: 'rec-a', status: 'dry-run-completed' })]);
    expect(input.records.map((r) => [r.bytes.length, r.size])).toEqual(sizes.map((size) => [0, size]));
  });

  it('issue 7 finding 1: one NDJSON line nested 10,000 deep is received 1, rejected 1 (it used to vanish)', async () => {
    const { result, rejections } = await run(splitInput(Buffer.from(`${deep(10_000)}\n`), 'deep'));
    expect(result.summary).toMatchObject({ received: 1, rejected: 1, duplicates: 0 });
    expect(result.rejected).toEqual([{ index: 0, recommendationId: null, errors: [expect.stringMatching(/^a\.a\.a.*: a\.a\.a.* is nested deeper than the limit of 16 levels$/)] }]);
    expect(rejections[0]!.data).toMatchObject({ raw: { truncated: true, bytes: deep(10_000).length } });
  });

  it('issue 7 finding 1: a lone surrogate in the id (URIError, retried, then gone) is rejected naming the field', async () => {
    const text = JSON.stringify(gp3('rec-x')).replace('"rec-x"', '"rec-\\ud800"');
    const { result } = await run({ records: [inputRecord(text)], deliveryPrefix: 'lone', name: 'spec' });
    expect(result.summary).toMatchObject({ received: 1, rejected: 1 });
    expect(result.rejected[0]!.errors).toEqual(['recommendationId: recommendationId must be well-formed Unicode: a lone surrogate (\\ud800) at position 4']);
  });

  it('issue 7 finding 3: a record over the size limit, cut by the reader, is rejected with its full size and the long field', async () => {
    const huge = JSON.stringify(gp3('rec-huge', { resource: { type: 'ec2:volume', id: `vol-${'9'.repeat(300_000)}` } }));
    const input = splitInput(Buffer.from(`${huge}\n`), 'huge');
    expect(input.records[0]!.bytes.length).toBe(defaultIntakeLimits.maxRecordBytes);
    const { result } = await run(input);
    expect(result.summary).toMatchObject({ received: 1, rejected: 1 });
    expect(result.rejected[0]!.errors).toEqual([`(root): (root) is ${huge.length} bytes, more than the limit of 65536`, 'resource.id: resource.id is longer than the limit of 1024 characters']);
  });

  it('issue 7 finding 3: invalid UTF-8, BOM, blank source, duplicate keys, m5.huge, xx-yy-1 in one NDJSON input', async () => {
    const valid = gp3('rec-ok');
    const [before, after] = JSON.stringify(gp3('rec-utf8')).split('vol-1');
    const invalidUtf8 = Buffer.concat([Buffer.from(`${before}vol-`), Buffer.from([0xc3, 0x28]), Buffer.from(`${after}\n`)]);
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      line(valid),
      invalidUtf8,
      line(gp3('rec-blank', { source: '  ' })),
      Buffer.from(`${JSON.stringify(gp3('rec-dup-key')).replace('"currency":"USD"', '"currency":"USD","currency":"USD"')}\n`),
      line(rightsize('rec-huge-type', {}, { targetInstanceType: 'm5.huge' })),
      line(gp3('rec-region', { region: 'xx-yy-1' })),
      line(valid),
    ]);
    const { result } = await run(splitInput(bytes, 'mixed'));
    expect(result.summary).toMatchObject({ received: 7, rejected: 5, duplicates: 1 });
    expect(result.optimizations.map((o) => o.recommendationId)).toEqual(['rec-ok']);
    expect(result.rejected.map((r) => [r.index, r.errors])).toEqual([
      [1, [expect.stringMatching(/^resource\.id: resource\.id is not valid UTF-8 \(byte 0xc3 at offset \d+\)$/)]],
      [2, ['source: source must not be blank (only whitespace)']],
      [3, ['currency: currency is given more than once (duplicate key)']],
      [4, ['action.targetInstanceType: action.targetInstanceType must be a known EC2 instance type (family.size, e.g. m5.large), got "m5.huge"']],
      [5, ['region: region must be a known AWS region (e.g. us-east-1, eu-west-1; the list ships with the price book), got "xx-yy-1"']],
    ]);
  });

  it('issue 7 finding 2: a JSON array with a record nested 10,000 deep runs the others', async () => {
    const bytes = Buffer.from(`[${JSON.stringify(gp3('rec-a'))},${deep(10_000)},${JSON.stringify(gp3('rec-b', { resource: { type: 'ec2:volume', id: 'vol-2' } }))}]`);
    const { result } = await run(splitInput(bytes, 'array'));
    expect(result.summary).toMatchObject({ received: 3, rejected: 1, duplicates: 0 });
    expect(result.rejected.map((r) => r.index)).toEqual([1]);
    expect(result.optimizations.map((o) => o.recommendationId).sort()).toEqual(['rec-a', 'rec-b']);
  });

  it('a number too large for a double (1e400, in a field or an unknown key) is rejected naming the field, and the others run', async () => {
    const text = (id: string, field: string) => JSON.stringify(gp3(id, { [field]: 0 })).replace(`"${field}":0`, `"${field}":1e400`);
    const bytes = Buffer.from(`${text('rec-big', 'estimatedMonthlySavings')}\n${text('rec-note', 'note')}\n${JSON.stringify(gp3('rec-ok'))}\n`);
    const { result, rejections } = await run(splitInput(bytes, 'big'));
    expect(result.summary).toMatchObject({ received: 3, rejected: 2, duplicates: 0 });
    expect(result.rejected.map((r) => [r.index, r.recommendationId, r.errors])).toEqual([
      [0, 'rec-big', ['estimatedMonthlySavings: estimatedMonthlySavings must be a number, got Infinity']],
      [1, 'rec-note', [expect.stringMatching(/^note: /)]],
    ]);
    expect(rejections.map((e) => (e.data as { raw: unknown }).raw).sort()).toEqual([text('rec-big', 'estimatedMonthlySavings'), text('rec-note', 'note')].sort());
    expect(result.optimizations.map((o) => o.recommendationId)).toEqual(['rec-ok']);
  });

  it('applies the configured limits on this path too', async () => {
    const { result } = await run({ records: [inputRecord(JSON.stringify(gp3('rec-1')))], deliveryPrefix: 'limits', name: 'spec' }, { ...defaultIntakeLimits, maxDepth: 1 });
    expect(result.rejected[0]!.errors).toEqual(['resource: resource is nested deeper than the limit of 1 levels']);
  });
});

describe('report: the invariant is checked in code', () => {
  it('throws an internal error naming the record when a record of the input has no outcome in the log', async () => {
    const store = SqliteEventStore.open(':memory:');
    try {
      const input = { records: [inputRecord('{}')], deliveryPrefix: 'lost', name: 'spec' };
      await expect(report(store, input)).rejects.toThrow(new IntakeInvariantError('of 1 records received, 1 with no outcome (record 0): every record must end processed, rejected or duplicate'));
    } finally {
      await store.close();
    }
  });
});
