// Byte-level helpers for the fuzzer: a seeded PRNG, PNG chunks with real CRCs, and the
// structural boundaries (JPEG markers, PNG/WebP chunks, GIF blocks) where truncation and
// length corruption hurt decoders most.
import { deflateSync } from 'node:zlib';
import { crc32 } from '../../../src/util/crc32.ts';
import { rng } from '../../../src/util/random.ts';

/** mulberry32 (src/util/random.ts): every case of a run follows from `--seed`. */
export const prng = rng;

export interface Rng {
  next(): number;
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
}

export function rngFrom(seed: number): Rng {
  const next = prng(seed);
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

export { crc32 };

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk with a correct CRC (so only what we meant to break is broken). */
export function pngChunk(type: string, data: Buffer, lengthOverride?: number): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(lengthOverride ?? data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export function ihdr(width: number, height: number, bitDepth = 8, colourType = 2, interlace = 0): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width >>> 0, 0);
  data.writeUInt32BE(height >>> 0, 4);
  data[8] = bitDepth;
  data[9] = colourType;
  data[12] = interlace;
  return pngChunk('IHDR', data);
}

/** A PNG of width x height 1-bit grey whose rows are all zero: deflate squeezes it ~1000:1. */
export function pngBomb(width: number, height: number): Buffer {
  const rowBytes = 1 + Math.ceil(width / 8);
  const idat = deflateSync(Buffer.alloc(rowBytes * height), { level: 9 });
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, 1, 0), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

export interface Region {
  /** Where the structure starts in the file. */
  offset: number;
  /** Offset of its length field, when it has one, and the field's width in bytes. */
  lengthAt?: number;
  lengthBytes?: 2 | 4;
  littleEndian?: boolean;
  name: string;
}

/** JPEG segments (markers) up to EOI, including markers inside entropy-coded data. */
export function jpegRegions(b: Buffer): Region[] {
  const out: Region[] = [];
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return out;
  out.push({ offset: 0, name: 'SOI' });
  let i = 2;
  while (i + 3 < b.length) {
    if (b[i] !== 0xff) return out;
    let m = i + 1;
    while (m < b.length && b[m] === 0xff) m++; // fill bytes
    const marker = b[m]!;
    const at = m - 1;
    if (marker === 0xd9) {
      out.push({ offset: at, name: 'EOI' });
      return out;
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      out.push({ offset: at, name: `RST${marker & 7}` });
      i = m + 1;
      continue;
    }
    const length = b.readUInt16BE(m + 1);
    out.push({ offset: at, lengthAt: m + 1, lengthBytes: 2, name: `FF${marker.toString(16).toUpperCase()}` });
    i = m + 1 + length;
    if (marker === 0xda) {
      // Entropy-coded data: the next marker is an FF not followed by 00 or a restart marker.
      while (i + 1 < b.length) {
        if (b[i] === 0xff && b[i + 1] !== 0x00 && !(b[i + 1]! >= 0xd0 && b[i + 1]! <= 0xd7)) break;
        if (b[i] === 0xff && b[i + 1]! >= 0xd0 && b[i + 1]! <= 0xd7) out.push({ offset: i, name: `RST${b[i + 1]! & 7}` });
        i++;
      }
    }
  }
  return out;
}

export function pngRegions(b: Buffer): Region[] {
  const out: Region[] = [];
  if (!b.subarray(0, 8).equals(PNG_SIGNATURE)) return out;
  let i = 8;
  while (i + 8 <= b.length) {
    const length = b.readUInt32BE(i);
    out.push({ offset: i, lengthAt: i, lengthBytes: 4, name: b.toString('latin1', i + 4, i + 8) });
    i += 12 + length;
  }
  return out;
}

