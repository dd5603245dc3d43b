// The fuzz corpus: valid base images (generated in every format groknet accepts, plus real
// photos when a datasets folder is given), hand-made hostile files with the outcome they
// must get, and seeded mutations of the bases (bit flips, truncation at every structural
// boundary, corrupted lengths and headers, splices).
import { readdir } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import {
  gifFrames, ihdr, patchExifOrientation, patchJpegSize, PNG_SIGNATURE, pngBomb, pngChunk, regionsOf, rngFrom, tiffClaiming, tinyZip, type Rng,
} from './formats.ts';

export interface FuzzCase {
  id: string;
  /** What was done: 'valid', 'bitflip', 'truncate-boundary', 'bomb', 'svg-remote', ... */
  kind: string;
  /** The format of the bytes before any mutation. */
  family: string;
  bytes: Buffer;
  /** Outcomes this case must get ('ok' or error codes); undefined: any typed outcome. */
  expect?: readonly string[];
}

export interface Base {
  name: string;
  family: string;
  bytes: Buffer;
}

export interface CorpusOptions {
  seed: number;
  /** Total cases wanted (the hostile set is always included). */
  cases: number;
  /** A datasets folder to take real photos from, or undefined. */
  datasets?: string;
  /** How many real photos to use as bases. */
  photos?: number;
  /** Leave out the slow, heavy cases (smoke mode). */
  light?: boolean;
  /** URL an SVG reference points at; the harness serves it and counts requests. */
  canaryUrl: string;
}

/** Deterministic texture: gradients plus noise, so lossy codecs have real data to lose. */
function texture(width: number, height: number, rng: Rng, channels = 3): Buffer {
  const data = Buffer.alloc(width * height * channels);
  const a = rng.int(256);
  const b = rng.int(256);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      data[o] = (x * 255) / width + (rng.int(32) - 16);
      data[o + 1] = (y * 255) / height + a;
      data[o + 2] = ((x ^ y) & 0xff) + b + rng.int(8);
      if (channels === 4) data[o + 3] = 128 + ((x + y) % 128);
    }
  }
  return data;
}

export async function generatedBases(seed: number, light = false): Promise<Base[]> {
  const rng = rngFrom(seed ^ 0x5eed);
  const raw = (w: number, h: number, c = 3) => sharp(texture(w, h, rng, c), { raw: { width: w, height: h, channels: c as 3 | 4 } });
  const W = 160;
  const H = 120;
  const bases: Array<[string, string, () => Promise<Buffer>]> = [
    ['jpeg-baseline', 'jpeg', () => raw(W, H).jpeg({ quality: 85 }).toBuffer()],
    ['jpeg-progressive', 'jpeg', () => raw(W, H).jpeg({ quality: 80, progressive: true }).toBuffer()],
    ['jpeg-444', 'jpeg', () => raw(W, H).jpeg({ quality: 90, chromaSubsampling: '4:4:4' }).toBuffer()],
    ['jpeg-grey', 'jpeg', () => raw(W, H).greyscale().jpeg().toBuffer()],
    ['jpeg-cmyk', 'jpeg', () => raw(W, H).toColourspace('cmyk').jpeg().toBuffer()],
    ['jpeg-exif-6', 'jpeg', () => raw(W, H).jpeg().withMetadata({ orientation: 6 }).toBuffer()],
    ['jpeg-icc', 'jpeg', () => raw(W, H).withIccProfile('p3').jpeg().toBuffer()],
    ['png-rgb', 'png', () => raw(W, H).png().toBuffer()],
    ['png-rgba', 'png', () => raw(W, H, 4).png().toBuffer()],
    ['png-palette', 'png', () => raw(W, H).png({ palette: true, colours: 16 }).toBuffer()],
    ['png-grey', 'png', () => raw(W, H).greyscale().png().toBuffer()],
    ['png-16bit', 'png', () => raw(W, H).toColourspace('rgb16').png().toBuffer()],
    ['png-interlaced', 'png', () => raw(W, H).png({ progressive: true }).toBuffer()],
    ['webp-lossy', 'webp', () => raw(W, H).webp({ quality: 70 }).toBuffer()],
    ['webp-lossless', 'webp', () => raw(W, H).webp({ lossless: true }).toBuffer()],
    ['webp-alpha', 'webp', () => raw(W, H, 4).webp().toBuffer()],
    ['webp-animated', 'webp', () => sharp(texture(32, 32 * 6, rng), { raw: { width: 32, height: 32 * 6, channels: 3, pageHeight: 32 } }).webp().toBuffer()],
    ['gif', 'gif', () => raw(W, H).gif().toBuffer()],
    ['gif-animated', 'gif', () => sharp(texture(32, 32 * 6, rng), { raw: { width: 32, height: 32 * 6, channels: 3, pageHeight: 32 } }).gif().toBuffer()],
    ['tiff-lzw', 'tiff', () => raw(W, H).tiff({ compression: 'lzw' }).toBuffer()],
    ['tiff-16bit', 'tiff', () => raw(W, H).toColourspace('rgb16').tiff().toBuffer()],
    ['tiff-cmyk', 'tiff', () => raw(W, H).toColourspace('cmyk').tiff().toBuffer()],
    ['tiff-jpeg', 'tiff', () => raw(W, H).tiff({ compression: 'jpeg' }).toBuffer()],
    ['avif', 'heif', () => raw(64, 48).avif({ quality: 50, effort: 0 }).toBuffer()],
    ['jpeg-1x1', 'jpeg', () => raw(1, 1).jpeg().toBuffer()],
    ['png-1x1', 'png', () => raw(1, 1).png().toBuffer()],
    ['webp-1x1', 'webp', () => raw(1, 1).webp().toBuffer()],
    ['gif-1x1', 'gif', () => raw(1, 1).gif().toBuffer()],
    ['tiff-1x1', 'tiff', () => raw(1, 1).tiff().toBuffer()],
    ['png-1x5000', 'png', () => raw(1, 5000).png().toBuffer()],
    ['jpeg-5000x1', 'jpeg', () => raw(5000, 1).jpeg().toBuffer()],
  ];
  if (!light) bases.push(['jpeg-large', 'jpeg', () => raw(2400, 1800).jpeg({ quality: 80 }).toBuffer()]);
  const out: Base[] = [];
  for (const [name, family, make] of bases) out.push({ name, family, bytes: await make() });
  return out;
}

