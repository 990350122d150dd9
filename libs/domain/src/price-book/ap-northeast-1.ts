import type { RegionPrices } from './types';

const PLAYBOOK =
  'cost_comparison.py of a public "FSx for ONTAP Adoption Playbook" repository (GitHub; search-index file 68351973613): rates pinned from the ' +
  'AWS Price List API for ap-northeast-1 with their SKUs (EBS effectiveDate 2026-09-01, publicationDate 2026-09-10)';

/** Asia Pacific (Tokyo). Instance prices and public IPv4: not found (unpriced). */
export const apNortheast1: RegionPrices = {
  instanceHourly: {},
  volumeGiBMonth: { gp2: 0.12, gp3: 0.096, io1: 0.142, io2: 0.142, st1: 0.054, sc1: 0.018 },
  gp3IopsMonth: 0.006,
  // The API gives 49.152 per GiBps-month; / 1024 = 0.048 per MiB/s-month.
  gp3ThroughputMiBpsMonth: 0.048,
  provisionedIops: {
    io1: [{ upToIops: null, perIopsMonth: 0.074 }],
    io2: [
      { upToIops: 32000, perIopsMonth: 0.074 },
      { upToIops: 64000, perIopsMonth: 0.0518 },
      { upToIops: null, perIopsMonth: 0.03626 },
    ],
  },
  snapshotGiBMonth: 0.05,
  sources: [{ covers: 'volumeGiBMonth, gp3 IOPS/throughput, io1/io2 IOPS tiers, snapshotGiBMonth', source: PLAYBOOK, takenOn: '2026-09-13' }],
};
