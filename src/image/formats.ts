// Which image formats groknet accepts, recognised from the bytes themselves so that
// nothing outside the allow-list (SVG above all) ever reaches a sharp decoder.

/** Decoder families passed to sharp; the names match sharp's `metadata().format`. */
export type ImageFamily = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'heif';

/** What DecodedImage reports: the family, with HEIF split by codec. */
export type ImageFormat = Exclude<ImageFamily, 'heif'> | 'avif' | 'heic' | 'heif';

/** File extensions (lower case, no dot) worth offering to the decoder when walking folders. */
export const SUPPORTED_EXTENSIONS: readonly string[] = Object.freeze([
  'jpg', 'jpeg', 'jpe', 'jfif', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif',
]);

export function hasSupportedExtension(fileName: string): boolean {
  const dot = fileName.lastIndexOf('.');
  if (dot < 0 || dot === fileName.length - 1) return false;
  return SUPPORTED_EXTENSIONS.includes(fileName.slice(dot + 1).toLowerCase());
}

export type Sniffed =
  | { kind: 'image'; family: ImageFamily }
  | { kind: 'unsupported'; name: string }
  | { kind: 'unknown' };

// ISO-BMFF brands that libheif reads; other `ftyp` files are videos or camera raws.
const HEIF_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1', 'mif2']);

function startsWith(bytes: Uint8Array, magic: readonly number[], at = 0): boolean {
  if (bytes.length < at + magic.length) return false;
  return magic.every((b, i) => bytes[at + i] === b);
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, Math.min(end, bytes.length)));
}

/** Recognises a format from its first bytes; only a few bytes of magic are needed. */
export function sniffFormat(bytes: Uint8Array): Sniffed {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { kind: 'image', family: 'jpeg' };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: 'image', family: 'png' };
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return { kind: 'image', family: 'webp' };
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return { kind: 'image', family: 'gif' };
  // Classic TIFF (42) and BigTIFF (43), in both byte orders.
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])
    || startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) {
    return { kind: 'image', family: 'tiff' };
  }
  if (ascii(bytes, 4, 8) === 'ftyp') {
    const brand = ascii(bytes, 8, 12);
    return HEIF_BRANDS.has(brand) ? { kind: 'image', family: 'heif' } : { kind: 'unsupported', name: `ISO media (${brand.trim() || 'unknown brand'})` };
  }
  return sniffUnsupported(bytes);
}

// Formats sharp (or a user) might know but groknet refuses; naming them gives a clearer error.
function sniffUnsupported(bytes: Uint8Array): Sniffed {
  if (ascii(bytes, 0, 5) === '%PDF-') return { kind: 'unsupported', name: 'PDF' };
  if (ascii(bytes, 0, 4) === '8BPS') return { kind: 'unsupported', name: 'PSD' };
  if (startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) {
    return { kind: 'unsupported', name: 'JPEG 2000' };
  }
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) {
    return { kind: 'unsupported', name: 'JPEG XL' };
  }
  // gzip: most likely a compressed SVG (.svgz), which sharp would render.
  if (startsWith(bytes, [0x1f, 0x8b])) return { kind: 'unsupported', name: 'gzip (SVGZ?)' };
  if (looksLikeMarkup(bytes)) return { kind: 'unsupported', name: 'markup (SVG/XML/HTML)' };
  return { kind: 'unknown' };
}

// SVG can reference external files and URLs, so any markup is refused before sharp sees it.
function looksLikeMarkup(bytes: Uint8Array): boolean {
  // UTF-16 markup: a byte-order mark then '<'.
  if (startsWith(bytes, [0xff, 0xfe, 0x3c, 0x00]) || startsWith(bytes, [0xfe, 0xff, 0x00, 0x3c])) return true;
  let i = startsWith(bytes, [0xef, 0xbb, 0xbf]) ? 3 : 0; // UTF-8 BOM
  while (i < bytes.length && i < 4096 && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x3c; // '<'
}

/** Names the decoded format, telling AVIF (AV1) and HEIC (HEVC) apart. */
export function formatName(family: ImageFamily, heifCompression: string | undefined): ImageFormat {
  if (family !== 'heif') return family;
  if (heifCompression === 'av1') return 'avif';
  if (heifCompression === 'hevc') return 'heic';
  return 'heif';
}
