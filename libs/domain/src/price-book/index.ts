import { apNortheast1 } from './ap-northeast-1';
import { apSoutheast1 } from './ap-southeast-1';
import { euCentral1 } from './eu-central-1';
import { euWest1 } from './eu-west-1';
import { usEast1 } from './us-east-1';
import { usEast2 } from './us-east-2';
import { usWest2 } from './us-west-2';
import type { RegionPrices } from './types';

export type { IopsTier, PriceSource, RegionPrices } from './types';

/**
 * The regions of the shipped price book (where each figure came from: SOURCES.md). A region missing here is unpriced as a
 * whole, and so is every figure a listed region lacks.
 */
export const PRICE_BOOK_REGIONS: Readonly<Record<string, RegionPrices>> = {
  'us-east-1': usEast1,
  'us-east-2': usEast2,
  'us-west-2': usWest2,
  'eu-west-1': euWest1,
  'eu-central-1': euCentral1,
  'ap-northeast-1': apNortheast1,
  'ap-southeast-1': apSoutheast1,
};
