import type { z } from 'zod';
import type { FieldError } from './types';

/**
 * Dotted path of an issue (`action.targetInstanceType`), `(root)` for the value itself. An empty key is written `""`
 * (`resource.tags.""`), so that no path is empty.
 */
export function pathLabel(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map((segment) => (segment === '' ? '""' : String(segment))).join('.');
}

/** Short rendering of a bad value for an error message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

const article = (expected: string): string => (/^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`);

/**
 * Turns zod issues into field errors whose messages start with the field's path. Expects the issues
 * of a `safeParse(raw, { reportInput: true })`. Unknown keys become one error per key, at the key's path.
 */
export function fieldErrorsOf(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of issues) {
    const path = pathLabel(issue.path);
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          const keyPath = pathLabel([...issue.path, key]);
          errors.push({ path: keyPath, message: `${keyPath} is not a known field` });
        }
        break;
      case 'invalid_type':
        errors.push({
          path,
          message:
            input === undefined && issue.path.length > 0
              ? `${path} is required`
              : `${path} must be ${article(issue.expected === 'record' ? 'object' : issue.expected)}, got ${describeValue(input)}`,
        });
        break;
      case 'invalid_value':
        errors.push({
          path,
          message:
            input === undefined
              ? `${path} is required`
              : `${path} must be ${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`}, got ${describeValue(input)}`,
        });
        break;
      case 'invalid_union': {
        const { options, discriminator } = issue as { options?: readonly unknown[]; discriminator?: string };
        if (options && options.length > 0) {
          const value = discriminator !== undefined && input !== null && typeof input === 'object' ? (input as Record<string, unknown>)[discriminator] : input;
          errors.push({
            path,
            message:
              value === undefined
                ? `${path} is required`
                : `${path} must be one of ${options.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(value)}`,
          });
        } else {
          errors.push({ path, message: `${path} does not match any allowed form` });
        }
        break;
      }
      case 'custom':
        errors.push({ path, message: `${path} ${issue.message}` });
        break;
      default:
        errors.push({
          path,
          message: input === undefined || (typeof input === 'object' && input !== null) ? `${path} ${issue.message}` : `${path} ${issue.message}, got ${describeValue(input)}`,
        });
    }
  }
  return errors;
}
