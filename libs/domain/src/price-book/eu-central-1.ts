import type { RegionPrices } from './types';

const FRANKFURT =
  '"Provisioned shape at list price — Frankfurt, 2026-08-26", a public GitHub document (search-index file 63216343377) quoting ' +
  '`aws pricing get-products` filtered to regionCode=eu-central-1 (t4g.small Linux Shared Used; EUC1-EBS:VolumeUsage.gp3; EUC1-PublicIPv4:InUseAddress)';

/** Europe (Frankfurt). Only the three figures that source gives; everything else is unpriced. */
export const euCentral1: RegionPrices = {
  instanceHourly: { 't4g.small': 0.0192 },
  volumeGiBMonth: { gp3: 0.0952 },
  publicIpv4Hourly: 0.005,
  sources: [{ covers: 'instanceHourly t4g.small, volumeGiBMonth.gp3, publicIpv4Hourly', source: FRANKFURT, takenOn: '2026-08-26' }],
};
