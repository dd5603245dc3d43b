// Getting image bytes out of a request: multipart (`image` / `images` file fields plus
// text fields) or a raw body with an image content type, and the optional region box
// (cut out by src/image/crop.ts before analysis, so one photo can be asked about one
// product in it).
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GroknetError } from '../errors.ts';
import type { ImageLimits } from '../image/limits.ts';

/** Raw bodies with these content types are taken as the image itself. */
export const RAW_IMAGE_TYPES = /^(image\/[a-z0-9.+-]+|application\/octet-stream)$/i;

const FILE_FIELDS = new Set(['image', 'images']);
const MAX_FIELD_BYTES = 64 * 1024;
const MAX_FIELDS = 20;

export interface Upload {
  files: Buffer[];
  /** Text fields of a multipart body; empty for a raw body. */
  fields: Record<string, string>;
}

export async function readUpload(request: FastifyRequest, limits: ImageLimits, maxFiles: number): Promise<Upload> {
  if (!request.isMultipart()) {
    if (Buffer.isBuffer(request.body)) return { files: [request.body], fields: {} };
    throw new GroknetError('unsupported_media_type', 'send multipart/form-data with an "image" file, or the image itself with an image/* content type');
  }
  const files: Buffer[] = [];
  const fields: Record<string, string> = {};
  const parts = request.parts({
    limits: { fileSize: limits.maxInputBytes, files: maxFiles, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: maxFiles + MAX_FIELDS },
  });
  try {
    for await (const part of parts) {
      if (part.type === 'file') {
        if (!FILE_FIELDS.has(part.fieldname)) {
          part.file.resume(); // drain it, or the request would stall
          throw new GroknetError('invalid_argument', `unexpected file field "${part.fieldname}"; use "image"`);
        }
        files.push(await part.toBuffer());
      } else {
        if (Object.hasOwn(fields, part.fieldname)) throw new GroknetError('invalid_argument', `field "${part.fieldname}" appears twice`);
        if (part.valueTruncated) throw new GroknetError('too_large', `field "${part.fieldname}" is longer than ${MAX_FIELD_BYTES} bytes`);
        fields[part.fieldname] = String(part.value);
      }
    }
  } catch (error) {
    // The parser's own errors ("Unexpected end of multipart data", "Boundary not found") carry
    // no code: they describe the client's body, not a server fault. Coded errors (limits) pass on.
    if (error instanceof GroknetError || typeof (error as { code?: unknown })?.code === 'string') throw error;
    throw new GroknetError('invalid_argument', 'the multipart body is malformed or cut short', { cause: error });
  }
  if (files.length === 0) throw new GroknetError('invalid_argument', 'no image: add a file field named "image"');
  return { files, fields };
}

const coord = z.coerce.number().int().min(0).max(1_000_000);

export const RegionSchema = z.strictObject({
  x: coord,
  y: coord,
  w: coord.min(1),
  h: coord.min(1),
});

export type Region = z.infer<typeof RegionSchema>;

/** Crop region from query or form fields: all four of x, y, w, h, or none. */
export function parseRegion(source: Record<string, unknown>, where: string): Region | undefined {
  const present = (['x', 'y', 'w', 'h'] as const).filter((k) => source[k] !== undefined && source[k] !== '');
  if (present.length === 0) return undefined;
  const picked = { x: source.x, y: source.y, w: source.w, h: source.h };
  const parsed = RegionSchema.safeParse(picked);
  if (!parsed.success || present.length !== 4) {
    throw new GroknetError('invalid_argument', `${where}: a region needs whole-pixel x, y, w and h (w, h at least 1)`);
  }
  return parsed.data;
}
