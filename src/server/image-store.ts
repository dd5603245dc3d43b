// Uploaded product images on disk: only under `<data>/images`, only under names the server
// generates (content hash + extension), so nothing a client sends ever becomes part of a
// path and the same photo uploaded twice is stored once. Uploads are stored without their
// metadata (see `withoutMetadata`); a deleted product's files are removed once nothing
// references them (`removeUnreferenced`).
import { createHash } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../errors.ts';
import { sniffFormat } from '../image/formats.ts';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from '../image/limits.ts';
import { withoutMetadata } from '../image/without-metadata.ts';
import { writeAtomic } from '../model/cache.ts';

export const CONTENT_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tif: 'image/tiff',
  heic: 'image/heic',
};

/** The only names the image route will serve (gif, tif and heic: files stored before uploads were re-encoded). */
export const STORED_NAME = /^[0-9a-f]{64}\.(jpg|png|webp|gif|tif|heic)$/;

export interface StoredFile {
  name: string;
  path: string;
  /** sha256 of the stored bytes (what reindex and seen-together compare when they re-read the file). */
  contentHash: string;
}

export interface RemovedFiles {
  removed: string[];
  /** Still referenced by a product, or held by an upload in progress. */
  kept: string[];
  failed: Array<{ name: string; error: unknown }>;
}

/** Kept for the modules that import it from here: the re-encoding is src/image's. */
export { withoutMetadata };

export class ImageStore {
  readonly dir: string;
  /** Uploads saved but not yet committed to the catalog, per name: never removed meanwhile. */
  private readonly holds = new Map<string, number>();
  /** Saving and removing one name never interleave. */
  private readonly locks = new Map<string, Promise<void>>();

  constructor(dataDir: string) {
    this.dir = path.join(path.resolve(dataDir), 'images');
  }

  /**
   * Stores an upload (already checked and analysed as an image) without its metadata,
   * atomically and durably; returns the generated name. The name stays held, so a product
   * deleted meanwhile cannot take the file with it, until `release` is called once the
   * product that uses it is committed (or given up).
   */
  async save(bytes: Buffer, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<StoredFile> {
    const sniffed = sniffFormat(bytes);
    if (sniffed.kind !== 'image') throw new GroknetError('not_an_image');
    const clean = await withoutMetadata(bytes, sniffed.family, limits);
    const contentHash = createHash('sha256').update(clean.data).digest('hex');
    const name = `${contentHash}.${clean.extension}`;
    const file = path.join(this.dir, name);
    await this.locked(name, async () => {
      this.holds.set(name, (this.holds.get(name) ?? 0) + 1);
      if (await exists(file)) return;
      try {
        await writeAtomic(file, clean.data);
      } catch (error) {
        this.release({ name });
        throw new GroknetError('store_error', 'the image could not be stored', { cause: error });
      }
    });
    return { name, path: file, contentHash };
  }

  /** Ends the hold `save` took on a file. */
  release(file: Pick<StoredFile, 'name'>): void {
    const count = (this.holds.get(file.name) ?? 0) - 1;
    if (count > 0) this.holds.set(file.name, count);
    else this.holds.delete(file.name);
  }

  /**
   * Removes the stored files among `paths` that no product references any more. Call it
   * after the catalog commit that dropped the references: a crash in between leaves an
   * orphan file, never a product without its file. Paths outside `<data>/images` (listings
   * ingested from a folder) are never touched. A file is referenced when a catalog row has
   * its content hash (the file name), whatever spelling of the data dir the row's path uses.
   * Never throws: failures are returned.
   */
  async removeUnreferenced(paths: readonly string[], isReferenced: (contentHash: string) => Promise<boolean>): Promise<RemovedFiles> {
    const result: RemovedFiles = { removed: [], kept: [], failed: [] };
    const names = new Set(paths.map((p) => this.nameOf(p)).filter((n): n is string => n !== undefined));
    for (const name of names) {
      try {
        await this.locked(name, async () => {
          if (this.holds.has(name) || (await isReferenced(name.slice(0, 64)))) {
            result.kept.push(name);
            return;
          }
          await rm(path.join(this.dir, name), { force: true });
          result.removed.push(name);
        });
      } catch (error) {
        result.failed.push({ name, error });
      }
    }
    return result;
  }

  private async locked<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const mine = previous.then(() => finished);
    this.locks.set(name, mine);
    await previous;
    try {
      return await work();
    } finally {
      done();
      if (this.locks.get(name) === mine) this.locks.delete(name);
    }
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
