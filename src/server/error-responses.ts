// The error answers a route declares in its OpenAPI responses: every one is the same
// `{ error: { code, message, issues? } }` body (src/server/http-errors.ts), so a route names
// only its statuses.
import { ErrorBodySchema } from './http-errors.ts';

/** `errorResponses(400, 404)` -> `{ 400: ErrorBodySchema, 404: ErrorBodySchema }`, for a route's `response`. */
export function errorResponses<const Statuses extends readonly number[]>(...statuses: Statuses): { [Status in Statuses[number]]: typeof ErrorBodySchema } {
  return Object.fromEntries(statuses.map((status) => [status, ErrorBodySchema])) as { [Status in Statuses[number]]: typeof ErrorBodySchema };
}

/** What a route that reads a photo can answer besides 200: bad input, too large, not an image, corrupt, busy, no model, too slow. */
export const PHOTO_ROUTE_ERRORS = [400, 413, 415, 422, 429, 503, 504] as const;
