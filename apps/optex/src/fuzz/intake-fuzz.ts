import fc from 'fast-check';
import {
  AWS_REGIONS,
  IntakeInvariantError,
  defaultIntakeLimits,
  defaultPolicy,
  defaultPriceBook,
  intakeRecord,
  loneSurrogateIn,
  optimizationIdFor,
  parseRecommendation,
  type IntakeLimits,
  type IntakeOutcome,
} from '@optex/domain';
import { TOPICS, silentLogger, type CloudIdentity } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { SimulatedFleet } from '@optex/cloud';
import { decodeRecommendation } from '@optex/messaging';
import { OptexMetrics, defaultEngineOptions } from '@optex/engine';
import { RiskAssessorService } from '@optex/risk-assessor';
import { InputFormatError, RecordSplitter, recommendationMessages, report, type InputRecords } from '@optex/runtime';

/** The fuzzed records name any account: no credentials' account to check them against. */
const noIdentity: CloudIdentity = { credentialsAccountId: async () => undefined };

// A property-based fuzzer of the intake: recommendations mutated field by field, records mutated as text and as
// bytes (BOMs, invalid UTF-8, duplicate keys, cuts), deep nesting and raw bytes; whole inputs of them as NDJSON or a
// JSON array fed in random chunks. It counts what happened, so `npm run fuzz` can print figures.

/** What a fuzz run tried and found. `lost` and `crashes` must be 0, `failure` undefined. */
export interface FuzzFigures {
  /** Property cases run (a case is one record, or one whole input). */
  cases: number;
  /** Records that went through the intake. */
  records: number;
  accepted: number;
  /** Rejected records, each with at least one reason naming a field. */
  rejectedWithReason: number;
  /** Records the risk-assessor recorded as duplicates (whole-input runs). */
  duplicates: number;
  /** Inputs refused as a whole (not a JSON array or NDJSON): a usage error, nothing processed. */
  unreadableInputs: number;
  /** Records with no outcome (or more than one) in the log. */
  lost: number;
  /** Exceptions out of the splitter, the intake or the risk-assessor. */
  crashes: number;
  seed: number;
  /** The first property violation, described (the counterexample cut short). */
  failure?: string;
}

const emptyFigures = (seed: number): FuzzFigures => ({ cases: 0, records: 0, accepted: 0, rejectedWithReason: 0, duplicates: 0, unreadableInputs: 0, lost: 0, crashes: 0, seed });

// ── Arbitraries ──

const controlOrOdd = fc.constantFrom('\n', '\r', '\t', '\u0000', '\u001b', '\u001b[2J', '\u007f', '\u0085', '\u009b', '\u2028', '\u202e', '\ufeff', ' ', '\u00a0', '"', '\\', '{', '[');
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** Strings a hostile or broken analyzer might send. */
export const weirdString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 24 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 24 }), weight: 2 },
  { arbitrary: fc.array(fc.oneof(controlOrOdd, loneSurrogate, fc.string({ maxLength: 3 })), { maxLength: 8 }).map((parts) => parts.join('')), weight: 3 },
  { arbitrary: fc.constantFrom('', ' ', ' \t ', 'm5.huge', 'xx-yy-1', 'us-east-1', 'm5.large', 'ec2:instance', 'USD', '123456789012'), weight: 2 },
  { arbitrary: fc.integer({ min: 900, max: 70_000 }).map((n) => 'x'.repeat(n)), weight: 1 },
);

/** JSON nested `depth` deep, as text (objects or arrays). */
const nested = (depth: number, arrays: boolean): string => (arrays ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);

const deepValue = fc.tuple(fc.integer({ min: 2, max: 40 }), fc.boolean()).map(([depth, arrays]) => JSON.parse(nested(depth, arrays)) as unknown);

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: weirdString, weight: 4 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 3 },
  { arbitrary: fc.dictionary(weirdString, weirdString, { maxKeys: 60 }), weight: 1 },
  { arbitrary: deepValue, weight: 1 },
  { arbitrary: fc.constantFrom(null, true, -1, 0, 1e308, Number.MAX_SAFE_INTEGER), weight: 1 },
);

