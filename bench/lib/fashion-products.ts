// The fashion-products dataset's labels.csv as the benches read it: one row per photo with
// its absolute path and the catalogue's fields by name, in a fixed hash order that mixes the
// catalogue's runs of similar ids. Exits with a clear message when the dataset is absent.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCsv } from '../../src/catalog/csv.ts';
import { sha256 } from '../../src/catalog/hash.ts';
import { REPO } from '../../scripts/reliability/lib/common.ts';

export interface FashionRow {
  id: string;
  /** Absolute path of the photo. */
  file: string;
  /** The catalogue's fields by column name (gender, baseColour, articleType, title, ...). */
  fields: Record<string, string>;
}

/** `datasets`: the folder holding fashion-products (relative to the repository, as --datasets is). */
export async function readFashionProducts(datasets: string): Promise<FashionRow[]> {
  const dataset = path.join(path.resolve(REPO, datasets), 'fashion-products');
  if (!existsSync(path.join(dataset, 'labels.csv'))) {
    console.error(`no fashion-products dataset at ${dataset} (this bench needs it; --datasets DIR)`);
    process.exit(2);
  }
  const [head, ...records] = parseCsv(await readFile(path.join(dataset, 'labels.csv'), 'utf8'));
  const names = head!.fields;
  return records
    .map((record) => {
      const fields = Object.fromEntries(names.map((name, i) => [name, record.fields[i] ?? '']));
      return { id: fields.id!, file: path.join(dataset, fields.file!), fields };
    })
    .sort((a, b) => sha256(a.id).localeCompare(sha256(b.id)));
}
