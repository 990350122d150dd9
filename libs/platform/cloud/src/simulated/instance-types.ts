import { defaultPriceBook } from '@optex/domain';

/** vCPU counts: the price book's, plus a few larger sizes the simulator accepts though they are not priced. */
const VCPUS: Readonly<Record<string, number>> = {
  ...defaultPriceBook.vcpus,
  't3.2xlarge': 8,
  'm5.16xlarge': 64,
  'm5.24xlarge': 96,
  'c5.4xlarge': 16,
  'r5.2xlarge': 8,
  'r5.4xlarge': 16,
};

/** Instance families the simulator recognises beyond those listed explicitly. */
const KNOWN_FAMILIES = new Set([
  't2', 't3', 't3a', 't4g',
  'm4', 'm5', 'm5a', 'm5n', 'm5d', 'm6a', 'm6g', 'm6i', 'm7a', 'm7g', 'm7i',
  'c4', 'c5', 'c5a', 'c5n', 'c5d', 'c6a', 'c6g', 'c6i', 'c7a', 'c7g', 'c7i',
  'r4', 'r5', 'r5a', 'r5n', 'r5d', 'r6a', 'r6g', 'r6i', 'r7a', 'r7g', 'r7i',
  'x1e', 'x2idn', 'z1d', 'i3', 'i3en', 'i4i', 'd3', 'p3', 'p4d', 'g4dn', 'g5', 'inf1',
]);
const SIZE = /^(nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge|metal)$/;
const BURSTABLE = /^t[0-9]/;

/** Syntax of an instance type name, e.g. `m5.xlarge`. */
export const INSTANCE_TYPE_PATTERN = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;

/** Whether EC2 would recognise `instanceType`: a listed type, or a known family with a valid size. */
export function isKnownInstanceType(instanceType: string): boolean {
  if (VCPUS[instanceType] !== undefined) return true;
  const [family, size, ...rest] = instanceType.split('.');
  return rest.length === 0 && family !== undefined && size !== undefined && KNOWN_FAMILIES.has(family) && SIZE.test(size);
}

/**
 * vCPUs of an instance type: the listed figure, else derived from the size the way EC2 sizes
 * families (`large` 2, `xlarge` 4, `<N>xlarge` 4N; burstable `t*` types have 2 up to `large`).
 * `undefined` for sizes that cannot be derived (`metal`) or unknown names.
 */
export function vcpusOf(instanceType: string): number | undefined {
  const listed = VCPUS[instanceType];
  if (listed !== undefined) return listed;
  if (!isKnownInstanceType(instanceType)) return undefined;
  const [family = '', size = ''] = instanceType.split('.');
  if (size === 'large') return 2;
  if (size === 'xlarge') return 4;
  const multiple = /^([0-9]+)xlarge$/.exec(size);
  if (multiple) return 4 * Number(multiple[1]);
  if (BURSTABLE.test(family) && ['nano', 'micro', 'small', 'medium'].includes(size)) return 2;
  if (size === 'medium') return 1;
  return undefined;
}
