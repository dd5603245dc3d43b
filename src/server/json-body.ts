// JSON request bodies. Fastify's own parser refuses a `__proto__` key (prototype
// poisoning) with the same error as broken JSON, so a client is told "not valid JSON" about
// valid JSON. This one parses with JSON.parse (which makes `__proto__` a plain own key,
// never the prototype) and then refuses such keys by name and path.
import { GroknetError, type FieldIssue } from '../errors.ts';
import type { App } from './context.ts';
import { describeIssues } from './http-errors.ts';

/** The first key path that Fastify's default parser would refuse (`__proto__`, or `constructor.prototype`). */
export function forbiddenKeyPath(value: unknown, at: Array<string | number> = []): Array<string | number> | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = forbiddenKeyPath(item, [...at, i]);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    if (key === '__proto__') return [...at, key];
    if (key === 'constructor' && item !== null && typeof item === 'object' && Object.hasOwn(item, 'prototype')) return [...at, key, 'prototype'];
    const found = forbiddenKeyPath(item, [...at, key]);
    if (found) return found;
  }
  return undefined;
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new GroknetError('invalid_argument', 'the JSON body is empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GroknetError('invalid_argument', 'the body is not valid JSON', { cause: error });
  }
  const path = forbiddenKeyPath(value);
  if (path) {
    const name = path.at(-1) === 'prototype' ? 'constructor.prototype' : '__proto__';
    const issues: FieldIssue[] = [{ in: 'body', path, message: `${name} is not allowed as a key` }];
    throw new GroknetError('invalid_argument', describeIssues(issues), { issues });
  }
  return value;
}

/** Replaces Fastify's JSON parser (the route's bodyLimit still applies). */
export function registerJsonBody(app: App): void {
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
