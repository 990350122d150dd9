/**
 * Rounds half away from zero to `decimals` places, first removing binary floating-point noise
 * (`0.1 * 3`, `0.192 * 730`), so money and percentages print as people expect.
 */
export function roundTo(value: number, decimals: number): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** decimals;
  const scaled = Number.parseFloat((Math.abs(value) * factor).toPrecision(12));
  const rounded = (Math.sign(value) * Math.round(scaled)) / factor;
  return rounded === 0 ? 0 : rounded;
}

/** Rounds an amount of money to cents. */
export const roundMoney = (value: number): number => roundTo(value, 2);