const bodies = [
  { resource: { type: 'ec2:volume', id: 'vol-1' }, action: { type: 'modify-volume', targetVolumeType: 'gp3' } },
  { resource: { type: 'ec2:volume', id: 'vol-2', tags: { env: 'prod' } }, action: { type: 'delete-volume', snapshotFirst: true } },
  { resource: { type: 'ec2:instance', id: 'i-1', monthlyCost: 140.16 }, action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' } },
  { resource: { type: 'ec2:instance', id: 'i-2' }, action: { type: 'stop-idle' } },
  { resource: { type: 'ec2:snapshot', id: 'snap-1' }, action: { type: 'delete-snapshot' } },
  { resource: { type: 'ec2:elastic-ip', id: 'eipalloc-1' }, action: { type: 'release-address' } },
  { resource: { type: 'ec2:reserved-instances', id: 'ri-1' }, action: { type: 'purchase-reserved-instances', offeringId: 'o-1', instanceCount: 2 } },
] as const;

/** A valid recommendation (ids from a small set, so that whole inputs hold duplicates). */
export const validRecommendation: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    recommendationId: fc.oneof(fc.constantFrom('rec-1', 'rec-2', 'rec-3'), fc.stringMatching(/^rec-[a-z0-9]{1,3}$/)),
    source: fc.constantFrom('fuzz', 'compute-optimizer', 'custodian'),
    accountId: fc.stringMatching(/^\d{12}$/),
    region: fc.constantFrom(...AWS_REGIONS),
    body: fc.constantFrom(...bodies),
    estimatedMonthlySavings: fc.double({ min: 0, max: 10_000, noNaN: true }),
    priority: fc.option(fc.constantFrom('LOW', 'MEDIUM', 'HIGH', 'CRITICAL'), { nil: undefined }),
  })
  .map(({ body, priority, ...rest }) => ({ ...rest, resource: { ...body.resource }, action: { ...body.action }, currency: 'USD', ...(priority ? { priority } : {}) }));

const FIELDS = ['recommendationId', 'source', 'accountId', 'region', 'resource', 'resource.id', 'resource.type', 'resource.tags', 'resource.monthlyCost', 'action', 'action.type', 'action.currentInstanceType', 'action.targetInstanceType', 'action.offeringId', 'estimatedMonthlySavings', 'currency', 'priority', 'createdAt', 'unknownField', 'resource.unknown'] as const;

interface FieldMutation {
  readonly field: (typeof FIELDS)[number];
  readonly remove: boolean;
  readonly value: unknown;
}

function mutate(record: Record<string, unknown>, mutations: readonly FieldMutation[]): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(record)) as Record<string, unknown>;
  for (const { field, remove, value } of mutations) {
    const [head, tail] = field.split('.') as [string, string | undefined];
    let target: Record<string, unknown> = copy;
    let key = head;
    if (tail !== undefined) {
      const inner = copy[head];
      if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) continue;
      target = inner as Record<string, unknown>;
      key = tail;
    }
    if (remove) delete target[key];
    else target[key] = value;
  }
  return copy;
}

const mutatedRecommendation = fc
  .tuple(validRecommendation, fc.array(fc.record({ field: fc.constantFrom(...FIELDS), remove: fc.boolean(), value: anyValue }), { minLength: 1, maxLength: 3 }))
  .map(([record, mutations]) => mutate(record, mutations));

const utf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');

