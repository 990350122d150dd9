/**
 * Names of the simulated fleet's operations: the `Ec2Gateway` method names, plus the EC2 API
 * action names a fault entry may use instead.
 */
export const FLEET_OPERATIONS = [
  'describeInstance',
  'stopInstance',
  'startInstance',
  'modifyInstanceType',
  'waitForInstanceState',
  'describeVolume',
  'modifyVolume',
  'deleteVolume',
  'createVolume',
  'createSnapshot',
  'waitForSnapshotCompleted',
  'describeSnapshot',
  'deleteSnapshot',
  'describeAddress',
  'releaseAddress',
  'allocateAddress',
  'describeInstanceTypeOffering',
  'describeReservedInstancesOffering',
  'purchaseReservedInstancesOffering',
  'createReservedInstancesListing',
  'findSnapshotByClientToken',
  'findVolumeByClientToken',
  'findAddressByClientToken',
  'findReservedInstances',
] as const;

/** One operation of the simulated fleet, named after the `Ec2Gateway` method. */
export type FleetOperation = (typeof FLEET_OPERATIONS)[number];

/** EC2 API action name → the port method it corresponds to (waiters have no API action of their own). */
export const EC2_API_OPERATIONS: Readonly<Record<string, FleetOperation>> = {
  DescribeInstances: 'describeInstance',
  StopInstances: 'stopInstance',
  StartInstances: 'startInstance',
  ModifyInstanceAttribute: 'modifyInstanceType',
  DescribeVolumes: 'describeVolume',
  ModifyVolume: 'modifyVolume',
  DeleteVolume: 'deleteVolume',
  CreateVolume: 'createVolume',
  CreateSnapshot: 'createSnapshot',
  DescribeSnapshots: 'describeSnapshot',
  DeleteSnapshot: 'deleteSnapshot',
  DescribeAddresses: 'describeAddress',
  ReleaseAddress: 'releaseAddress',
  AllocateAddress: 'allocateAddress',
  DescribeInstanceTypeOfferings: 'describeInstanceTypeOffering',
  DescribeReservedInstancesOfferings: 'describeReservedInstancesOffering',
  PurchaseReservedInstancesOffering: 'purchaseReservedInstancesOffering',
  CreateReservedInstancesListing: 'createReservedInstancesListing',
  DescribeReservedInstances: 'findReservedInstances',
};

const METHOD_NAMES: ReadonlySet<string> = new Set(FLEET_OPERATIONS);

/** The port method an operation name (method name or EC2 API action name) refers to, or `undefined` if it names none. */
export function normalizeOperation(name: string): FleetOperation | undefined {
  if (METHOD_NAMES.has(name)) return name as FleetOperation;
  return EC2_API_OPERATIONS[name];
}

/** The EC2 API action each operation sends (the one whose throttling bucket it spends from; a waiter's first poll). */
export const API_ACTION_OF: Readonly<Record<FleetOperation, string>> = {
  ...(Object.fromEntries(Object.entries(EC2_API_OPERATIONS).map(([action, op]) => [op, action])) as Record<FleetOperation, string>),
  waitForInstanceState: 'DescribeInstances',
  waitForSnapshotCompleted: 'DescribeSnapshots',
  findSnapshotByClientToken: 'DescribeSnapshots',
  findVolumeByClientToken: 'DescribeVolumes',
  findAddressByClientToken: 'DescribeAddresses',
};
