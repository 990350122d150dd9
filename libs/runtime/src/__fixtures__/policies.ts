import { parsePolicy, type Policy } from '@optex/domain';

/** A policy that approves every recommendation automatically, whatever its risk (specs that need changes to execute). */
export const autoPolicy: Policy = (() => {
  const p = parsePolicy({ version: 'test-auto', approval: { autoApprove: { maxLevel: 'CRITICAL', maxMonthlySavings: 1_000_000 } } });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return p.value;
})();
