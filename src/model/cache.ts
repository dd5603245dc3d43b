// Where converted and composed graphs live: outside the repo, per user, written
// atomically (temp file + rename) so a killed conversion never leaves a file that
// a later run would trust.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export function cacheDir(): string {
  if (process.env.GROKNET_CACHE) return path.resolve(process.env.GROKNET_CACHE);
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'groknet');
}

export function cacheKey(...parts: readonly (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(part);
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 24);
}

/** Returns the cached bytes, or builds, stores and returns them. */
export async function cached(name: string, build: () => Promise<Uint8Array> | Uint8Array): Promise<{ path: string; bytes: Uint8Array; built: boolean }> {
  const file = path.join(cacheDir(), name);
  try {
    return { path: file, bytes: new Uint8Array(await readFile(file)), built: false };
  } catch {
    // not cached yet
  }
  const bytes = await build();
  await writeAtomic(file, bytes);
  return { path: file, bytes, built: true };
}

export async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(temp, data);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
