// Zod validation for input the route schemas cannot see (multipart fields parsed in the
// handler), failing with the same invalid_argument error as schema validation does: the
// problems in the message and, for programs, as `issues` with each field's path.
import type { z } from 'zod';
import { describeFieldIssues, GroknetError, invalidInput, type FieldIssue, type FieldLocation } from '../errors.ts';
import { MAX_FIELD_BYTES, type Upload } from './image-input.ts';

function invalid(issues: FieldIssue[]): GroknetError {
  return new GroknetError('invalid_argument', describeFieldIssues(issues), { issues });
}

export function parseInput<T extends z.ZodType>(schema: T, value: unknown, where: FieldLocation): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalidInput(result.error, where);
}

/**
 * The text fields of an upload, some of them perhaps cut at the multipart field limit
 * (`truncated`, their first MAX_FIELD_BYTES). A cut field is refused with the schema's own limit when it has one
 * ("form.title: … <=200 characters"), else with the field limit: never with a message about
 * what the cut text happens to look like (half a JSON object).
 */
export function parseFormFields<T extends z.ZodType>(schema: T, { fields, truncated }: Pick<Upload, 'fields' | 'truncated'>): z.output<T> {
  if (truncated.length === 0) return parseInput(schema, fields, 'form');
  const result = schema.safeParse(fields);
  const issues = truncated.map((name): FieldIssue => {
    const own = result.success ? undefined : result.error.issues.find((issue) => issue.path[0] === name && issue.code === 'too_big');
    return { in: 'form', path: [name], message: own?.message ?? `longer than ${MAX_FIELD_BYTES} bytes, the most a form field may hold` };
  });
  throw invalid(issues);
}