/** Text-level damage: a BOM, a key given twice, a lone surrogate escape, a cut, invalid UTF-8 bytes. */
const textMutation = fc.oneof(
  fc.constant((t: string) => utf8(t)),
  fc.constant((t: string) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8(t)])),
  fc.constantFrom('source', 'resource', 'accountId', 'currency').map((key) => (t: string) => utf8(t.replace('{', `{"${key}":"dup",`))),
  fc.constant((t: string) => utf8(t.replace(/"rec-/, '"rec-\\ud800'))),
  fc.nat().map((n) => (t: string) => utf8(t.slice(0, n % (t.length + 1)))),
  fc.tuple(fc.nat(), fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xc0, 0xaf])).map(([n, bad]) => (t: string) => {
    const bytes = utf8(t);
    const at = n % (bytes.length + 1);
    return Buffer.concat([bytes.subarray(0, at), Buffer.from(bad), bytes.subarray(at)]);
  }),
);

/** One record as bytes: valid, mutated, damaged as text, nested deep, or raw bytes. */
export const recordBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { arbitrary: validRecommendation.map((r) => utf8(JSON.stringify(r))), weight: 3 },
  { arbitrary: fc.tuple(fc.oneof(validRecommendation, mutatedRecommendation), textMutation).map(([r, damage]) => damage(JSON.stringify(r))), weight: 6 },
  { arbitrary: fc.tuple(fc.integer({ min: 10, max: 20_000 }), fc.boolean()).map(([depth, arrays]) => utf8(nested(depth, arrays))), weight: 1 },
  { arbitrary: fc.uint8Array({ maxLength: 300 }), weight: 1 },
);

// ── Properties ──

const shown = (value: unknown): string => {
  const text = value instanceof Uint8Array ? `bytes ${Buffer.from(value).toString('base64')}` : JSON.stringify(value);
  return text.length > 600 ? `${text.slice(0, 600)}… (${text.length} characters)` : text;
};

/** Largest serialised rejection of a record: a base64 copy of a whole record plus 20 errors of bounded size. */
const maxRejectionChars = (limits: IntakeLimits) => 2 * limits.maxRecordBytes + 64 * 1024;

/** Checks one intake outcome; throws (a property failure) when the intake broke a promise. */
function checkOutcome(outcome: IntakeOutcome, limits: IntakeLimits, figures: FuzzFigures): void {
  figures.records++;
  if (outcome.ok) {
    const rec = outcome.recommendation;
    if (!parseRecommendation(rec).ok) throw new Error('accepted a record the schema rejects');
    for (const text of [rec.recommendationId, rec.source, rec.resource.id]) if (loneSurrogateIn(text)) throw new Error(`accepted an id that is not well-formed: ${JSON.stringify(text)}`);
    optimizationIdFor(rec.source, rec.recommendationId);
    figures.accepted++;
    return;
  }
  if (outcome.errors.length === 0) throw new Error('rejected without a reason');
  for (const e of outcome.errors) {
    if (!e.path || !e.message.startsWith(`${e.path} `)) throw new Error(`a reason that does not name its field: ${JSON.stringify(e)}`);
  }
  const serialised = JSON.stringify(outcome);
  if (serialised.length > maxRejectionChars(limits)) throw new Error(`a rejection of ${serialised.length} characters`);
  figures.rejectedWithReason++;
}

/**
 * Records through the domain's intake: it never throws, accepts only what the schema accepts with well-formed ids,
 * and rejects with reasons that each name a field, in a rejection that serialises within a bound.
 */
export function fuzzRecords(numRuns: number, options: { seed?: number; limits?: IntakeLimits } = {}): FuzzFigures {
  const limits = options.limits ?? defaultIntakeLimits;
  const seed = options.seed ?? Date.now() % 2 ** 31;
  const figures = emptyFigures(seed);
  const details = fc.check(
    fc.property(recordBytes, (bytes) => {
      figures.cases++;
      let outcome: IntakeOutcome;
      try {
        outcome = intakeRecord(bytes, limits);
      } catch (error) {
        figures.crashes++;
        throw error;
      }
      checkOutcome(outcome, limits, figures);
    }),
    { numRuns, seed, endOnFailure: true },
  );
  if (details.failed) figures.failure = `${String((details.errorInstance as Error)?.message ?? details.errorInstance)} on ${shown(details.counterexample?.[0])} (seed ${seed})`;
  return figures;
}

