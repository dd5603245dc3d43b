// Commands that read a catalog (search, duplicates, seen-together, reindex, shop-the-look,
// pseudolabel) must not start an empty one where none is: they check for its manifest first
// and say how to build one, before any model loads or anything is written.
import path from 'node:path';
import { DEFAULT_DATA_DIR } from '../catalog/index.ts';
import { readManifest } from '../catalog/manifest.ts';
import { GroknetError } from '../errors.ts';

/** The catalog directory `--data` names (default ./data), absolute; file_not_found when it holds no catalog. */
export async function existingCatalogDir(data: string | undefined): Promise<string> {
  const dir = path.resolve(data ?? DEFAULT_DATA_DIR);
  if (!(await readManifest(dir))) {
    throw new GroknetError('file_not_found', `no catalog in ${dir} (build one with: groknet index SOURCE --data ${data ?? DEFAULT_DATA_DIR})`);
  }
  return dir;
}
