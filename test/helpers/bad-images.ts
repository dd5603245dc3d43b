// Hostile and broken inputs, generated in the test run: nothing is read from outside the repo.
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { crc32 } from '../../src/util/crc32.ts';


function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/** A PNG whose header claims width x height; the pixel data is a tiny deflate stream of zeros. */
export function pngClaiming(width: number, height: number, idatBytes = 1024): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(idatBytes))), chunk('IEND', Buffer.alloc(0))]);
}

export async function truncatedJpeg(): Promise<Buffer> {
  const full = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3366cc' } })
    .jpeg()
    .toBuffer();
  return full.subarray(0, Math.floor(full.length / 2));
}

export const TEXT_FILE = Buffer.from('this is not an image, just some text\n');
