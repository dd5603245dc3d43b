// Adapter for the clothing dataset (alexeygrigorev/clothing-dataset): labels.csv with
// image,label,kids,sender_id. Validation is a stable 15% hash split of image names.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../../errors.ts';
import { hashSplit } from './split.ts';
import type { LabelledDataset, Sample } from './types.ts';

export const CLOTHING_LABELS = [
  'T-Shirt', 'Pants', 'Longsleeve', 'Shoes', 'Shirt', 'Dress', 'Shorts', 'Outwear', 'Hat',
  'Skirt', 'Polo', 'Undershirt', 'Blazer', 'Hoodie', 'Body', 'Other', 'Top', 'Blouse',
] as const;

export async function loadClothing(root: string, valFraction = 0.15): Promise<LabelledDataset> {
  const text = await readFile(path.join(root, 'labels.csv'), 'utf8').catch(() => {
    throw new GroknetError('file_not_found', `no labels.csv in ${root}`);
  });
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift()?.split(',') ?? [];
  const imageCol = header.indexOf('image');
  const labelCol = header.indexOf('label');
  if (imageCol < 0 || labelCol < 0) throw new GroknetError('invalid_labels', 'labels.csv needs image and label columns');
  const labels: string[] = [...CLOTHING_LABELS];
  const samples: Sample[] = [];
  lines.forEach((line, i) => {
    const cols = line.split(',');
    const image = cols[imageCol]?.trim();
    const label = cols[labelCol]?.trim();
    const index = labels.indexOf(label ?? '');
    if (!image || index < 0) throw new GroknetError('invalid_labels', `labels.csv line ${i + 2}: unknown label '${label ?? ''}'`);
    samples.push({ path: path.join(root, image), dataset: 'clothing', single: { clothing: index }, split: hashSplit(image, valFraction) });
  });
  return { name: 'clothing', tasks: { clothing: labels }, samples };
}
