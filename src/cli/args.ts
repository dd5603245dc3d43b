// Argument parsing on node:util's parseArgs, with errors turned into invalid_argument.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { GroknetError } from '../errors.ts';

/** What parse() returns: spelled out because the inferred type names a type @types/node does not export, which the compiled .d.ts cannot. */
export type Parsed<T extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>>;

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = true): Parsed<T> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new GroknetError('invalid_argument', (error as Error).message.split('\n')[0]);
  }
}

export function intOption(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new GroknetError('invalid_argument', `--${name} must be an integer from ${min} to ${max}, got '${value}'`);
  return n;
}

/** A number from min to max (shares, scores, thresholds); an empty or out-of-range value is invalid_argument. */
export function numberOption(value: string | undefined, name: string, min: number, max: number, fallback: number): number;
export function numberOption(value: string | undefined, name: string, min: number, max: number): number | undefined;
export function numberOption(value: string | undefined, name: string, min: number, max: number, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !(n >= min && n <= max)) throw new GroknetError('invalid_argument', `--${name} must be a number from ${min} to ${max}, got '${value}'`);
  return n;
}