/** Real photos from the datasets folder (sorted walk, then a seeded sample). */
export async function photoBases(root: string, count: number, seed: number): Promise<Base[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 6 || found.length > 50_000) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full, depth + 1);
      else if (/\.(jpe?g|png|webp|gif)$/i.test(e.name)) found.push(full);
    }
  };
  await walk(root, 0);
  const rng = rngFrom(seed ^ 0xf0705);
  const chosen = new Set<string>();
  while (chosen.size < Math.min(count, found.length)) chosen.add(rng.pick(found));
  const out: Base[] = [];
  for (const file of [...chosen].sort()) {
    const bytes = await readFile(file);
    const ext = path.extname(file).toLowerCase();
    const family = ext === '.png' ? 'png' : ext === '.webp' ? 'webp' : ext === '.gif' ? 'gif' : 'jpeg';
    out.push({ name: `photo:${path.relative(root, file)}`, family, bytes });
  }
  return out;
}

const TOO_LARGE = ['too_large'];
const OK = ['ok'];

/** Hand-made hostile inputs, each with the outcome it must get. */
export async function hostileCases(bases: readonly Base[], options: CorpusOptions): Promise<FuzzCase[]> {
  const by = (name: string) => bases.find((b) => b.name === name)!.bytes;
  const jpeg = by('jpeg-baseline');
  const png = by('png-rgb');
  const webp = by('webp-lossy');
  const cases: FuzzCase[] = [];
  const add = (id: string, kind: string, family: string, bytes: Buffer, expect?: readonly string[]) => cases.push({ id, kind, family, bytes, expect });

  // Sizes: 1x1 works, giant headers are refused before any pixel buffer exists.
  add('png-65535x65535-header', 'giant-header', 'png', Buffer.concat([PNG_SIGNATURE, ihdr(65535, 65535), pngChunk('IDAT', deflateSync(Buffer.alloc(64))), pngChunk('IEND', Buffer.alloc(0))]), TOO_LARGE);
  add('png-2^31-header', 'giant-header', 'png', Buffer.concat([PNG_SIGNATURE, ihdr(0x7fffffff, 0x7fffffff), pngChunk('IEND', Buffer.alloc(0))]), ['too_large', 'truncated']);
  add('png-0x0-header', 'giant-header', 'png', Buffer.concat([PNG_SIGNATURE, ihdr(0, 0), pngChunk('IEND', Buffer.alloc(0))]), ['truncated', 'not_an_image']);
  add('jpeg-65500x65500-sof', 'giant-header', 'jpeg', patchJpegSize(jpeg, 65500, 65500), TOO_LARGE);
  add('jpeg-65535x1-sof', 'giant-header', 'jpeg', patchJpegSize(jpeg, 65535, 1), ['too_large', 'truncated']);
  add('jpeg-0-height-sof', 'giant-header', 'jpeg', patchJpegSize(jpeg, 160, 0), ['truncated', 'not_an_image']);
  add('tiff-65535x65535', 'giant-header', 'tiff', tiffClaiming(65535, 65535), TOO_LARGE);
  add('tiff-ifd-loop', 'structure', 'tiff', tiffClaiming(16, 16, { loop: true }));
  add('tiff-strip-past-eof', 'structure', 'tiff', tiffClaiming(64, 64, { stripOffset: 0x7ffffff0 }), ['truncated', 'not_an_image']);
  // libnsgif sizes the canvas by the frames, not the logical screen: either answer is safe.
  add('gif-65535x65535-screen', 'giant-header', 'gif', gifFrames(1, 65535, 65535), ['ok', 'too_large']);
  add('gif-frame-65535x65535-one-pixel-of-data', 'giant-header', 'gif', gifFrames(1, 65535, 65535, 1, 65535), ['too_large', 'truncated']);
  add('gif-frame-6000x6000-one-pixel-of-data', 'bomb', 'gif', gifFrames(1, 6000, 6000, 1, 6000), ['ok', 'too_large', 'truncated']);
  {
    // A VP8X extended WebP claiming a 16384x16384 canvas in front of a real VP8 stream.
    const vp8x = Buffer.alloc(18);
    vp8x.write('VP8X', 0, 'latin1');
    vp8x.writeUInt32LE(10, 4);
    vp8x.writeUIntLE(16383, 12, 3);
    vp8x.writeUIntLE(16383, 15, 3);
    const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), vp8x, webp.subarray(12)]);
    const riff = Buffer.alloc(8);
    riff.write('RIFF', 0, 'latin1');
    riff.writeUInt32LE(body.length, 4);
    add('webp-vp8x-16384x16384', 'giant-header', 'webp', Buffer.concat([riff, body]), ['too_large', 'truncated']);
  }
  // Decompression bombs: tiny files, huge canvases.
  add('png-bomb-20000x20000', 'bomb', 'png', pngBomb(20_000, 20_000), TOO_LARGE);
  add('png-bomb-7000x7000', 'bomb', 'png', pngBomb(7000, 7000), TOO_LARGE);
  if (!options.light) {
    // Exactly at the limits: accepted, and must still be decoded within the time bound.
    add('png-bomb-6300x6300-at-limit', 'bomb', 'png', pngBomb(6300, 6300), OK);
    add('gif-6000x6000-frames-x200', 'bomb', 'gif', gifFrames(200, 6000, 6000, 1, 6000), ['ok', 'too_large', 'truncated']);
  }
  {
    const zeros = deflateSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const ztxt = pngChunk('zTXt', Buffer.concat([Buffer.from('Comment\0\0', 'latin1'), zeros]));
    const iccp = pngChunk('iCCP', Buffer.concat([Buffer.from('bomb\0\0', 'latin1'), zeros]));
    const head = png.subarray(0, 33); // signature + IHDR
    add('png-ztxt-64MiB-bomb', 'bomb', 'png', Buffer.concat([head, ztxt, png.subarray(33)]));
    add('png-iccp-64MiB-bomb', 'bomb', 'png', Buffer.concat([head, iccp, png.subarray(33)]));
    const many = Buffer.concat(Array.from({ length: options.light ? 2000 : 50_000 }, (_, i) => pngChunk('tEXt', Buffer.from(`k${i}\0v`, 'latin1'))));
    add('png-many-text-chunks', 'bomb', 'png', Buffer.concat([head, many, png.subarray(33)]));
  }
  // Animated GIFs with thousands of frames: only the first frame is decoded.
  add('gif-5000-frames-1x1', 'frames', 'gif', gifFrames(5000, 64, 64), OK);
  add('gif-2000-frames-32x32', 'frames', 'gif', gifFrames(2000, 32, 32, 32), OK);
  if (!options.light) add('gif-60000-frames', 'frames', 'gif', gifFrames(60_000, 64, 64), OK);
  {
    const pages = options.light ? 200 : 3000;
    add(`webp-${pages}-frames`, 'frames', 'webp', await sharp(texture(16, 16 * pages, rngFrom(pages)), { raw: { width: 16, height: 16 * pages, channels: 3, pageHeight: 16 } }).webp({ effort: 0 }).toBuffer(), OK);
    add(`tiff-${pages}-pages`, 'frames', 'tiff', await sharp(texture(8, 8 * pages, rngFrom(pages + 1)), { raw: { width: 8, height: 8 * pages, channels: 3, pageHeight: 8 } }).tiff().toBuffer(), OK);
  }
  // Colour spaces and depths.
  add('jpeg-cmyk', 'colour', 'jpeg', by('jpeg-cmyk'), OK);
  add('tiff-cmyk', 'colour', 'tiff', by('tiff-cmyk'), OK);
  add('png-16bit', 'colour', 'png', by('png-16bit'), OK);
  add('tiff-16bit', 'colour', 'tiff', by('tiff-16bit'), OK);
  add('png-16bit-grey-alpha', 'colour', 'png', await sharp(texture(40, 30, rngFrom(3), 4), { raw: { width: 40, height: 30, channels: 4 } }).toColourspace('grey16').png().toBuffer(), OK);
  // EXIF orientation, valid and absurd.
  const exif6 = by('jpeg-exif-6');
  for (const value of [0, 9, 255, 0x7fff, 0xffff]) add(`jpeg-exif-orientation-${value}`, 'exif', 'jpeg', patchExifOrientation(exif6, value), ['ok', 'truncated', 'not_an_image']);
  {
    // APP1 Exif segments: an IFD offset far outside the segment, and an IFD claiming 65535 entries.
    const app1 = (tiff: Buffer) => {
      const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
      const head = Buffer.from([0xff, 0xe1, 0, 0]);
      head.writeUInt16BE(body.length + 2, 2);
      return Buffer.concat([jpeg.subarray(0, 2), head, body, jpeg.subarray(2)]);
    };
    add('jpeg-exif-ifd-offset-out-of-range', 'exif', 'jpeg', app1(Buffer.from([0x49, 0x49, 0x2a, 0, 0xf0, 0xff, 0xff, 0x7f])), ['ok', 'truncated', 'not_an_image']);
    add('jpeg-exif-65535-entries', 'exif', 'jpeg', app1(Buffer.from([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0, 0xff, 0xff, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0])), ['ok', 'truncated', 'not_an_image']);
    add('jpeg-exif-self-referencing-ifd', 'exif', 'jpeg', app1(Buffer.from([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0, 1, 0, 0x69, 0x87, 4, 0, 1, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0, 0])), ['ok', 'truncated', 'not_an_image']);
  }
  // Polyglots: the bytes decide, and only image magic reaches the decoder.
  const zip = tinyZip('evil.html', Buffer.from('<script>alert(1)</script>'));
  const html = Buffer.from('<!doctype html><html><body><script>alert(document.cookie)</script></body></html>\n');
  add('polyglot-jpeg+zip', 'polyglot', 'jpeg', Buffer.concat([jpeg, zip]), OK);
  add('polyglot-png+html', 'polyglot', 'png', Buffer.concat([png, html]), OK);
  add('polyglot-gif+jar', 'polyglot', 'gif', Buffer.concat([by('gif'), zip]), OK);
  add('polyglot-html+jpeg', 'polyglot', 'html', Buffer.concat([html, jpeg]), ['unsupported_format']);
  add('polyglot-zip+png', 'polyglot', 'zip', Buffer.concat([zip, png]), ['not_an_image']);
  add('polyglot-pdf+jpeg', 'polyglot', 'pdf', Buffer.concat([Buffer.from('%PDF-1.4\n', 'latin1'), jpeg]), ['unsupported_format']);
  add('polyglot-jpeg-comment-html', 'polyglot', 'jpeg', Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xfe, 0, html.length + 2]), html, jpeg.subarray(2)]), OK);
  add('polyglot-png-text-script', 'polyglot', 'png', Buffer.concat([png.subarray(0, 33), pngChunk('tEXt', Buffer.concat([Buffer.from('Comment\0', 'latin1'), html])), png.subarray(33)]), OK);
  // SVG and other markup: refused by the bytes, never rendered, never fetched.
  const remote = options.canaryUrl;
  const svgs: Record<string, string> = {
    'svg-remote-image': `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64"><image xlink:href="${remote}/image.png" href="${remote}/image2.png" width="64" height="64"/></svg>`,
    'svg-remote-css': `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><style>@import url("${remote}/style.css");</style><rect width="64" height="64" fill="url(${remote}/fill#x)"/></svg>`,
    'svg-xxe-file': `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY net SYSTEM "${remote}/xxe">]><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><text>&xxe;&net;</text></svg>`,
    'svg-xinclude': `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xi="http://www.w3.org/2001/XInclude" width="8" height="8"><xi:include href="${remote}/xi"/></svg>`,
    'svg-whitespace-bom': `\ufeff \n\t <svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><image href="${remote}/bom.png"/></svg>`,
    'html-img': `<html><img src="${remote}/html.png"></html>`,
  };
  for (const [id, text] of Object.entries(svgs)) add(id, 'svg-remote', 'svg', Buffer.from(text, 'utf8'), ['unsupported_format']);
  add('svg-utf16', 'svg-remote', 'svg', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(svgs['svg-remote-image']!, 'utf16le')]), ['unsupported_format']);
  add('svgz-remote', 'svg-remote', 'svg', gzipSync(Buffer.from(svgs['svg-remote-image']!)), ['unsupported_format']);
  add('svg-after-5000-spaces', 'svg-remote', 'svg', Buffer.from(' '.repeat(5000) + svgs['svg-remote-image']!), ['not_an_image', 'unsupported_format']);
  // Other formats and non-images.
  add('empty', 'other', 'none', Buffer.alloc(0), ['empty_file']);
  add('one-byte', 'other', 'none', Buffer.from([0xff]), ['not_an_image']);
  add('jpeg-magic-only', 'other', 'jpeg', Buffer.from([0xff, 0xd8, 0xff]), ['truncated', 'not_an_image']);
  add('png-signature-only', 'other', 'png', PNG_SIGNATURE, ['truncated', 'not_an_image']);
  add('webp-riff-only', 'other', 'webp', Buffer.from('RIFF\x04\0\0\0WEBP', 'latin1'), ['truncated', 'not_an_image']);
  add('gif-header-only', 'other', 'gif', Buffer.from('GIF89a', 'latin1'), ['truncated', 'not_an_image']);
  add('heic-brand-garbage', 'other', 'heif', Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'), Buffer.alloc(64, 7)]), ['truncated', 'unsupported_format', 'not_an_image']);
  add('mp4-video', 'other', 'mp4', Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypmp42\0\0\0\0mp42isom', 'latin1'), Buffer.alloc(64)]), ['unsupported_format']);
  add('bmp', 'other', 'bmp', await bmp(), ['not_an_image']);
  add('psd', 'other', 'psd', Buffer.concat([Buffer.from('8BPS', 'latin1'), Buffer.alloc(64)]), ['unsupported_format']);
  add('jxl', 'other', 'jxl', Buffer.from([0xff, 0x0a, 0xfa, 0x7f, 0, 0, 0, 0]), ['unsupported_format']);
  add('jp2', 'other', 'jp2', Buffer.from([0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a]), ['unsupported_format']);
  add('text', 'other', 'none', Buffer.from('just some text, not an image\n'), ['not_an_image']);
  add('random-4k', 'other', 'none', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff)), ['not_an_image', 'unsupported_format']);
  add('over-byte-limit', 'other', 'jpeg', Buffer.concat([jpeg, Buffer.alloc(20 * 1024 * 1024 + 1 - jpeg.length + 16)]), TOO_LARGE);
  // Header and length corruption with intent.
  add('jpeg-sof-255-components', 'structure', 'jpeg', patchSof(jpeg, (seg) => (seg[9] = 255)), ['truncated', 'not_an_image']);
  add('jpeg-precision-12', 'structure', 'jpeg', patchSof(jpeg, (seg) => (seg[4] = 12)), ['truncated', 'not_an_image', 'unsupported_format', 'ok']);
  add('jpeg-precision-16', 'structure', 'jpeg', patchSof(jpeg, (seg) => (seg[4] = 16)), ['truncated', 'not_an_image', 'unsupported_format']);
  add('png-bit-depth-3', 'structure', 'png', Buffer.concat([PNG_SIGNATURE, ihdr(16, 16, 3, 2), png.subarray(33)]), ['truncated', 'not_an_image']);
  add('png-colour-type-9', 'structure', 'png', Buffer.concat([PNG_SIGNATURE, ihdr(16, 16, 8, 9), png.subarray(33)]), ['truncated', 'not_an_image']);
  add('png-ihdr-bad-crc', 'structure', 'png', (() => {
    const b = Buffer.from(png);
    b.writeUInt32BE(0xdeadbeef, 29);
    return b;
  })(), ['truncated', 'not_an_image', 'ok']);
  add('png-idat-length-2^32-1', 'structure', 'png', Buffer.concat([png.subarray(0, 33), pngChunk('IDAT', Buffer.alloc(16), 0xffffffff), png.subarray(33)]), ['truncated', 'not_an_image']);
  add('webp-riff-size-2^32-1', 'structure', 'webp', (() => {
    const b = Buffer.from(webp);
    b.writeUInt32LE(0xffffffff, 4);
    return b;
  })(), ['ok', 'truncated', 'not_an_image']);
  add('webp-vp8-size-2^31', 'structure', 'webp', (() => {
    const b = Buffer.from(webp);
    b.writeUInt32LE(0x80000000, 16);
    return b;
  })(), ['truncated', 'not_an_image']);
  return cases;
}

