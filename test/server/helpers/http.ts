// Helpers for API tests: multipart bodies for app.inject, and the checks every error
// response must pass (shape, status, code, nothing internal leaked).
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';

export interface FilePart {
  field?: string;
  name?: string;
  type?: string;
  data: Buffer;
}

/** A multipart/form-data body, serialised by the platform's own FormData. */
export async function multipart(fields: Record<string, string>, files: FilePart[] = []): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData();
  for (const file of files) {
    form.append(file.field ?? 'image', new Blob([new Uint8Array(file.data)], { type: file.type ?? 'image/png' }), file.name ?? 'photo.png');
  }
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return { payload: Buffer.from(await request.arrayBuffer()), headers: { 'content-type': request.headers.get('content-type')! } };
}

export interface ErrorIssue {
  in: string;
  path: Array<string | number>;
  message: string;
}

/** Asserts `{ error: { code, message, issues? } }` with the expected status and code, and no internals. */
export function assertError(res: LightMyRequestResponse, status: number, code: string): { code: string; message: string; issues?: ErrorIssue[] } {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body}`);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const body = JSON.parse(res.body) as { error: { code: string; message: string; issues?: ErrorIssue[] } };
  assert.deepEqual(Object.keys(body), ['error']);
  const keys = Object.keys(body.error).sort();
  assert.deepEqual(keys, body.error.issues ? ['code', 'issues', 'message'] : ['code', 'message']);
  assert.equal(body.error.code, code, body.error.message);
  assertNothingInternal(res.body);
  return body.error;
}

/** No stack frames, file paths or library names in a response body. */
export function assertNothingInternal(text: string): void {
  assert.doesNotMatch(text, /\n\s+at |\bat .+:\d+:\d+/, 'stack trace in body');
  assert.doesNotMatch(text, /\/(tmp|work|home|root|usr)\//, 'file path in body');
  assert.doesNotMatch(text, /node_modules|FST_|ZodError|lancedb/i, 'library internals in body');
}