/** RIFF chunks of a WebP file (VP8, VP8L, VP8X, ALPH, ANIM, ANMF, ICCP, EXIF...). */
export function webpRegions(b: Buffer): Region[] {
  const out: Region[] = [];
  if (b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WEBP') return out;
  out.push({ offset: 0, lengthAt: 4, lengthBytes: 4, littleEndian: true, name: 'RIFF' });
  let i = 12;
  while (i + 8 <= b.length) {
    const size = b.readUInt32LE(i + 4);
    out.push({ offset: i, lengthAt: i + 4, lengthBytes: 4, littleEndian: true, name: b.toString('latin1', i, i + 4) });
    i += 8 + size + (size & 1);
  }
  return out;
}

/** GIF blocks: header, screen descriptor, extensions, image descriptors, trailer. */
export function gifRegions(b: Buffer): Region[] {
  const out: Region[] = [];
  if (!/^GIF8[79]a$/.test(b.toString('latin1', 0, 6)) || b.length < 13) return out;
  out.push({ offset: 0, name: 'header' }, { offset: 6, name: 'screen' });
  let i = 13;
  if (b[10]! & 0x80) i += 3 * (1 << ((b[10]! & 7) + 1));
  const subBlocks = (j: number): number => {
    while (j < b.length && b[j] !== 0) j += b[j]! + 1;
    return j + 1;
  };
  while (i < b.length) {
    const kind = b[i];
    if (kind === 0x21) {
      out.push({ offset: i, name: `ext${(b[i + 1] ?? 0).toString(16)}` });
      i = subBlocks(i + 2);
    } else if (kind === 0x2c) {
      out.push({ offset: i, name: 'image' });
      let j = i + 10;
      const packed = b[i + 9] ?? 0;
      if (packed & 0x80) j += 3 * (1 << ((packed & 7) + 1));
      out.push({ offset: j, name: 'lzw' });
      i = subBlocks(j + 1);
    } else if (kind === 0x3b) {
      out.push({ offset: i, name: 'trailer' });
      break;
    } else break;
  }
  return out;
}

export function regionsOf(b: Buffer): Region[] {
  if (b[0] === 0xff && b[1] === 0xd8) return jpegRegions(b);
  if (b[0] === 0x89 && b[1] === 0x50) return pngRegions(b);
  if (b.toString('latin1', 0, 4) === 'RIFF') return webpRegions(b);
  if (b.toString('latin1', 0, 3) === 'GIF') return gifRegions(b);
  return [];
}

/**
 * A GIF of `frames` frameSide x frameSide frames on a width x height logical screen, written
 * by hand. `claimedSide` makes each frame's descriptor claim more pixels than its data holds. */
export function gifFrames(frames: number, width = 64, height = 64, frameSide = 1, claimedSide = frameSide): Buffer {
  const header = Buffer.from('GIF89a', 'latin1');
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  screen[4] = 0x80; // global colour table, 2 entries
  const palette = Buffer.from([255, 0, 0, 0, 0, 255]);
  const loop = Buffer.from([0x21, 0xff, 0x0b, ...Buffer.from('NETSCAPE2.0', 'latin1'), 0x03, 0x01, 0x00, 0x00, 0x00]);
  // A frameSide x frameSide frame of colour 0 with minimum code size 2, encoded as literal codes
  // with a clear code before the table grows past 3 bits.
  const frame = (): Buffer => {
    const gce = Buffer.from([0x21, 0xf9, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00]);
    const desc = Buffer.alloc(10);
    desc[0] = 0x2c;
    desc.writeUInt16LE(claimedSide, 5);
    desc.writeUInt16LE(claimedSide, 7);
    const codes: number[] = [];
    const pixels = frameSide * frameSide;
    for (let p = 0; p < pixels; p++) {
      if (p % 2 === 0) codes.push(4); // clear keeps the code size at 3 bits
      codes.push(0);
    }
    codes.push(5); // end of information
    const bytes: number[] = [];
    let acc = 0;
    let bits = 0;
    for (const code of codes) {
      acc |= code << bits;
      bits += 3;
      while (bits >= 8) {
        bytes.push(acc & 0xff);
        acc >>>= 8;
        bits -= 8;
      }
    }
    if (bits > 0) bytes.push(acc & 0xff);
    const blocks: number[] = [0x02];
    for (let k = 0; k < bytes.length; k += 255) {
      const part = bytes.slice(k, k + 255);
      blocks.push(part.length, ...part);
    }
    blocks.push(0);
    return Buffer.concat([gce, desc, Buffer.from(blocks)]);
  };
  const one = frame();
  const body = Buffer.alloc(one.length * frames);
  for (let f = 0; f < frames; f++) one.copy(body, f * one.length);
  return Buffer.concat([header, screen, palette, loop, body, Buffer.from([0x3b])]);
}

/** A little-endian baseline TIFF header claiming width x height with one tiny strip. */
export function tiffClaiming(width: number, height: number, options: { loop?: boolean; stripOffset?: number } = {}): Buffer {
  const entries: Array<[number, number, number, number]> = [
    // tag, type (3 short, 4 long), count, value
    [256, 4, 1, width],
    [257, 4, 1, height],
    [258, 3, 1, 8],
    [259, 3, 1, 1],
    [262, 3, 1, 1],
    [273, 4, 1, options.stripOffset ?? 0],
    [277, 3, 1, 1],
    [278, 4, 1, height],
    [279, 4, 1, 16],
  ];
  const ifdOffset = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  const dataOffset = ifdOffset + ifdSize;
  const out = Buffer.alloc(dataOffset + 16);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(ifdOffset, 4);
  out.writeUInt16LE(entries.length, ifdOffset);
  entries.forEach(([tag, type, count, value], k) => {
    const at = ifdOffset + 2 + k * 12;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(count, at + 4);
    const v = tag === 273 && options.stripOffset === undefined ? dataOffset : value;
    if (type === 3) out.writeUInt16LE(v, at + 8);
    else out.writeUInt32LE(v >>> 0, at + 8);
  });
  // Next IFD: 0, or the same IFD again (a loop a naive reader would follow forever).
  out.writeUInt32LE(options.loop ? ifdOffset : 0, ifdOffset + 2 + entries.length * 12);
  return out;
}

/** Replaces the EXIF Orientation value (tag 0x0112) wherever it appears. */
export function patchExifOrientation(jpeg: Buffer, value: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 0; i + 12 <= out.length && i < 65536; i++) {
    if (out[i] === 0x12 && out[i + 1] === 0x01 && out[i + 2] === 0x03 && out[i + 3] === 0x00) out.writeUInt16LE(value & 0xffff, i + 8); // II
    else if (out[i] === 0x01 && out[i + 1] === 0x12 && out[i + 2] === 0x00 && out[i + 3] === 0x03) out.writeUInt16BE(value & 0xffff, i + 8); // MM
  }
  return out;
}

/** Sets the size in a JPEG's first SOFn segment. */
export function patchJpegSize(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (const r of jpegRegions(out)) {
    const marker = out[r.offset + 1]!;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      out.writeUInt16BE(height & 0xffff, r.offset + 5);
      out.writeUInt16BE(width & 0xffff, r.offset + 7);
      break;
    }
  }
  return out;
}

/** A minimal ZIP archive (one stored file), for polyglots. */
export function tinyZip(name: string, content: Buffer): Buffer {
  const fileName = Buffer.from(name, 'latin1');
  const crc = crc32(content);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(content.length, 18);
  local.writeUInt32LE(content.length, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(content.length, 20);
  central.writeUInt32LE(content.length, 24);
  central.writeUInt16LE(fileName.length, 28);
  const localSize = local.length + fileName.length + content.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fileName.length, 12);
  end.writeUInt32LE(localSize, 16);
  return Buffer.concat([local, fileName, content, central, fileName, end]);
}
