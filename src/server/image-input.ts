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
/** Longest text field of a multipart body; a longer one arrives cut (see Upload.truncated). */
export const MAX_FIELD_BYTES = 64 * 1024;
const MAX_FIELDS = 20;

export interface Upload {
  files: Buffer[];
  /** Text fields of a multipart body; empty for a raw body. */
  fields: Record<string, string>;
  /**
   * Fields longer than MAX_FIELD_BYTES, held cut to that length: the route's schema refuses
   * them naming its own limit for the field (parseFormFields), not this one.
   */
  truncated: string[];
}

/** The multipart parser's count limits, as what the client sent too many of. */
function countLimitError(code: unknown, maxFiles: number): GroknetError | undefined {
  if (code === 'FST_FILES_LIMIT') return new GroknetError('invalid_argument', `too many files: at most ${maxFiles}`);
  if (code === 'FST_FIELDS_LIMIT') return new GroknetError('invalid_argument', `too many fields: at most ${MAX_FIELDS}`);
  if (code === 'FST_PARTS_LIMIT') return new GroknetError('invalid_argument', `too many parts: at most ${maxFiles} files and ${MAX_FIELDS} fields`);
  return undefined;
}

export async function readUpload(request: FastifyRequest, limits: ImageLimits, maxFiles: number): Promise<Upload> {
  if (!request.isMultipart()) {
    if (Buffer.isBuffer(request.body)) return { files: [request.body], fields: {}, truncated: [] };
    throw new GroknetError('unsupported_media_type', 'send multipart/form-data with an "image" file, or the image itself with an image/* content type');
  }
  const files: Buffer[] = [];
  const fields: Record<string, string> = {};
  const truncated: string[] = [];
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
        if (part.valueTruncated) truncated.push(part.fieldname);
        fields[part.fieldname] = String(part.value);
      }
    }
  } catch (error) {
    // The parser's own errors ("Unexpected end of multipart data", "Boundary not found") carry
    // no code: they describe the client's body, not a server fault. Coded errors (limits) pass on.
    const code = (error as { code?: unknown } | null)?.code;
    const tooMany = countLimitError(code, maxFiles);
    if (tooMany) throw tooMany;
    if (error instanceof GroknetError || typeof code === 'string') throw error;
    throw new GroknetError('invalid_argument', 'the multipart body is malformed or cut short', { cause: error });
  }
  if (files.length === 0) throw new GroknetError('invalid_argument', 'no image: add a file field named "image"');
  return { files, fields, truncated };
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
