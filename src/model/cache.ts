// Where converted and composed graphs live: outside the repo, per user, written
// atomically (temp file + fsync + rename + fsync of the folder) so neither a killed
// conversion nor a power loss leaves a file that a later run would trust. Temp files of
// writers that died (`NAME.tmp-<pid>-<hex>`) are swept away when a folder is first
// opened or written by a process.
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GroknetError } from '../errors.ts';

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
  await sweepOnce(path.dirname(file));
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
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  await sweepOnce(dir);
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writing.add(path.resolve(temp));
  try {
    // 'wx': a fresh file of our own, never one planted at that name.
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(data);
      // On disk before the rename: otherwise a power loss can leave the new name on an
      // empty or partly written file (the rename is journalled, the data may not be).
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new GroknetError('disk_full', `writing ${file}`, { cause: error });
    throw error;
  } finally {
    writing.delete(path.resolve(temp));
  }
  await syncDir(dir);
}

/** Temp files this process is writing now (its own pid on a file it is not writing is a previous run's). */
const writing = new Set<string>();

/** Makes a rename in `dir` durable. Not every platform can open a folder (Windows cannot): best effort. */
async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // EISDIR/EPERM on Windows, EINVAL on some file systems: the rename stands either way.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Temp files are `NAME.tmp-<pid>-<8 hex>`; nothing else in a folder is ever touched by the sweep. */
const TEMP_NAME = /^.+\.tmp-(\d{1,10})-[0-9a-f]{8}$/;

/** A temp file younger than this is left alone whoever wrote it. */
export const STALE_TEMP_AGE_MS = 60 * 60 * 1000;

/**
 * Whether the writer of temp file `file`, process `pid`, is still at work. EPERM means the
 * pid exists under another user. Our own pid counts only for files we are writing: in a
 * container every run may get the same pid, so a killed run's file can carry ours. A pid of
 * another machine or container (a shared cache folder) looks dead here, which is why the
 * sweep also requires the file to be old.
 */
function writerAlive(file: string, pid: number): boolean {
  if (pid === process.pid) return writing.has(path.resolve(file));
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes the temp files in `dir` left by killed writers: named by `writeAtomic`, older
 * than `maxAgeMs` (a writer still at work keeps touching its file; one that died stopped),
 * and of a pid that is not running. A temp file a live process is writing is never removed:
 * its pid is alive, and if the pid is not visible from here (another container) the file is
 * fresh. Best effort: returns the names removed, never throws.
 */
export async function removeStaleTemps(dir: string, options: { maxAgeMs?: number; now?: number } = {}): Promise<string[]> {
  const maxAgeMs = options.maxAgeMs ?? STALE_TEMP_AGE_MS;
  const now = options.now ?? Date.now();
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    const file = path.join(dir, name);
    if (!match || writerAlive(file, Number(match[1]))) continue;
    try {
      const info = await lstat(file);
      if (!info.isFile() || now - info.mtimeMs < maxAgeMs) continue;
      await rm(file, { force: true });
      removed.push(name);
    } catch {
      // Gone meanwhile (another process swept it) or not ours to remove: leave it.
    }
  }
  return removed;
}

// Each folder is swept once per process: the first open or write pays one readdir.
const swept = new Map<string, Promise<unknown>>();

function sweepOnce(dir: string): Promise<unknown> {
  const key = path.resolve(dir);
  let sweep = swept.get(key);
  if (!sweep) {
    sweep = removeStaleTemps(key);
    swept.set(key, sweep);
  }
  return sweep;
}
