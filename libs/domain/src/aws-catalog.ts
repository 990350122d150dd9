import { defaultPriceBook } from './pricing';
import { EC2_INSTANCE_TYPES } from './aws-instance-types';

export { EC2_INSTANCE_TYPES };

// What AWS names exist, shipped beside the price book: the regions and the EC2 instance types optex accepts in a
// recommendation. A name that merely fits the pattern (`xx-yy-1`, `m5.huge`, `m5.nano`) is not one of them. The
// regions follow AWS's published region table (a region AWS adds later is one line here); the instance types are
// generated from the EC2 API model of the pinned AWS SDK (aws-instance-types.ts).

/**
 * AWS regions: the commercial partition (aws), GovCloud (aws-us-gov) and China (aws-cn). Every region of the
 * price book is one of them.
 */
export const AWS_REGIONS = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2',
  'ca-central-1', 'ca-west-1', 'mx-central-1', 'sa-east-1',
  'eu-central-1', 'eu-central-2', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-south-1', 'eu-south-2', 'eu-north-1',
  'af-south-1', 'il-central-1', 'me-south-1', 'me-central-1',
  'ap-east-1', 'ap-east-2', 'ap-south-1', 'ap-south-2',
  'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7',
  'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3',
  'us-gov-east-1', 'us-gov-west-1',
  'cn-north-1', 'cn-northwest-1',
] as const;

const REGIONS: ReadonlySet<string> = new Set(AWS_REGIONS);

/** Whether `region` is one of {@link AWS_REGIONS}. */
export function isKnownRegion(region: string): boolean {
  return REGIONS.has(region);
}

/**
 * The instance types optex accepts, sorted: {@link EC2_INSTANCE_TYPES} (the types AWS's EC2 API model names; `m5.nano`
 * and `t3.metal` fit the family.size shape and are not among them) and any the price book prices.
 */
export const KNOWN_INSTANCE_TYPES: readonly string[] = [...new Set([...EC2_INSTANCE_TYPES, ...Object.keys(defaultPriceBook.vcpus)])].sort();
const INSTANCE_TYPES: ReadonlySet<string> = new Set(KNOWN_INSTANCE_TYPES);

/** Whether EC2 knows `instanceType`: one of {@link KNOWN_INSTANCE_TYPES}. */
export function isKnownInstanceType(instanceType: string): boolean {
  return INSTANCE_TYPES.has(instanceType);
}

/** Families whose processors are 64-bit Arm (AWS Graviton; mac2's Apple M1): every other family is x86_64. */
const ARM64_FAMILIES: ReadonlySet<string> = new Set([
  'a1', 't4g', 'm6g', 'm6gd', 'm7g', 'm7gd', 'm8g', 'c6g', 'c6gd', 'c6gn', 'c7g', 'c7gd', 'c7gn', 'c8g',
  'r6g', 'r6gd', 'r7g', 'r7gd', 'r8g', 'x2gd', 'i4g', 'im4gn', 'is4gen', 'g5g', 'hpc7g', 'mac2',
]);

/** The processor architecture of an instance type (`m5.large` → `x86_64`, `m6g.large` → `arm64`). */
export function architectureOf(instanceType: string): 'x86_64' | 'arm64' {
  return ARM64_FAMILIES.has(instanceType.slice(0, instanceType.indexOf('.'))) ? 'arm64' : 'x86_64';
}
