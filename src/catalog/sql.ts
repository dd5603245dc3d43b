// The only place SQL literals are made. LanceDB filters are SQL strings, so every value that
// reaches one goes through here: strings are quoted with embedded quotes doubled (the SQL
// standard escape; DataFusion treats backslashes literally), numbers must be finite, and
// identifiers must come from our own column list.

import { GroknetError } from '../errors.ts';

// NUL and other control characters have no business in ids or labels and are a classic way
// to confuse parsers further down, so they are refused rather than escaped.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function sqlString(value: string): string {
  if (CONTROL.test(value)) throw new GroknetError('query_invalid', 'control characters are not allowed');
  return `'${value.replace(/'/g, "''")}'`;
}

export function sqlNumber(value: number): string {
  if (!Number.isFinite(value)) throw new GroknetError('query_invalid', 'numbers must be finite');
  return String(value);
}

export function sqlIn(values: readonly string[]): string {
  if (values.length === 0) throw new GroknetError('query_invalid', 'empty value list');
  return `(${values.map(sqlString).join(', ')})`;
}

/** A list literal, for the array functions that match list columns (array_has_any). */
export function sqlList(values: readonly string[]): string {
  if (values.length === 0) throw new GroknetError('query_invalid', 'empty value list');
  return `[${values.map(sqlString).join(', ')}]`;
}

/** Column names are never user text: they must be one of ours and look like an identifier. */
export function sqlIdentifier(name: string, known: ReadonlySet<string>): string {
  if (!known.has(name) || !/^[a-z][a-z0-9_]*$/.test(name)) {
    throw new GroknetError('query_invalid', `unknown field "${name.slice(0, 40)}"`);
  }
  return name;
}
