import { z } from 'zod';
import { DomainError } from './errors';

/**
 * What a store remembers of how it is run: the `--cloud` and `--policy` given to `run`/`resume` once are used by
 * later commands on that store unless given again. Each change is recorded (who — the command — and when) in one
 * stream, so the log says which cloud and which policy file applied from when.
 */
export const SETTINGS_STREAM = 'optex-settings';

/** `cloud`: the `--cloud` value (a simulated fleet's file as an absolute path); `policyFile`: the policy file's absolute path. */
export type StoreSettingsRecorded = {
  readonly type: 'StoreSettingsRecorded';
  readonly data: { readonly cloud?: string; readonly policyFile?: string; readonly by: string; readonly at: string };
};
export type SettingsEvent = StoreSettingsRecorded;

/** The settings a store remembers (absent: never given). */
export interface StoreSettings {
  readonly cloud?: string;
  readonly policyFile?: string;
}

/** Where a setting in force came from: the command line, the store (given to an earlier command), or optex's default. */
export type SettingSource = 'flag' | 'store' | 'default';
export interface SettingInForce {
  readonly value: string | undefined;
  readonly from: SettingSource;
}

const text = z.string().min(1);
export const settingsSchemas = {
  StoreSettingsRecorded: z.strictObject({ cloud: text.optional(), policyFile: text.optional(), by: text, at: z.iso.datetime() }),
} as const;

/** Parses a stored settings event; throws `DomainError('UNKNOWN_EVENT' | 'INVALID_EVENT')` naming it. */
export function parseSettingsEvent(e: { readonly type: string; readonly data: unknown; readonly revision?: bigint }): SettingsEvent {
  const where = `${SETTINGS_STREAM}${e.revision !== undefined ? `@${e.revision}` : ''}`;
  if (e.type !== 'StoreSettingsRecorded') throw new DomainError('UNKNOWN_EVENT', `unknown event type "${e.type}" (${where})`);
  const parsed = settingsSchemas.StoreSettingsRecorded.safeParse(e.data);
  if (!parsed.success) throw new DomainError('INVALID_EVENT', `${e.type} (${where}): ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return { type: 'StoreSettingsRecorded', data: parsed.data };
}

/** The settings after the recorded events: each value the last one given. */
export function settingsOf(events: readonly SettingsEvent[]): StoreSettings {
  let settings: StoreSettings = {};
  for (const e of events) {
    settings = { ...settings, ...(e.data.cloud !== undefined ? { cloud: e.data.cloud } : {}), ...(e.data.policyFile !== undefined ? { policyFile: e.data.policyFile } : {}) };
  }
  return settings;
}

/**
 * The settings in force for a command: what it was given, else what the store remembers, else the default (no policy
 * file: the default policy). And what to record: the values given that differ from the remembered ones (`undefined`:
 * nothing new, so repeating the same flags records nothing).
 */
export function settleSettings(
  remembered: StoreSettings,
  given: StoreSettings,
  defaults: { readonly cloud: string },
  context: { readonly by: string; readonly now: Date },
): { readonly cloud: SettingInForce; readonly policy: SettingInForce; readonly record?: StoreSettingsRecorded } {
  const inForce = (flag: string | undefined, stored: string | undefined, fallback: string | undefined): SettingInForce =>
    flag !== undefined ? { value: flag, from: 'flag' } : stored !== undefined ? { value: stored, from: 'store' } : { value: fallback, from: 'default' };
  const changed: { cloud?: string; policyFile?: string } = {
    ...(given.cloud !== undefined && given.cloud !== remembered.cloud ? { cloud: given.cloud } : {}),
    ...(given.policyFile !== undefined && given.policyFile !== remembered.policyFile ? { policyFile: given.policyFile } : {}),
  };
  const record: StoreSettingsRecorded | undefined =
    Object.keys(changed).length === 0 ? undefined : { type: 'StoreSettingsRecorded', data: { ...changed, by: context.by, at: context.now.toISOString() } };
  return {
    cloud: inForce(given.cloud, remembered.cloud, defaults.cloud),
    policy: inForce(given.policyFile, remembered.policyFile, undefined),
    ...(record ? { record } : {}),
  };
}
