import type { PerformanceFigures } from '@optex/domain';
import type { MetricsSource, ResourceRef } from '@optex/ports';

/** One metrics backend under test, as {@link metricsSourceContract}'s factory builds it. */
export interface MetricsContractSubject {
  readonly source: MetricsSource;
  readonly accountId: string;
  readonly region: string;
  /** The backend's now (where its metrics are recorded relative to). */
  now(): Date;
  /**
   * A running instance whose metrics were `before` until `changedAt` and `after` from then on, recorded as the backend
   * records them; returns its id. A figure left out is not published (memory without the CloudWatch agent).
   */
  instance(spec: { readonly before: PerformanceFigures; readonly after: PerformanceFigures; readonly changedAt: Date }): Promise<string>;
  close?(): Promise<void>;
}

const MINUTE = 60_000;

/**
 * What every {@link MetricsSource} answers for `performance` — the simulated fleet (unit tier) and CloudWatch through
 * moto (integration tier): a window that ends at a change reads the figures from before it, one that starts at the
 * change those from after it; what is not published (memory without the agent) and an instance with no data at all
 * are absent, never 0 or passing.
 */
export function metricsSourceContract(name: string, factory: () => Promise<MetricsContractSubject>, options: { testTimeoutMs?: number } = {}): void {
  const timeout = options.testTimeoutMs ?? 30_000;
  describe(`MetricsSource contract: ${name}`, () => {
    let subject: MetricsContractSubject;
    beforeAll(async () => {
      subject = await factory();
    }, timeout);
    afterAll(async () => {
      await subject?.close?.();
    }, timeout);
    const ref = (id: string): ResourceRef => ({ accountId: subject.accountId, region: subject.region, id });
    /** A change 20 minutes ago on a whole minute, with a 10-minute window on each side. */
    const around = () => {
      const changedAt = new Date(Math.floor(subject.now().getTime() / MINUTE) * MINUTE - 20 * MINUTE);
      return { changedAt, before: { from: new Date(changedAt.getTime() - 10 * MINUTE), to: changedAt }, after: { from: changedAt, to: new Date(changedAt.getTime() + 10 * MINUTE) } };
    };

    it(
      'reads the figures from before the change over a window ending at it, and those from after over one starting at it',
      async () => {
        const { changedAt, before, after } = around();
        const figuresBefore = { cpuP95: 35, memoryUsedPct: 40, networkInBytesPerSec: 2000, networkOutBytesPerSec: 1000, statusChecksPassed: true };
        const figuresAfter = { cpuP95: 70, memoryUsedPct: 81, networkInBytesPerSec: 1900, networkOutBytesPerSec: 950, statusChecksPassed: false };
        const id = await subject.instance({ before: figuresBefore, after: figuresAfter, changedAt });
        await expect(subject.source.performance(ref(id), before)).resolves.toEqual(figuresBefore);
        await expect(subject.source.performance(ref(id), after)).resolves.toEqual(figuresAfter);
      },
      timeout,
    );

    it(
      'leaves memory out where the instance does not publish it (no CloudWatch agent)',
      async () => {
        const { changedAt, after } = around();
        const figures = { cpuP95: 12, networkInBytesPerSec: 100, networkOutBytesPerSec: 50, statusChecksPassed: true };
        const id = await subject.instance({ before: figures, after: figures, changedAt });
        await expect(subject.source.performance(ref(id), after)).resolves.toEqual(figures);
      },
      timeout,
    );

    it(
      'answers nothing at all for an instance without data',
      async () => {
        await expect(subject.source.performance(ref('i-0000000000contract'), around().after)).resolves.toEqual({});
      },
      timeout,
    );
  });
}
