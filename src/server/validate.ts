// Zod validation for input the route schemas cannot see (multipart fields parsed in the
// handler), failing with the same invalid_argument error as schema validation does.
import type { z } from 'zod';
import { GroknetError } from '../errors.ts';

export function parseInput<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 5).map((issue) => {
    const field = issue.path.map(String).join('.');
    return `${where}${field ? `.${field}` : ''}: ${issue.message}`;
  });
  throw new GroknetError('invalid_argument', issues.join('; '));
}
