import type { RegionPrices } from './types';

const SINGAPORE =
  '"Price Reference — ap-southeast-1, collected 2026-08-12", a public GitHub document (search-index file 71363509372) quoting the AWS Pricing API ' +
  'filtered to regionCode=ap-southeast-1, On-Demand (APS1-BoxUsage:t3.small, APS1-BoxUsage:t3.large, APS1-BoxUsage:t3.xlarge, APS1-EBS:VolumeUsage.gp3)';

/** Asia Pacific (Singapore). Only the four figures that source gives; everything else is unpriced. */
export const apSoutheast1: RegionPrices = {
  instanceHourly: { 't3.small': 0.0264, 't3.large': 0.1056, 't3.xlarge': 0.2112 },
  volumeGiBMonth: { gp3: 0.096 },
  sources: [{ covers: 'instanceHourly t3.small, t3.large, t3.xlarge; volumeGiBMonth.gp3', source: SINGAPORE, takenOn: '2026-08-12' }],
};
