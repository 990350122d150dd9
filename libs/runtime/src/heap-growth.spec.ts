import { DEFAULT_HEAP_GROWTH_PERCENT, heapGrowthFromEnv, limitHeapGrowth, setHeapGrowth } from './heap-growth';

describe('heap growth of an optex process (OPTEX_HEAP_GROWTH_PERCENT)', () => {
  it('defaults to 50 % when unset or empty', () => {
    expect(DEFAULT_HEAP_GROWTH_PERCENT).toBe(50);
    expect(heapGrowthFromEnv({})).toBe(50);
    expect(heapGrowthFromEnv({ OPTEX_HEAP_GROWTH_PERCENT: '  ' })).toBe(50);
  });

  it('reads a percent from 10 to 1000, and v8 for V8 own policy', () => {
    expect(heapGrowthFromEnv({ OPTEX_HEAP_GROWTH_PERCENT: '10' })).toBe(10);
    expect(heapGrowthFromEnv({ OPTEX_HEAP_GROWTH_PERCENT: ' 200 ' })).toBe(200);
    expect(heapGrowthFromEnv({ OPTEX_HEAP_GROWTH_PERCENT: '1000' })).toBe(1000);
    expect(heapGrowthFromEnv({ OPTEX_HEAP_GROWTH_PERCENT: 'V8' })).toBeUndefined();
  });

  it.each(['9', '1001', '-50', '50.5', '1e2', 'half', '0x20'])('refuses %j, naming the variable and the value', (raw) => {
    expect(() => heapGrowthFromEnv({ OPTEX_HEAP_GROWTH_PERCENT: raw })).toThrow(new RangeError(`OPTEX_HEAP_GROWTH_PERCENT must be an integer from 10 to 1000, or v8 (V8's own policy), got ${JSON.stringify(raw)}`));
  });

  it('hands V8 the flag it reads at every full collection, and nothing for v8', () => {
    const set: string[] = [];
    expect(limitHeapGrowth({}, (flags) => set.push(flags))).toBe(50);
    expect(limitHeapGrowth({ OPTEX_HEAP_GROWTH_PERCENT: '120' }, (flags) => set.push(flags))).toBe(120);
    expect(limitHeapGrowth({ OPTEX_HEAP_GROWTH_PERCENT: 'v8' }, (flags) => set.push(flags))).toBeUndefined();
    setHeapGrowth(undefined, (flags) => set.push(flags));
    expect(set).toEqual(['--heap-growing-percent=50', '--heap-growing-percent=120']);
  });

  it('sets nothing when the value is bad', () => {
    const set: string[] = [];
    expect(() => limitHeapGrowth({ OPTEX_HEAP_GROWTH_PERCENT: '5' }, (flags) => set.push(flags))).toThrow(RangeError);
    expect(set).toEqual([]);
  });
});
