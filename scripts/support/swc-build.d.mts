import type { Options } from '@swc/core';

export declare const SWC_OPTIONS: Options;
export declare const SWC_EXPORT_STAR: string;
export declare const VALUE_EXPORT_STAR: string;
export declare function valueReExports(code: string, file: string): string;
