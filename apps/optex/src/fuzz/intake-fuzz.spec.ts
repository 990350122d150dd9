import { fuzzInputs, fuzzRecords } from './intake-fuzz';

// The CI-sized fuzz run (npm run fuzz runs the full size). OPTEX_FUZZ_SEED replays a seed a failure printed.
const seed = process.env['OPTEX_FUZZ_SEED'] ? Number(process.env['OPTEX_FUZZ_SEED']) : undefined;

jest.setTimeout(60_000);

describe('intake fuzz (CI size)', () => {
  it('2,000 records through the intake: never throws, each accepted or rejected with reasons naming a field', () => {
    const figures = fuzzRecords(2000, { ...(seed === undefined ? {} : { seed }) });
    expect(figures.failure).toBeUndefined();
    expect(figures).toMatchObject({ cases: 2000, records: 2000, crashes: 0, lost: 0 });
    expect(figures.accepted + figures.rejectedWithReason).toBe(2000);
    // The generators reach both sides (a fuzzer that only produced garbage would prove little).
    expect(figures.accepted).toBeGreaterThan(200);
    expect(figures.rejectedWithReason).toBeGreaterThan(1000);
  });

  it('120 whole inputs through splitter, bus decoding, risk-assessor and report: received = processed + rejected + duplicates, 0 lost', async () => {
    const figures = await fuzzInputs(120, { ...(seed === undefined ? {} : { seed }) });
    expect(figures.failure).toBeUndefined();
    expect(figures).toMatchObject({ cases: 120, crashes: 0, lost: 0 });
    expect(figures.records).toBeGreaterThan(150);
    expect(figures.duplicates).toBeGreaterThan(0);
    expect(figures.unreadableInputs).toBeLessThan(figures.cases);
  });
});
