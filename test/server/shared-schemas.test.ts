// The pieces every route shares: a Zod failure as the API's error body (field paths for
// programs), the yes/no flag of query strings and forms, the error answers of the OpenAPI
// responses.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { invalidInput, isGroknetError, MAX_REPORTED_ISSUES, schemaIssues, zodIssuesText } from '../../src/errors.ts';
import { errorResponses, PHOTO_ROUTE_ERRORS } from '../../src/server/error-responses.ts';
import { errorBody, ErrorBodySchema } from '../../src/server/http-errors.ts';
import { FlagSchema, flagDefaulting } from '../../src/server/schemas.ts';
import { parseInput } from '../../src/server/validate.ts';

const Fields = z.strictObject({ title: z.string().max(3), tags: z.array(z.string()).optional() });

function failure(schema: z.ZodType, value: unknown): z.ZodError {
  const parsed = schema.safeParse(value);
  assert.equal(parsed.success, false);
  return parsed.error!;
}

describe('a Zod failure as the API error', () => {
  test('invalid_argument with each field path and the same in words', () => {
    const error = invalidInput(failure(Fields, { title: 'long', tags: ['a', 1] }), 'form');
    assert.equal(error.code, 'invalid_argument');
    assert.deepEqual(
      error.issues?.map(({ in: where, path }) => [where, path]),
      [
        ['form', ['title']],
        ['form', ['tags', 1]],
      ],
    );
    assert.match(error.message, /^An argument is missing or out of range: form\.title: .+; form\.tags\.1: .+$/);
    const body = errorBody(error);
    assert.ok(ErrorBodySchema.safeParse(body).success);
    assert.deepEqual(body.error.issues, error.issues);
  });

  test('placed inside the request by a path prefix; at most the first few problems', () => {
    const error = invalidInput(failure(z.object({ eq: z.string() }), { eq: 3 }), 'body', { pathPrefix: ['filters', 'colour'] });
    assert.deepEqual(error.issues?.[0]?.path, ['filters', 'colour', 'eq']);
    const many = failure(z.array(z.string()), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(invalidInput(many, 'body').issues?.length, MAX_REPORTED_ISSUES);
  });

  test('parseInput answers with it', () => {
    let thrown: unknown;
    try {
      parseInput(Fields, { title: 'x', extra: 1 }, 'querystring');
    } catch (error) {
      thrown = error;
    }
    assert.ok(isGroknetError(thrown));
    assert.deepEqual(thrown.issues, invalidInput(failure(Fields, { title: 'x', extra: 1 }), 'querystring').issues);
    assert.deepEqual(thrown.issues?.map((issue) => [issue.in, issue.path]), [['querystring', []]]);
    assert.deepEqual(parseInput(Fields, { title: 'abc' }, 'form'), { title: 'abc' });
  });

  test('in words for files and configs: paths, (root) for the value itself, a limit', () => {
    const error = failure(z.object({ size: z.tuple([z.number().min(1), z.number()]) }), { size: [0, 'x'] });
    assert.match(zodIssuesText(error), /^size\.0: .+; size\.1: .+$/);
    assert.match(zodIssuesText(error, 1), /^size\.0: [^;]+$/);
    assert.match(zodIssuesText(failure(z.object({}), 'text')), /^\(root\): /);
    const symbolKey = Symbol('key');
    assert.deepEqual(schemaIssues({ issues: [{ path: [symbolKey, 0], message: 'bad' }] }), [{ path: ['Symbol(key)', 0], message: 'bad' }]);
  });
});

describe('yes/no flags', () => {
  test('true/1 and false/0; anything else is refused', () => {
    for (const [given, value] of [['true', true], ['1', true], ['false', false], ['0', false]] as const) assert.equal(FlagSchema.parse(given), value);
    for (const bad of ['yes', 'TRUE', '', 'on', undefined]) assert.equal(FlagSchema.safeParse(bad).success, false, String(bad));
  });

  test('absent: undefined when optional (a form field may then give it), or the default', () => {
    assert.equal(FlagSchema.optional().parse(undefined), undefined);
    assert.equal(flagDefaulting(false).parse(undefined), false);
    assert.equal(flagDefaulting(true).parse(undefined), true);
    assert.equal(flagDefaulting(true).parse('0'), false);
    assert.equal(flagDefaulting(false).parse('1'), true);
    assert.equal(flagDefaulting(true).safeParse('no').success, false);
  });
});

describe('error responses of a route', () => {
  test('each status named answers the error body', () => {
    const responses = errorResponses(404, 503);
    assert.deepEqual(Object.keys(responses), ['404', '503']);
    assert.equal(responses[404], ErrorBodySchema);
    assert.equal(responses[503], ErrorBodySchema);
    assert.deepEqual(Object.keys(errorResponses(...PHOTO_ROUTE_ERRORS)).map(Number), [400, 413, 415, 422, 429, 503, 504]);
  });
});
