import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRecommendation } from '../recommendation';
import type { Translation } from './translation';

/** A document of test/fixtures/analyzers: parsed JSON, or the text of a CSV. */
export function analyzerFixture(name: string): unknown {
  const text = readFileSync(join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'analyzers', name), 'utf8');
  return name.endsWith('.csv') ? text : (JSON.parse(text) as unknown);
}

/** Every recommendation a translator produced passes optex's schema (what the intake checks after the bytes). */
export function schemaErrorsOf(translation: Translation): string[] {
  return translation.recommendations.flatMap((r) => {
    const parsed = parseRecommendation(r);
    return parsed.ok ? [] : parsed.errors.map((e) => `${r.recommendationId}: ${e.message}`);
  });
}

/** The outcome of each item in one line: `<ref> → <action>` or `<ref> skipped <code>`. */
export function outcomes(translation: Translation): string[] {
  return [
    ...translation.recommendations.map((r) => `${r.resource.id} → ${r.action.type}`),
    ...translation.skipped.map((s) => `${s.itemRef} skipped ${s.code}`),
  ];
}
