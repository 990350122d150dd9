export { startEsdbEmulator } from './server';
export type { EsdbEmulator, EsdbEmulatorOptions } from './server';
