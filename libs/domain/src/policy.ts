export type Policy = { version: string };
