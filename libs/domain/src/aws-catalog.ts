import { defaultPriceBook } from './pricing';

// What AWS names exist, shipped beside the price book: the regions and the EC2 instance type shapes (family + size)
// optex accepts in a recommendation. A name that merely fits the pattern (`xx-yy-1`, `m5.huge`) is not one of them.
// The lists follow AWS's published region table and instance type families; a region or family AWS adds later
// is one line here.

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

/** EC2 instance families (the part before the dot). */
export const INSTANCE_FAMILIES = [
  'a1', 't2', 't3', 't3a', 't4g',
  'm4', 'm5', 'm5a', 'm5ad', 'm5d', 'm5dn', 'm5n', 'm5zn', 'm6a', 'm6g', 'm6gd', 'm6i', 'm6id', 'm6idn', 'm6in',
  'm7a', 'm7g', 'm7gd', 'm7i', 'm7i-flex', 'm8g',
  'c4', 'c5', 'c5a', 'c5ad', 'c5d', 'c5n', 'c6a', 'c6g', 'c6gd', 'c6gn', 'c6i', 'c6id', 'c6in',
  'c7a', 'c7g', 'c7gd', 'c7gn', 'c7i', 'c7i-flex', 'c8g',
  'r4', 'r5', 'r5a', 'r5ad', 'r5b', 'r5d', 'r5dn', 'r5n', 'r6a', 'r6g', 'r6gd', 'r6i', 'r6id', 'r6idn', 'r6in',
  'r7a', 'r7g', 'r7gd', 'r7i', 'r7iz', 'r8g',
  'x1', 'x1e', 'x2gd', 'x2idn', 'x2iedn', 'x2iezn', 'z1d',
  'd2', 'd3', 'd3en', 'h1', 'i3', 'i3en', 'i4g', 'i4i', 'im4gn', 'is4gen',
  'p3', 'p3dn', 'p4d', 'p4de', 'p5', 'g4ad', 'g4dn', 'g5', 'g5g', 'g6', 'inf1', 'inf2', 'trn1', 'dl1',
  'hpc6a', 'hpc7a', 'hpc7g', 'mac1', 'mac2',
] as const;

/** EC2 instance sizes (the part after the dot). */
export const INSTANCE_SIZES = [
  'nano', 'micro', 'small', 'medium', 'large', 'xlarge',
  '2xlarge', '3xlarge', '4xlarge', '6xlarge', '8xlarge', '9xlarge', '10xlarge', '12xlarge', '16xlarge', '18xlarge',
  '24xlarge', '32xlarge', '48xlarge', '56xlarge', '96xlarge', '112xlarge',
  'metal', 'metal-16xl', 'metal-24xl', 'metal-32xl', 'metal-48xl',
] as const;

const FAMILIES: ReadonlySet<string> = new Set(INSTANCE_FAMILIES);
const SIZES: ReadonlySet<string> = new Set(INSTANCE_SIZES);

/**
 * Whether EC2 knows `instanceType`: a type the price book prices, or `<family>.<size>` with a family of
 * {@link INSTANCE_FAMILIES} and a size of {@link INSTANCE_SIZES}.
 */
export function isKnownInstanceType(instanceType: string): boolean {
  if (Object.prototype.hasOwnProperty.call(defaultPriceBook.vcpus, instanceType)) return true;
  const dot = instanceType.indexOf('.');
  if (dot < 0 || instanceType.indexOf('.', dot + 1) >= 0) return false;
  return FAMILIES.has(instanceType.slice(0, dot)) && SIZES.has(instanceType.slice(dot + 1));
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
