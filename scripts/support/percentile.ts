// Nearest-rank percentiles for the benchmark scripts (bench:stack, bench:api); tested in stack-figures.spec.ts.

/** The `p`th percentile (nearest rank) of ascending values; NaN when there are none. */
export const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
