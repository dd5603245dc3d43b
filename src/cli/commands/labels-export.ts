// `groknet labels export --data DIR --from FIELD --out DATASET.jsonl`: the training set that
// `train --catalog` would use (the same checks, the same split by product), written for the
// trainer's `jsonl` dataset adapter: one line per image with its path (relative to the file),
// label, split and source listing.
import path from 'node:path';
import { GroknetError } from '../../errors.ts';
import { catalogLabels, writeLabelsJsonl } from '../../train/catalog-labels.ts';
import { parse } from '../args.ts';
import { existingCatalogDir } from '../existing-catalog.ts';

const USAGE = 'usage: groknet labels export --data DIR --from category|attributes.NAME --out DATASET.jsonl';

export async function labelsExportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { data: { type: 'string' }, from: { type: 'string' }, out: { type: 'string' } });
  if (positionals.length > 0 || !values.from || !values.out) throw new GroknetError('invalid_argument', USAGE);
  const catalog = await existingCatalogDir(values.data);
  const set = await catalogLabels(catalog, values.from);
  for (const warning of set.warnings) process.stderr.write(`groknet labels export: warning: ${warning}\n`);
  const out = path.resolve(values.out);
  const { lines } = await writeLabelsJsonl(set, out);
  const heldOut = set.rows.filter((r) => r.split === 'val').length;
  process.stdout.write(
    `${JSON.stringify({ out, images: lines, heldOut, labels: set.listingsPerClass, droppedClasses: set.droppedClasses, listings: set.listings, labelledListings: set.labelledListings }, null, 2)}\n`,
  );
  return 0;
}