function patchSof(jpeg: Buffer, edit: (segment: Buffer) => void): Buffer {
  const out = Buffer.from(jpeg);
  for (const r of regionsOf(out)) {
    const marker = out[r.offset + 1]!;
    if (marker >= 0xc0 && marker <= 0xc2) {
      edit(out.subarray(r.offset));
      break;
    }
  }
  return out;
}

async function bmp(): Promise<Buffer> {
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(54 + 16 * 3, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(4, 18);
  header.writeInt32LE(4, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  return Buffer.concat([header, Buffer.alloc(48, 0x80)]);
}

const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

/** One seeded mutation of a base; returns the kind and the bytes. */
export function mutate(base: Base, rng: Rng, others: readonly Base[]): { kind: string; bytes: Buffer } {
  const b = base.bytes;
  const regions = regionsOf(b);
  const op = rng.int(10);
  switch (op) {
    case 0:
    case 1: {
      const out = Buffer.from(b);
      const flips = rng.pick([1, 1, 2, 4, 8, 32]);
      // Half the time the flips land in the first KiB, where the headers are.
      const span = rng.next() < 0.5 ? Math.min(1024, out.length) : out.length;
      for (let k = 0; k < flips; k++) {
        const at = rng.int(span);
        out[at] = out[at]! ^ (1 << rng.int(8));
      }
      return { kind: `bitflip-${flips}`, bytes: out };
    }
    case 2: {
      // Truncation at a structural boundary (or one byte either side of it).
      if (regions.length === 0) return { kind: 'truncate-fraction', bytes: b.subarray(0, Math.max(1, Math.floor(b.length * rng.next()))) };
      const r = rng.pick(regions);
      const at = Math.max(1, Math.min(b.length - 1, r.offset + rng.pick([-1, 0, 0, 1, 2, 4, 8])));
      return { kind: `truncate-at-${r.name}`, bytes: b.subarray(0, at) };
    }
    case 3: {
      const withLength = regions.filter((r) => r.lengthAt !== undefined);
      if (withLength.length === 0) return { kind: 'truncate-fraction', bytes: b.subarray(0, Math.max(1, Math.floor(b.length * rng.next()))) };
      const r = rng.pick(withLength);
      const out = Buffer.from(b);
      const at = r.lengthAt!;
      if (r.lengthBytes === 2) {
        const current = out.readUInt16BE(at);
        out.writeUInt16BE(rng.pick([0, 1, 2, 0xffff, Math.max(0, current - 1), Math.min(0xffff, current + 1), rng.int(0x10000)]), at);
      } else {
        const current = r.littleEndian ? out.readUInt32LE(at) : out.readUInt32BE(at);
        const value = rng.pick([...INTERESTING_32, Math.max(0, current - 1), current + 1, rng.int(0x100000000)]) >>> 0;
        if (r.littleEndian) out.writeUInt32LE(value, at);
        else out.writeUInt32BE(value, at);
      }
      return { kind: `length-${r.name}`, bytes: out };
    }
    case 4: {
      // Header bytes after the magic overwritten with interesting values.
      const out = Buffer.from(b);
      const n = 1 + rng.int(6);
      for (let k = 0; k < n; k++) out[Math.min(out.length - 1, 4 + rng.int(Math.min(60, out.length)))] = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe]);
      return { kind: 'header-bytes', bytes: out };
    }
    case 5: {
      const at = rng.int(b.length);
      const junk = Buffer.from(Array.from({ length: 1 + rng.int(64) }, () => rng.int(256)));
      return { kind: 'insert', bytes: Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]) };
    }
    case 6: {
      const at = rng.int(b.length);
      const len = 1 + rng.int(Math.max(1, Math.floor(b.length / 8)));
      return { kind: 'delete-span', bytes: Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + len))]) };
    }
    case 7: {
      // A region repeated many times: duplicate chunks / markers / frames.
      if (regions.length < 2) return { kind: 'truncate-fraction', bytes: b.subarray(0, Math.max(1, Math.floor(b.length * rng.next()))) };
      const k = 1 + rng.int(regions.length - 1);
      const start = regions[k - 1]!.offset;
      const end = regions[k]!.offset;
      const times = rng.pick([2, 16, 200]);
      const piece = b.subarray(start, end);
      return { kind: `repeat-${regions[k - 1]!.name}x${times}`, bytes: Buffer.concat([b.subarray(0, end), ...Array(times).fill(piece), b.subarray(end)]) };
    }
    case 8: {
      const other = rng.pick(others);
      const cut = Math.floor(b.length * rng.next());
      const from = Math.floor(other.bytes.length * rng.next());
      return { kind: 'splice', bytes: Buffer.concat([b.subarray(0, Math.max(4, cut)), other.bytes.subarray(from)]) };
    }
    default: {
      const out = Buffer.from(b);
      const start = rng.int(out.length);
      const len = Math.min(out.length - start, 1 + rng.int(256));
      out.fill(rng.pick([0x00, 0xff]), start, start + len);
      return { kind: 'fill-span', bytes: out };
    }
  }
}

