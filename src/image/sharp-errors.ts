// Translates sharp/libvips error text into groknet's stable error codes. The messages are
// free text from several C libraries, so matching is by pattern; anything unrecognised
// becomes `not_an_image` with a short, path-free reason.

import { GroknetError } from '../errors.ts';
import type { ImageFamily } from './formats.ts';

const MAX_REASON_CHARS = 120;

// libheif (and thus sharp's prebuilt binaries without HEVC) reports a missing codec this way.
const UNSUPPORTED_PATTERNS = [/unsupported feature/i, /unsupported codec/i, /no matching decoder/i, /not built with/i];

const TRUNCATED_PATTERNS = [
  /corrupt header/i, /premature end/i, /unexpected end/i, /end of file/i, /truncat/i, /libpng read error/i,
  /read error/i, /out of data/i, /insufficient input/i, /too small/i, /bad seek/i, /crc/i, /corrupt/i,
  /invalid input/i, /unable to parse/i, /not enough data/i, /no image/i, /bogus/i,
];

/**
 * libvips keeps one error buffer for the whole process: when several decodes fail at the same
 * time, one failure can take the others' messages and leave them with sharp's bare "Unknown
 * error" (ModelAnalyzer decodes such failures again one at a time). libpng's CRC errors also
 * arrive this way. The message then says nothing about the image.
 */
export function isUninformative(message: string): boolean {
  return /^\s*(Input (buffer|file) has corrupt header:\s*)?(unknown error)?\s*$/i.test(message);
}

/**
 * `family` is the format recognised from the magic bytes: once the bytes are known to be,
 * say, a PNG, a decoder failure means the data is cut off or damaged, not "not an image".
 */
export function fromSharpError(error: unknown, family: ImageFamily | undefined): GroknetError {
  if (error instanceof GroknetError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const options = { cause: error };

  if (/exceeds pixel limit/i.test(message)) return new GroknetError('too_large', 'the canvas exceeds the pixel limit', options);
  if (/^timeout\b/i.test(message)) return new GroknetError('too_large', 'decoding took too long', options);
  if (/input buffer is empty/i.test(message)) return new GroknetError('empty_file', undefined, options);
  if (/exceeds (the )?channel limit|too many channels/i.test(message)) {
    return new GroknetError('unsupported_format', 'too many channels', options);
  }
  if (UNSUPPORTED_PATTERNS.some((p) => p.test(message))) {
    return new GroknetError('unsupported_format', shortReason(message), options);
  }
  if (/unsupported image format/i.test(message)) {
    // sharp found no loader although the magic bytes matched: the header itself is damaged.
    return family
      ? new GroknetError('truncated', `${family} header is damaged`, options)
      : new GroknetError('not_an_image', undefined, options);
  }
  if (family && TRUNCATED_PATTERNS.some((p) => p.test(message))) {
    return new GroknetError('truncated', shortReason(message), options);
  }
  // The magic bytes named a format its decoder then failed on, without saying why: damaged data.
  if (family && isUninformative(message)) return new GroknetError('truncated', `the ${family} data is damaged`, options);
  return new GroknetError('not_an_image', shortReason(message), options);
}

/** One meaningful line of the libvips message, without file paths, capped in length. */
export function shortReason(message: string): string {
  const line = message
    .split('\n')
    .map((l) => l.replace(/^Input (buffer|file) has corrupt header:\s*/i, '').trim())
    // libheif's retry noise ("source: bad seek to 1024") says nothing useful.
    .find((l) => l.length > 0 && !/^source: bad seek/i.test(l)) ?? 'damaged header';
  const noPaths = line.replace(/(^|\s)(?:[A-Za-z]:)?[\\/][^\s"']+/g, '$1<path>');
  return noPaths.length > MAX_REASON_CHARS ? `${noPaths.slice(0, MAX_REASON_CHARS - 1)}…` : noPaths;
}
