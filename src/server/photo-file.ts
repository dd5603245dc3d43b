// A photo file on disk, opened to be served: only a regular file whose first bytes are an
// image format groknet reads (src/image/formats.ts), whatever its name says. Checked and
// streamed through one file descriptor, so a file swapped between the check and the read
// cannot be served in its place.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { sniffFormat } from '../image/formats.ts';

export interface PhotoFile {
  /** image/jpeg, image/png ... from the bytes. */
  type: string;
  size: number;
  /** Changes when the file does (size, modification time, inode). */
  etag: string;
  /** The whole file; closes it at the end. */
  stream(): Readable;
  close(): Promise<void>;
}

const TYPES = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', tiff: 'image/tiff' } as const;
const AVIF_BRANDS = new Set(['avif', 'avis']);

function contentType(head: Buffer): string | undefined {
  const sniffed = sniffFormat(head);
  if (sniffed.kind !== 'image') return undefined;
  if (sniffed.family !== 'heif') return TYPES[sniffed.family];
  return AVIF_BRANDS.has(head.toString('latin1', 8, 12)) ? 'image/avif' : 'image/heic';
}

/** The photo at `file` (an absolute path), or undefined when it is gone, not a regular file or not an image. */
export async function openPhoto(file: string): Promise<PhotoFile | undefined> {
  if (!path.isAbsolute(file)) return undefined;
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO put in the photo's place must not hang the request (no effect on files).
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.size === 0) throw new Error('not a regular file');
    const head = Buffer.alloc(Math.min(64, info.size));
    await handle.read(head, 0, head.length, 0);
    const type = contentType(head);
    if (!type) throw new Error('not an image');
    return {
      type,
      size: info.size,
      etag: `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}-${info.ino.toString(16)}"`,
      // Bounded by the size announced in content-length, should the file grow meanwhile.
      stream: () => handle.createReadStream({ start: 0, end: info.size - 1, autoClose: true }),
      close: () => handle.close(),
    };
  } catch {
    await handle.close();
    return undefined;
  }
}
