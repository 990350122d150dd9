import { parseInstant } from '@optex/domain';
import { UsageError } from '@optex/runtime';

/**
 * A flag's ISO-8601 time with its zone (domain `parseInstant`: `2026-12-02T10:00:00Z`, `…+01:00`), or `undefined` when
 * the flag is not given. Anything else — a date that does not exist (`2027-02-31`), a time without a zone, `Dec 25 2027`,
 * `1` — is a {@link UsageError} naming the flag (exit 2), never a time `new Date()` guessed. `run`/`resume --not-before`,
 * `replay --from/--to` and `state --at` all read their times with it.
 */
export function timeFlag(flag: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const at = parseInstant(value);
  if (!at) throw new UsageError(`${flag}: expected an ISO-8601 time such as 2026-12-02T10:00:00Z, got ${JSON.stringify(value)}`);
  return at;
}
