// Write access: an API key in `Authorization: Bearer <key>` or `x-api-key`. Reads are public.
// Keys are compared as SHA-256 digests with timingSafeEqual: equal lengths always, and the
// comparison time says nothing about how much of the key matched.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { GroknetError } from '../errors.ts';

export interface WriteAccess {
  apiKey: string | undefined;
  allowAnonymousWrites: boolean;
  /** Origins allowed by CORS, which may therefore also write. */
  corsOrigins: readonly string[];
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function keyMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match) return match[1];
  }
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey : undefined;
}

/**
 * A browser sends Origin on cross-site POSTs. Refusing writes from foreign origins stops
 * another web page from using a visitor's browser against a local, anonymous-write server
 * (a multipart POST needs no CORS preflight).
 */
function checkOrigin(request: FastifyRequest, access: WriteAccess): void {
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return; // not a browser, or a same-origin GET
  if (access.corsOrigins.includes(origin)) return;
  // Sandboxed frames send "null": that is exactly the disguise a forged request would use.
  if (origin === 'null') throw new GroknetError('forbidden', 'writes from an opaque origin are not allowed');
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new GroknetError('forbidden', 'the Origin header is malformed');
  }
  if (host !== request.headers.host) throw new GroknetError('forbidden', `writes from ${origin} are not allowed`);
}

/** preHandler for every endpoint that changes data. */
export function requireWriteAccess(access: WriteAccess) {
  return async (request: FastifyRequest): Promise<void> => {
    checkOrigin(request, access);
    if (access.apiKey === undefined) {
      if (access.allowAnonymousWrites) return;
      throw new GroknetError('writes_disabled');
    }
    const given = presentedKey(request);
    if (given === undefined) throw new GroknetError('unauthorized', 'send it as "Authorization: Bearer <key>" or "x-api-key: <key>"');
    if (!keyMatches(given, access.apiKey)) throw new GroknetError('unauthorized', 'the API key is not valid');
  };
}
