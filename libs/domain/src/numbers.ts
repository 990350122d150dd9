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

/**
 * Dollars to the cent for people: rounded as {@link roundMoney} (half away from zero, as every sum and average is), so
 * a row and the total it adds to agree (`toFixed` rounds the binary value: 1.005 printed $1.00 beside a total of
 * $1.01), and a negative amount as `−$20.00` (not `$-20.00`).
 */
export function usdText(value: number): string {
  const cents = roundMoney(value);
  return `${cents < 0 ? '−' : ''}$${Math.abs(cents).toFixed(2)}`;
}
