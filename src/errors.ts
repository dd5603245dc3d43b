// Every error groknet reports to a user, in one place (as Orama does), so codes stay
// stable and messages stay readable. Modules throw `GroknetError(code, details)`.

export const ERROR_MESSAGES = {
  // image input
  not_an_image: 'The file is not an image groknet can read',
  truncated: 'The image is truncated or corrupt',
  too_large: 'The image is larger than the allowed limit',
  unsupported_format: 'This image format is not supported',
  empty_file: 'The file is empty',
  file_not_found: 'The file does not exist or cannot be read',
  // model and conversion
  model_not_found: 'No model was found at the given location',
  model_invalid: 'The model does not match its manifest',
  conversion_failed: 'The TF.js model could not be converted to ONNX',
  unsupported_op: 'The TF.js model uses an operation the converter does not support',
  provider_unavailable: 'The requested ONNX Runtime execution provider is not available',
  // storage
  disk_full: 'The disk is full (or over quota): free some space and run again; nothing half-written is kept',
  // configuration and input
  invalid_argument: 'An argument is missing or out of range',
  invalid_config: 'The configuration is invalid',
  invalid_labels: 'The labels file is invalid',
  path_outside_root: 'The path is outside the allowed folder',
  // catalog and search
  not_found: 'Nothing exists with that id',
  store_error: 'The catalog store could not complete the operation',
  query_invalid: 'The query could not be understood',
  model_mismatch: 'The catalog was built with a different model; run reindex',
  queue_error: 'The job queue could not complete the operation',
  // service
  unauthorized: 'A valid API key is required',
  overloaded: 'The service is busy; retry later',
  rate_limited: 'Too many requests from this client; retry later',
  timeout: 'The request took too long and was abandoned; retry later',
  unavailable: 'The service is not ready for this request',
  writes_disabled: 'Writing is disabled on this server: configure an API key (GROKNET_API_KEY) or start it with --allow-anonymous-writes',
  forbidden: 'This request is not allowed',
  route_not_found: 'No such endpoint',
  unsupported_media_type: 'This endpoint does not accept that content type',
  idempotency_mismatch: 'This Idempotency-Key was already used with a different request; use a new key for a new request',
  // long commands (index, train) stopped by SIGINT or SIGTERM
  interrupted: 'Stopped by a signal before the work was done; what was done is kept',
  internal: 'Something went wrong inside groknet',
} as const;

export type ErrorCode = keyof typeof ERROR_MESSAGES;

/**
 * One bad field of a request, for programs: where it was (`form`, `body`, `querystring`,
 * `params`, `headers`), its path there, and what is wrong with it. The message says the same in words.
 */
export type FieldLocation = 'form' | 'body' | 'querystring' | 'params' | 'headers';

export interface FieldIssue {
  in: FieldLocation;
  path: Array<string | number>;
  message: string;
}

/** A problem a schema found in a value: the field's path (keys from the value's root) and what is wrong. */
export interface SchemaIssue {
  path: Array<string | number>;
  message: string;
}

/** What a failed schema parse reports: a ZodError has this shape (typed structurally: no Zod import here). */
export interface SchemaProblems {
  readonly issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>;
}

/** The first few problems say what to fix; more would only bury them. */
export const MAX_REPORTED_ISSUES = 5;

/** A failed parse's first problems, each with its field's path (a symbol key as its text). */
export function schemaIssues(problems: SchemaProblems, limit = MAX_REPORTED_ISSUES): SchemaIssue[] {
  return problems.issues.slice(0, limit).map((issue) => ({
    path: issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key)),
    message: issue.message,
  }));
}

/** `size.0: Too small: …; mean: …` (`(root)` for the value itself): a failed parse in words, for messages. */
export function zodIssuesText(problems: SchemaProblems, limit = MAX_REPORTED_ISSUES): string {
  return schemaIssues(problems, limit)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/** `form.title: Too big…; body.k: …`: request issues in words, each named by where it was and its path. */
export function describeFieldIssues(issues: readonly FieldIssue[]): string {
  return issues.map((issue) => `${[issue.in, ...issue.path].join('.')}: ${issue.message}`).join('; ');
}

/**
 * A failed parse of request input as the error the API answers with: `invalid_argument`
 * (400), the problems in the message and, for programs, `issues: [{ in, path, message }]`.
 * `pathPrefix` places the parsed value inside the request (a filter's value: ['filters', name]).
 */
export function invalidInput(problems: SchemaProblems, where: FieldLocation, options: { pathPrefix?: ReadonlyArray<string | number> } = {}): GroknetError {
  const prefix = options.pathPrefix ?? [];
  const issues: FieldIssue[] = schemaIssues(problems).map((issue) => ({ in: where, path: [...prefix, ...issue.path], message: issue.message }));
  return new GroknetError('invalid_argument', describeFieldIssues(issues), { issues });
}

export class GroknetError extends Error {
  readonly code: ErrorCode;
  readonly details: string | undefined;
  /** For `overloaded` and the like: when the refused caller may try again (HTTP Retry-After). */
  readonly retryAfterSeconds: number | undefined;
  /** For invalid input: each bad field with its path (the HTTP error body's `issues`). */
  readonly issues: readonly FieldIssue[] | undefined;

  constructor(code: ErrorCode, details?: string, options?: { cause?: unknown; retryAfterSeconds?: number; issues?: readonly FieldIssue[] }) {
    super(details ? `${ERROR_MESSAGES[code]}: ${details}` : ERROR_MESSAGES[code], options && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'GroknetError';
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.issues = options?.issues;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isGroknetError(value: unknown): value is GroknetError {
  return value instanceof GroknetError;
}

/** Turns anything thrown into a GroknetError without leaking stack traces or paths. */
export function toGroknetError(value: unknown): GroknetError {
  if (value instanceof GroknetError) return value;
  return new GroknetError('internal', undefined, { cause: value });
}

// What went wrong with a file, in words, from the errno Node reports: one clean line per
// file instead of "cannot be read" for every cause (or a raw error with its stack).
const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  ENOTDIR: 'a part of the path is not a folder',
  ENAMETOOLONG: 'the name or the path is too long',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many levels of symbolic links',
  EISDIR: 'is a directory',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EIO: 'input/output error',
  ENXIO: 'no such device',
  // Node refuses a path with a NUL byte before any system call.
  ERR_INVALID_ARG_VALUE: 'the name holds a NUL byte',
};

/** The reason for a failed file-system call, in words ("permission denied"). */
export function fsReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && FS_REASONS[code]) || (typeof code === 'string' ? code : 'cannot be read');
}

/** A failed file-system call on one file as a GroknetError naming the file (a name, never a stack). */
export function fromFsError(error: unknown, name: string): GroknetError {
  if (error instanceof GroknetError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EISDIR') return new GroknetError('not_an_image', `${name} is a directory`, { cause: error });
  // A missing file keeps the plain name: nothing more to say.
  if (code === 'ENOENT') return new GroknetError('file_not_found', name, { cause: error });
  return new GroknetError('file_not_found', `${name} (${fsReason(error)})`, { cause: error });
}
