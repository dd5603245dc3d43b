// Every error leaves the server as `{ error: { code, message, issues? } }` with a status
// derived from the code: no stack traces, no file paths, no library internals.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { describeFieldIssues as describeIssues, GroknetError, isGroknetError, type ErrorCode, type FieldIssue, type FieldLocation } from '../errors.ts';
import { MAX_ID_LENGTH } from './schemas.ts';

const FIELD_LOCATIONS = ['form', 'body', 'querystring', 'params', 'headers'] as const satisfies readonly FieldLocation[];

export const FieldIssueSchema = z
  .object({
    in: z.enum(FIELD_LOCATIONS).meta({ description: 'Where the field is: a multipart form field, the JSON body, the query string, the path or a header' }),
    path: z.array(z.union([z.string(), z.number()])).meta({ description: 'The field, as keys from there', example: ['title'] }),
    message: z.string(),
  })
  .meta({ id: 'FieldIssue' });

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'Stable error code (see src/errors.ts)', example: 'not_an_image' }),
      message: z.string().meta({ description: 'What went wrong, in words (names the bad fields too)' }),
      issues: z.array(FieldIssueSchema).optional().meta({ description: 'For invalid input (400): each bad field with its path, for programs' }),
    }),
  })
  .meta({ id: 'Error' });

export type ErrorBody = z.infer<typeof ErrorBodySchema>;

const STATUS: Partial<Record<ErrorCode, number>> = {
  not_an_image: 415,
  unsupported_format: 415,
  unsupported_media_type: 415,
  truncated: 422,
  empty_file: 400,
  too_large: 413,
  invalid_argument: 400,
  query_invalid: 400,
  path_outside_root: 400,
  not_found: 404,
  route_not_found: 404,
  file_not_found: 404,
  unauthorized: 401,
  writes_disabled: 403,
  forbidden: 403,
  overloaded: 429,
  rate_limited: 429,
  model_mismatch: 409,
  idempotency_mismatch: 422,
  unavailable: 503,
  timeout: 504,
};

export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** Fastify's and its plugins' own errors, by their `code`, mapped to groknet codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'too_large',
  FST_REQ_FILE_TOO_LARGE: 'too_large',
  // Counts, not sizes: a client mistake (400), not the image limit (readUpload names the limit).
  FST_FILES_LIMIT: 'invalid_argument',
  FST_PARTS_LIMIT: 'invalid_argument',
  FST_FIELDS_LIMIT: 'invalid_argument',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_argument',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_argument',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_argument',
  FST_PROTO_VIOLATION: 'invalid_argument',
  FST_ERR_VALIDATION: 'invalid_argument',
  FST_ERR_BAD_URL: 'invalid_argument',
  FST_ERR_MAX_PARAM_LENGTH: 'invalid_argument',
};

const FASTIFY_DETAILS: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'the request body is too large',
  FST_REQ_FILE_TOO_LARGE: 'an uploaded file is too large',
  FST_FILES_LIMIT: 'too many files in one request',
  FST_PARTS_LIMIT: 'too many parts in one request',
  FST_FIELDS_LIMIT: 'too many fields in one request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the JSON body is empty',
  FST_ERR_CTP_INVALID_JSON_BODY: 'the body is not valid JSON',
  FST_ERR_BAD_URL: 'the URL is not valid',
  FST_ERR_MAX_PARAM_LENGTH: `a part of the path is far too long: product ids are at most ${MAX_ID_LENGTH} characters`,
};

/** `/filters/colour` -> `['filters', 'colour']` (array indexes as numbers, as Zod paths have them). */
function pathOf(instancePath: string): Array<string | number> {
  return instancePath
    .split('/')
    .filter(Boolean)
    .map((key) => (/^\d+$/.test(key) ? Number(key) : key));
}

/** Turns anything thrown in a request into a GroknetError safe to show. */
export function toHttpError(error: unknown): GroknetError {
  if (isGroknetError(error)) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = (error as { validationContext?: FieldLocation }).validationContext ?? 'body';
    const issues: FieldIssue[] = error.validation.slice(0, 5).map((issue) => ({ in: where, path: pathOf(issue.instancePath), message: issue.message ?? 'is not valid' }));
    return new GroknetError('invalid_argument', describeIssues(issues), { issues });
  }
  const fastifyError = error as Partial<FastifyError> | undefined;
  if (fastifyError && typeof fastifyError === 'object' && typeof fastifyError.code === 'string') {
    const code = FASTIFY_CODES[fastifyError.code];
    if (code) return new GroknetError(code, FASTIFY_DETAILS[fastifyError.code], { cause: error });
    if (error instanceof SyntaxError || fastifyError.code.startsWith('FST_ERR_CTP')) {
      return new GroknetError('invalid_argument', 'the request body could not be parsed', { cause: error });
    }
  }
  // A JSON syntax error reaches us as a plain SyntaxError with statusCode 400.
  if (error instanceof SyntaxError && (error as { statusCode?: number }).statusCode === 400) {
    return new GroknetError('invalid_argument', 'the body is not valid JSON', { cause: error });
  }
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Other client errors from Fastify: keep the status family, not the library's wording.
    return new GroknetError(status === 404 ? 'route_not_found' : status === 415 ? 'unsupported_media_type' : 'invalid_argument', undefined, { cause: error });
  }
  return new GroknetError('internal', undefined, { cause: error });
}

/** `form.title: Too big…; body.k: …`: the issues in words, for the message (one wording for every request error). */
export { describeIssues };

export function errorBody(error: GroknetError): ErrorBody {
  return { error: { code: error.code, message: error.message, ...(error.issues?.length ? { issues: [...error.issues] } : {}) } };
}

export interface ErrorHooks {
  onError?: (code: ErrorCode) => void;
  retryAfter?: () => number;
}

export function errorHandler(hooks: ErrorHooks) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const http = toHttpError(error);
    const status = statusOf(http.code);
    if (status >= 500) {
      // Logged in full on the server; the client gets only the code and the generic message.
      request.log.error({ err: error, code: http.code }, 'request failed');
    }
    hooks.onError?.(http.code);
    if (http.code === 'overloaded') {
      // The refusing component's own estimate (e.g. the search gate), else the inference queue's.
      const seconds = http.retryAfterSeconds ?? hooks.retryAfter?.();
      if (seconds !== undefined) reply.header('retry-after', String(seconds));
    }
    if (http.code === 'unavailable' && !reply.hasHeader('retry-after')) reply.header('retry-after', '5');
    if (http.code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
    // Server-side details (store paths, library text) stay in the log; our own 503/504 details are safe.
    const safe = status >= 500 && http.code !== 'unavailable' && http.code !== 'timeout' ? new GroknetError(http.code) : http;
    void reply.status(status).type('application/json; charset=utf-8').send(JSON.stringify(errorBody(safe)));
  };
}
