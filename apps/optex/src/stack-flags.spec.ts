import { downFlag, MAX_DOWN_MS, MAX_PARTITIONS, partitionsFlag } from './stack-flags';

// `stack up --partitions` and `stack restart --down` took whatever Number() made of the text: "0x10" (16), "1e1" (10),
// " 3 " (3), "3.0" (3), "" (0 ms). Only plain decimal digits are a count or a duration now.

describe('stack up --partitions', () => {
  it.each([
    ['1', 1],
    ['3', 3],
    ['03', 3],
    [String(MAX_PARTITIONS), MAX_PARTITIONS],
  ])('takes %j as %d partitions', (raw, value) => {
    expect(partitionsFlag(raw)).toEqual({ ok: true, value });
  });

  it.each(['0x10', '1e1', ' 3 ', '3.0', '+3', '-1', '0', '00', '', 'three', String(MAX_PARTITIONS + 1), '1'.repeat(30)])('refuses %j, naming the flag and the bound', (raw) => {
    expect(partitionsFlag(raw)).toEqual({ ok: false, error: `stack: --partitions must be a positive integer (at most ${MAX_PARTITIONS}), got ${JSON.stringify(raw)}` });
  });
});

describe('stack restart --down', () => {
  it.each([
    ['0', 0],
    ['1500', 1500],
    ['2147483647', MAX_DOWN_MS],
  ])('takes %j as %d ms', (raw, value) => {
    expect(downFlag(raw)).toEqual({ ok: true, value });
  });

  // 2147483648 and above: a Node.js timer would fire at once (with a warning), not after the time asked for.
  it.each(['0x10', '1e3', ' 5 ', '5.0', '+5', '-1', '', '5s', '2147483648', '99999999999'])('refuses %j', (raw) => {
    expect(downFlag(raw)).toEqual({ ok: false, error: `stack: --down must be a whole number of milliseconds (at most ${MAX_DOWN_MS}), got ${JSON.stringify(raw)}` });
  });
});
