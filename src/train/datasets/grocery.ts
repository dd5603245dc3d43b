// Adapter for the Grocery Store dataset (Klasson et al.): train.txt / val.txt with
// "path, fine_id, coarse_id", classes.csv with names and each product's catalog image.
// A photo and its product's catalog image form an exact-product pair.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../../errors.ts';
import type { LabelledDataset, Sample } from './types.ts';

export interface GroceryClass {
  fine: string;
  fineId: number;
  coarse: string;
  coarseId: number;
  iconicImage: string;
  description: string;
}

export async function readGroceryClasses(root: string): Promise<GroceryClass[]> {
  const text = await readFile(path.join(root, 'classes.csv'), 'utf8').catch(() => {
    throw new GroknetError('file_not_found', `no classes.csv in ${root}`);
  });
  const rows = text.split(/\r?\n/).slice(1).filter((l) => l.trim() !== '');
  return rows.map((row, i) => {
    const [fine, fineId, coarse, coarseId, iconic, description] = row.split(',').map((c) => c.trim());
    if (!fine || !coarse || !iconic || !description || Number.isNaN(Number(fineId)) || Number.isNaN(Number(coarseId))) {
      throw new GroknetError('invalid_labels', `classes.csv line ${i + 2} is malformed`);
    }
    return {
      fine,
      fineId: Number(fineId),
      coarse,
      coarseId: Number(coarseId),
      iconicImage: path.join(root, iconic),
      description: path.join(root, description),
    };
  });
}

export async function loadGrocery(root: string): Promise<LabelledDataset & { classes: GroceryClass[] }> {
  const classes = await readGroceryClasses(root);
  const fineLabels = classes.map((c) => c.fine);
  const coarseLabels: string[] = [];
  for (const c of classes) coarseLabels[c.coarseId] = c.coarse;
  if (coarseLabels.some((l) => l === undefined)) throw new GroknetError('invalid_labels', 'coarse class ids are not contiguous');

  const samples: Sample[] = [];
  for (const split of ['train', 'val'] as const) {
    const text = await readFile(path.join(root, `${split}.txt`), 'utf8');
    for (const [i, line] of text.split(/\r?\n/).entries()) {
      if (line.trim() === '') continue;
      const [file, fine, coarse] = line.split(',').map((c) => c.trim());
      const fineId = Number(fine);
      const coarseId = Number(coarse);
      if (!file || !classes[fineId] || coarseLabels[coarseId] === undefined) {
        throw new GroknetError('invalid_labels', `${split}.txt line ${i + 1} is malformed`);
      }
      samples.push({
        path: path.join(root, file),
        dataset: 'grocery',
        single: { grocery_fine: fineId, grocery_coarse: coarseId },
        productId: `grocery:${fineId}`,
        split,
      });
    }
  }
  // Catalog images: labelled like any photo of their product, used for training and as the retrieval gallery.
  for (const c of classes) {
    samples.push({
      path: c.iconicImage,
      dataset: 'grocery',
      single: { grocery_fine: c.fineId, grocery_coarse: c.coarseId },
      productId: `grocery:${c.fineId}`,
      catalogImage: true,
      split: 'train',
    });
  }
  return { name: 'grocery', tasks: { grocery_fine: fineLabels, grocery_coarse: coarseLabels as string[] }, samples, classes };
}
