// Reading image files for analysis, with the checks that give each failure a clear code.
// Decoding is the analyzer's job; this only guarantees bytes worth handing over.

import { readFile, stat } from 'node:fs/promises';
import { fromFsError, GroknetError } from '../errors.ts';
import { sha256 } from './hash.ts';

/** Larger files are refused before they are read into memory. */
export const MAX_IMAGE_BYTES = 50 * 1024 * 1024;

export interface ImageBytes {
  path: string;
  bytes: Buffer;
  contentHash: string;
}

export async function readImageFile(path: string, maxBytes = MAX_IMAGE_BYTES): Promise<ImageBytes> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new GroknetError('file_not_found', path);
    size = info.size;
  } catch (error) {
    throw fromFsError(error, path);
  }
  if (size === 0) throw new GroknetError('empty_file', path);
  if (size > maxBytes) throw new GroknetError('too_large', `${path} (${size} bytes)`);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw fromFsError(error, path);
  }
  return { path, bytes, contentHash: sha256(bytes) };
}
