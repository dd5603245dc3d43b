// catalog.json: which LanceDB table readers should use. Reindex writes a whole new table and
// then swaps this pointer with an atomic rename, so a reader sees either the old catalog or
// the new one, never a mixture of two models' embeddings.

import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { GroknetError } from '../errors.ts';

export const MANIFEST_FILE = 'catalog.json';

const ManifestSchema = z.object({
  format: z.literal(1),
  table: z.string().regex(/^images_\d+$/),
  generation: z.number().int().nonnegative(),
  embeddingDim: z.number().int().positive(),
  /** Kept one generation, so readers still holding it finish their queries. */
  previousTable: z.string().regex(/^images_\d+$/).optional(),
});

export type Manifest = z.infer<typeof ManifestSchema>;

export function tableName(generation: number): string {
  return `images_${generation}`;
}

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new GroknetError('store_error', 'cannot read catalog.json', { cause: error });
  }
  const parsed = ManifestSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new GroknetError('store_error', 'catalog.json is not a groknet catalog manifest');
  return parsed.data;
}

/** Write to a temp file, fsync, rename: a crash leaves either the old or the new file. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const target = join(dir, MANIFEST_FILE);
  const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(JSON.stringify(manifest, null, 2));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw new GroknetError('store_error', 'cannot write catalog.json', { cause: error });
  }
}

/** Cheap change detector: rename gives the file a new inode. */
export async function manifestStamp(dir: string): Promise<string> {
  try {
    const s = await stat(join(dir, MANIFEST_FILE));
    return `${s.ino}:${s.mtimeMs}:${s.size}`;
  } catch {
    return 'missing';
  }
}
