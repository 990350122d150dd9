import { defaultPriceBook, isKnownInstanceType } from '@optex/domain';

/** Whether EC2 knows an instance type: the one rule of `@optex/domain`'s EC2 rules, re-exported for the fleet's users. */
export { isKnownInstanceType };

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

const BURSTABLE = /^t[0-9]/;

/** Syntax of an instance type name, e.g. `m5.xlarge`. */
export const INSTANCE_TYPE_PATTERN = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;

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
