/** Where time comes from, so tests and the simulated fleet can move it. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };
