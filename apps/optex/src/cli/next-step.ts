/**
 * Whether `storeUrl` names an EventStoreDB store (`esdb://…`, `esdb+discover://…`): the production store, which the
 * five service processes drive. `optex resume` on it would start a second engine of its own beside them (with the cloud
 * remembered with the store, else the simulated default), so no hint may send anyone there.
 */
export function isServicesStore(storeUrl: string): boolean {
  return /^esdb(\+discover)?:/i.test(storeUrl.trim());
}

/** What carries recorded work on, said each way: after `Run optex resume to …`, and after `The services running on this store …`. */
export interface NextStep {
  /** e.g. `continue processing` (`Run optex resume to continue processing.`). */
  readonly resume: string;
  /** e.g. `pick it up` (`The services running on this store pick it up …`). */
  readonly services: string;
}

/** The `optex resume --store …` caveat of the EventStoreDB hints. */
const RESUME_ONLY_WITHOUT_SERVICES = 'optex resume --store … is only for a store no services run on';

/**
 * The sentence that tells what carries a decision or an operator action on: on a SQLite or memory store, the next
 * `optex resume`; on EventStoreDB ({@link isServicesStore}), the services running on it, on their own.
 */
export function nextStepText(storeUrl: string, step: NextStep): string {
  return isServicesStore(storeUrl)
    ? `The services running on this store ${step.services}: no resume is needed (${RESUME_ONLY_WITHOUT_SERVICES}).`
    : `Run optex resume to ${step.resume}.`;
}

/**
 * The end of a report hint after the command that lets waiting work go on (`optex approve … --by NAME, then optex
 * resume.`): `then optex resume`, or on EventStoreDB that the services carry it on.
 */
export function thenResumeText(storeUrl: string | undefined): string {
  return storeUrl !== undefined && isServicesStore(storeUrl) ? `and the services running on this store carry it on (${RESUME_ONLY_WITHOUT_SERVICES})` : 'then optex resume';
}
