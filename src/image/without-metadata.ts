// Uploads stored without their metadata: the pixels and colour profile of a photo a seller
// sent, nothing else (src/server/image-store.ts stores what this returns).
import sharp, { type Sharp } from 'sharp';
import type { ImageFamily } from './formats.ts';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from './limits.ts';
import { fromSharpError } from './sharp-errors.ts';

// Quality of the re-encoded lossy photos: visually lossless for product photos.
const JPEG_QUALITY = 92;
const WEBP_QUALITY = 92;
// Same backstop as decoding (src/image/decode.ts).
const ENCODE_TIMEOUT_SECONDS = 30;

/**
 * The upload without EXIF, XMP, IPTC, comments or anything else but pixels and the colour
 * profile: a marketplace must never publish a seller's GPS position, camera serial or name.
 *
 * Re-encoded with sharp rather than stripped losslessly. A lossless strip has to know every
 * place each of six containers can hide metadata (JPEG APPn and COM segments and trailers,
 * PNG tEXt/zTXt/iTXt/eXIf chunks, WebP EXIF/XMP chunks, GIF extensions, TIFF's own IFDs,
 * HEIF item boxes) and anything it misses is published; re-encoding writes only what is
 * asked for (sharp strips all metadata unless told to keep it), so nothing is missed by
 * construction, polyglot trailers included. It also bakes in the EXIF orientation, which a
 * strip would lose with the EXIF block (the photo would then show sideways). The price is
 * one generation of JPEG/WebP loss at quality 92 with the upload's own chroma subsampling
 * (PNG stays lossless, lossless WebP stays lossless) and ~0.5 s for a 12 Mpx photo on the
 * upload path; the analysis already ran on the original bytes.
 *
 * Output: JPEG, PNG and WebP keep their format; GIF and TIFF become PNG (lossless, and a
 * browser can show it; an animation keeps its first frame, the one that was analysed);
 * HEIF/AVIF becomes JPEG, or PNG when it has transparency. The ICC profile is kept (a P3
 * photo keeps its colours); CMYK is converted to sRGB. Deterministic for one sharp build,
 * so the same upload is stored under the same name.
 */
export async function withoutMetadata(bytes: Buffer, family: ImageFamily, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<{ data: Buffer; extension: string }> {
  // The bytes already passed analysis (header, size and pixel checks). 'none': a damaged
  // tail the analyser's crop did not need is stored as the decoder fills it, as a browser
  // would show it, rather than failing a publish that was accepted.
  const open = (): Sharp =>
    sharp(bytes, { failOn: 'none', limitInputPixels: limits.maxPixels, pages: 1, sequentialRead: true }).timeout({ seconds: ENCODE_TIMEOUT_SECONDS });
  try {
    const meta = await open().metadata();
    const image = open().autoOrient().keepIccProfile();
    switch (family) {
      case 'jpeg': {
        const subsampling = meta.chromaSubsampling?.startsWith('4:4:4') ? '4:4:4' : '4:2:0';
        return { data: await image.jpeg({ quality: JPEG_QUALITY, chromaSubsampling: subsampling }).toBuffer(), extension: 'jpg' };
      }
      case 'webp': {
        const options = isLosslessWebp(bytes) ? { lossless: true } : { quality: WEBP_QUALITY, alphaQuality: 100 };
        return { data: await image.webp(options).toBuffer(), extension: 'webp' };
      }
      case 'heif':
        if (!meta.hasAlpha) return { data: await image.jpeg({ quality: JPEG_QUALITY }).toBuffer(), extension: 'jpg' };
        return { data: await image.png().toBuffer(), extension: 'png' };
      case 'png':
      case 'gif':
      case 'tiff':
        return { data: await image.png().toBuffer(), extension: 'png' };
    }
  } catch (error) {
    throw fromSharpError(error, family);
  }
}

/** A WebP whose image data is VP8L (lossless) rather than VP8 (lossy). */
function isLosslessWebp(bytes: Buffer): boolean {
  // RIFF header (12 bytes), then chunks: FourCC, little-endian size, data padded to even.
  for (let offset = 12; offset + 8 <= bytes.length; ) {
    const fourcc = bytes.toString('latin1', offset, offset + 4);
    if (fourcc === 'VP8L') return true;
    if (fourcc === 'VP8 ') return false;
    offset += 8 + bytes.readUInt32LE(offset + 4) + (bytes.readUInt32LE(offset + 4) % 2);
  }
  return false;
}