/** Every truncation at a structural boundary of one base: exhaustive, not sampled. */
export function boundaryTruncations(base: Base): FuzzCase[] {
  return regionsOf(base.bytes)
    .filter((r) => r.offset > 0)
    .map((r, k) => ({ id: `${base.name}/cut-${k}-${r.name}@${r.offset}`, kind: 'truncate-boundary', family: base.family, bytes: base.bytes.subarray(0, r.offset) }));
}

export async function buildCorpus(options: CorpusOptions): Promise<{ cases: FuzzCase[]; bases: Base[]; photos: number }> {
  const generated = await generatedBases(options.seed, options.light);
  const photos = options.datasets ? await photoBases(options.datasets, options.photos ?? 40, options.seed) : [];
  const bases = [...generated, ...photos];
  const cases: FuzzCase[] = [];
  for (const base of bases) cases.push({ id: `${base.name}/valid`, kind: 'valid', family: base.family, bytes: base.bytes, expect: base.name === 'jpeg-large' || !base.name.startsWith('photo:') ? OK : undefined });
  cases.push(...(await hostileCases(generated, options)));
  // Exhaustive boundary truncations for one base per structured format (more in full runs).
  const exhaustive = options.light ? ['jpeg-progressive', 'png-rgb'] : ['jpeg-baseline', 'jpeg-progressive', 'png-rgb', 'png-interlaced', 'webp-lossy', 'webp-alpha', 'gif-animated'];
  for (const name of exhaustive) cases.push(...boundaryTruncations(generated.find((b) => b.name === name)!));
  if (!options.light && photos.length > 0) cases.push(...boundaryTruncations(photos[0]!));
  const rng = rngFrom(options.seed);
  let n = 0;
  // Mutants of the light bases; the 2400 px one only rarely, to keep runs short.
  const pool = bases.filter((b) => b.name !== 'jpeg-large' && b.bytes.length < 3_000_000);
  while (cases.length < options.cases) {
    const base = rng.pick(pool);
    const { kind, bytes } = mutate(base, rng, pool);
    cases.push({ id: `${base.name}/m${n++}-${kind}`, kind: kind.replace(/-.*$/, ''), family: base.family, bytes });
  }
  return { cases, bases, photos: photos.length };
}
