// Adapter for Clothing Co-Parsing (bearpaw/clothing-co-parsing): annotations.jsonl with
// photo, image-level tags and (for some photos) a pixel mask. The garment_tags head
// learns the tags without null, skin and hair, which are not things one sells.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../../errors.ts';
import { hashSplit } from './split.ts';
import type { LabelledDataset, Sample } from './types.ts';

const NOT_GARMENTS = new Set(['null', 'skin', 'hair']);

export async function loadClothingParsing(root: string, valFraction = 0.15): Promise<LabelledDataset & { maskLabels: string[] }> {
  const labelsJson = JSON.parse(await readFile(path.join(root, 'labels.json'), 'utf8').catch(() => {
    throw new GroknetError('file_not_found', `no labels.json in ${root}`);
  })) as { labels?: unknown };
  if (!Array.isArray(labelsJson.labels) || !labelsJson.labels.every((l) => typeof l === 'string')) {
    throw new GroknetError('invalid_labels', 'labels.json must hold {"labels": [names]}');
  }
  const maskLabels = labelsJson.labels as string[];
  const tags = maskLabels.filter((l) => !NOT_GARMENTS.has(l));
  const samples: Sample[] = [];
  const text = await readFile(path.join(root, 'annotations.jsonl'), 'utf8');
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === '') continue;
    let row: { photo?: unknown; tags?: unknown };
    try {
      row = JSON.parse(line) as typeof row;
    } catch {
      throw new GroknetError('invalid_labels', `annotations.jsonl line ${i + 1} is not JSON`);
    }
    if (typeof row.photo !== 'string' || !Array.isArray(row.tags)) {
      throw new GroknetError('invalid_labels', `annotations.jsonl line ${i + 1} needs "photo" and "tags"`);
    }
    const present: number[] = [];
    for (const tag of row.tags) {
      if (typeof tag !== 'string' || !maskLabels.includes(tag)) throw new GroknetError('invalid_labels', `annotations.jsonl line ${i + 1}: unknown tag '${String(tag)}'`);
      const index = tags.indexOf(tag);
      if (index >= 0) present.push(index);
    }
    samples.push({ path: path.join(root, row.photo), dataset: 'clothing-parsing', single: {}, multi: { garment_tags: present }, split: hashSplit(row.photo, valFraction) });
  }
  return { name: 'clothing-parsing', tasks: { garment_tags: tags }, samples, maskLabels };
}
