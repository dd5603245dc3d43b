// Uploaded product images on disk: only under `<data>/images`, only under names the server
// generates (content hash + extension from the sniffed format), so nothing a client sends
// ever becomes part of a path and the same photo uploaded twice is stored once.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../errors.ts';
import { sniffFormat, type ImageFamily } from '../image/formats.ts';

const EXTENSIONS: Record<ImageFamily, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tif', heif: 'heic' };

export const CONTENT_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tif: 'image/tiff',
  heic: 'image/heic',
};

/** The only names the image route will serve. */
export const STORED_NAME = /^[0-9a-f]{64}\.(jpg|png|webp|gif|tif|heic)$/;

export interface StoredFile {
  name: string;
  path: string;
  contentHash: string;
}

export class ImageStore {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = path.join(path.resolve(dataDir), 'images');
  }

  /** Writes the bytes (already checked to be an image) atomically; returns the generated name. */
  async save(bytes: Buffer): Promise<StoredFile> {
    const sniffed = sniffFormat(bytes);
    if (sniffed.kind !== 'image') throw new GroknetError('not_an_image');
    const contentHash = createHash('sha256').update(bytes).digest('hex');
    const name = `${contentHash}.${EXTENSIONS[sniffed.family]}`;
    const file = path.join(this.dir, name);
    if (await exists(file)) return { name, path: file, contentHash };
    await mkdir(this.dir, { recursive: true });
    const temp = path.join(this.dir, `.upload-${randomBytes(8).toString('hex')}`);
    try {
      await writeFile(temp, bytes, { flag: 'wx', mode: 0o644 });
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true });
      throw new GroknetError('store_error', 'the image could not be stored', { cause: error });
    }
    return { name, path: file, contentHash };
  }

  /** The public name of a stored path, or undefined when the path is not one of ours. */
  nameOf(file: string): string | undefined {
    const resolved = path.resolve(file);
    if (path.dirname(resolved) !== this.dir) return undefined;
    const name = path.basename(resolved);
    return STORED_NAME.test(name) ? name : undefined;
  }

  async has(name: string): Promise<boolean> {
    return ImageStore.isValidName(name) && exists(path.join(this.dir, name));
  }

  /** Checks a requested name; only generated names pass, so `..` or slashes never reach the disk. */
  static isValidName(name: string): boolean {
    return STORED_NAME.test(name);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

export function imageUrl(name: string): string {
  return `/v1/images/${name}`;
}
