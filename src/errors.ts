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
  internal: 'Something went wrong inside groknet',
} as const;

export type ErrorCode = keyof typeof ERROR_MESSAGES;

export class GroknetError extends Error {
  readonly code: ErrorCode;
  readonly details: string | undefined;
  /** For `overloaded` and the like: when the refused caller may try again (HTTP Retry-After). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, details?: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(details ? `${ERROR_MESSAGES[code]}: ${details}` : ERROR_MESSAGES[code], options && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'GroknetError';
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = options?.retryAfterSeconds;
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
