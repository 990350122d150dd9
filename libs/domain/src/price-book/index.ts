import { apNortheast1 } from './ap-northeast-1';
import { euCentral1 } from './eu-central-1';
import { usEast1 } from './us-east-1';
import type { RegionPrices } from './types';

export type { IopsTier, PriceSource, RegionPrices } from './types';

/**
 * The regions of the shipped price book. A region missing here is unpriced as a whole; us-east-2, us-west-2,
 * eu-west-1 and ap-southeast-1 were searched for and no sourced figure was found (see SOURCES.md).
 */
export const PRICE_BOOK_REGIONS: Readonly<Record<string, RegionPrices>> = {
  'us-east-1': usEast1,
  'eu-central-1': euCentral1,
  'ap-northeast-1': apNortheast1,
};
