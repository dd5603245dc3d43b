// Adapter for the furniture dataset (web photos of bed, chair, sofa, swivelchair, table):
// labels.csv with file,label, `file` relative to the folder. Validation is a stable hash
// split of file names (exact duplicate files were dropped upstream).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../../errors.ts';
import { hashSplit } from './split.ts';
import type { LabelledDataset, Sample } from './types.ts';

export const FURNITURE_LABELS = ['bed', 'chair', 'sofa', 'swivelchair', 'table'] as const;

export async function loadFurniture(root: string, valFraction = 0.15): Promise<LabelledDataset> {
  const text = await readFile(path.join(root, 'labels.csv'), 'utf8').catch(() => {
    throw new GroknetError('file_not_found', `no labels.csv in ${root}`);
  });
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
  const fileCol = header.indexOf('file');
  const labelCol = header.indexOf('label');
  if (fileCol < 0 || labelCol < 0) throw new GroknetError('invalid_labels', 'labels.csv needs file and label columns');
  const labels: string[] = [...FURNITURE_LABELS];
  const base = path.resolve(root);
  const samples: Sample[] = lines.map((line, i) => {
    const cols = line.split(',').map((c) => c.trim());
    const file = cols[fileCol] ?? '';
    const index = labels.indexOf(cols[labelCol] ?? '');
    if (!file || index < 0) throw new GroknetError('invalid_labels', `labels.csv line ${i + 2}: unknown label '${cols[labelCol] ?? ''}' (expected one of ${labels.join(', ')})`);
    const full = path.resolve(base, file);
    if (!full.startsWith(base + path.sep)) throw new GroknetError('path_outside_root', `labels.csv line ${i + 2}: '${file}'`);
    return { path: full, dataset: 'furniture', single: { furniture: index }, split: hashSplit(file, valFraction) };
  });
  return { name: 'furniture', tasks: { furniture: labels }, samples };
}
