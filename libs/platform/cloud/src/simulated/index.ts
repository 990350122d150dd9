export {
  SimulatedFleet,
  VOLUME_MODIFICATION_COOLDOWN_MS,
  DRY_RUN_UNAUTHORIZED_TAG,
  type SimulatedFleetOptions,
  type OpenSimulatedFleetOptions,
} from './simulated-fleet';
export { stateFileFor, type FleetCall } from './state-store';
export {
  FleetFileError,
  fleetFileSchema,
  parseFleetFile,
  validateFleet,
  type FleetFile,
  type FleetState,
  type FleetFileIssue,
} from './fleet-schema';
export { FLEET_OPERATIONS, EC2_API_OPERATIONS, type FleetOperation } from './operations';
