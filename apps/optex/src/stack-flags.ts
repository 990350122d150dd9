/** The most partitions `stack up --partitions` makes the optex topics with. */
export const MAX_PARTITIONS = 1000;

/** A flag's value, or the usage error (exit 2) that names the flag and what it was given. */
export type FlagValue = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly error: string };

/** Plain decimal digits only: not `0x10`, `1e1`, ` 3 `, `3.0`, `+3` or `` (all of which `Number()` takes). */
const DIGITS = /^\d+$/;

/** `stack up --partitions <n>`: a count from 1 to {@link MAX_PARTITIONS}, in plain decimal digits. */
export function partitionsFlag(raw: string): FlagValue {
  const partitions = DIGITS.test(raw) ? Number(raw) : NaN;
  if (!(partitions >= 1 && partitions <= MAX_PARTITIONS)) return { ok: false, error: `stack: --partitions must be a positive integer (at most ${MAX_PARTITIONS}), got ${JSON.stringify(raw)}` };
  return { ok: true, value: partitions };
}

/** The longest `--down`: what a Node.js timer can wait (longer fires at once, with a warning). */
export const MAX_DOWN_MS = 2_147_483_647;

/** `stack restart --down <ms>`: whole milliseconds from 0 to {@link MAX_DOWN_MS}, in plain decimal digits. */
export function downFlag(raw: string): FlagValue {
  const ms = DIGITS.test(raw) ? Number(raw) : NaN;
  if (!(ms >= 0 && ms <= MAX_DOWN_MS)) return { ok: false, error: `stack: --down must be a whole number of milliseconds (at most ${MAX_DOWN_MS}), got ${JSON.stringify(raw)}` };
  return { ok: true, value: ms };
}