interface InputCase {
  readonly records: readonly Uint8Array[];
  readonly format: 'ndjson' | 'array';
  readonly bom: boolean;
  readonly chunk: number;
}

const inputCase: fc.Arbitrary<InputCase> = fc.record({
  records: fc.array(recordBytes, { minLength: 1, maxLength: 16 }),
  format: fc.constantFrom('ndjson' as const, 'array' as const),
  bom: fc.boolean(),
  chunk: fc.integer({ min: 1, max: 8192 }),
});

function inputBytes(c: InputCase): Buffer {
  const parts = c.records.map((r) => Buffer.from(r));
  const body = c.format === 'ndjson' ? Buffer.concat(parts.flatMap((p) => [p, Buffer.from('\n')])) : Buffer.concat([Buffer.from('['), ...parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from(','), p])), Buffer.from(']')]);
  return c.bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body;
}

/**
 * Whole inputs (NDJSON or a JSON array, with or without a BOM, fed in random chunks) through the CLI's path: the
 * splitter, the input topic's messages decoded as the bus server decodes them, the risk-assessor, and the run
 * report, which checks that every record ended exactly once (processed, rejected or duplicate). An input that is
 * not a JSON array or NDJSON as a whole may only fail with the splitter's format error.
 */
export async function fuzzInputs(numRuns: number, options: { seed?: number; limits?: IntakeLimits } = {}): Promise<FuzzFigures> {
  const limits = options.limits ?? defaultIntakeLimits;
  const seed = options.seed ?? Date.now() % 2 ** 31;
  const figures = emptyFigures(seed);
  const metrics = new OptexMetrics();
  const engineOptions = { ...defaultEngineOptions, intakeLimits: limits, recoverOnStart: false };
  const details = await fc.check(
    fc.asyncProperty(inputCase, async (c) => {
      figures.cases++;
      const bytes = inputBytes(c);
      const splitter = new RecordSplitter(limits);
      let split;
      try {
        for (let i = 0; i < bytes.length; i += c.chunk) splitter.push(bytes.subarray(i, i + c.chunk));
        split = splitter.end();
      } catch (error) {
        if (error instanceof InputFormatError) {
          figures.unreadableInputs++;
          return;
        }
        figures.crashes++;
        throw error;
      }
      const input: InputRecords = { records: split.records, deliveryPrefix: `fuzz-${figures.cases}`, name: 'fuzz' };
      const store = SqliteEventStore.open(':memory:');
      try {
        const clock = { now: () => new Date('2026-12-01T00:00:00Z') };
        const service = new RiskAssessorService(store, defaultPolicy, noIdentity, SimulatedFleet.fromFleet({}), defaultPriceBook, clock, silentLogger, metrics, engineOptions);
        const messages = recommendationMessages(input, false, limits);
        let expectedRejected = 0;
        for (const [offset, message] of messages.entries()) {
          const incoming = decodeRecommendation({ ...message, topic: TOPICS.recommendations, partition: 0, offset: String(offset), attempt: 1 });
          const outcome = intakeRecord(incoming.bytes, limits, incoming.receivedBytes);
          checkOutcome(outcome, limits, figures);
          if (!outcome.ok) expectedRejected++;
          try {
            await service.ingest(incoming);
          } catch (error) {
            figures.crashes++;
            throw error;
          }
        }
        let summary;
        try {
          summary = (await report(store, input)).summary;
        } catch (error) {
          if (error instanceof IntakeInvariantError) figures.lost++;
          throw error;
        }
        if (summary.rejected !== expectedRejected) throw new Error(`rejected ${summary.rejected}, the intake rejects ${expectedRejected}`);
        figures.duplicates += summary.duplicates;
      } finally {
        await store.close();
      }
    }),
    { numRuns, seed, endOnFailure: true },
  );
  if (details.failed) figures.failure = `${String((details.errorInstance as Error)?.message ?? details.errorInstance)} on ${shown(details.counterexample?.[0])} (seed ${seed})`;
  return figures;
}
