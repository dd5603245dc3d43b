// Generic adapters for a user's own data: a folder per class, or a CSV / JSONL file whose
// rows name an image (relative to the file) and a label or a list of labels. Paths that
// leave the dataset's folder are refused; unknown or empty labels are errors.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../../errors.ts';
import { hasSupportedExtension } from '../../image/formats.ts';
import { hashSplit } from './split.ts';
import type { LabelledDataset, Sample } from './types.ts';

export interface GenericOptions {
  name: string;
  head: string;
  valFraction: number;
}

function insideRoot(root: string, relative: string, where: string): string {
  const full = path.resolve(root, relative);
  if (full !== root && !full.startsWith(root + path.sep)) throw new GroknetError('path_outside_root', `${where}: '${relative}'`);
  return full;
}

function checkClasses(name: string, labels: readonly string[]): void {
  if (labels.length === 0) throw new GroknetError('invalid_labels', `dataset '${name}' is empty`);
  if (labels.length < 2) throw new GroknetError('invalid_labels', `dataset '${name}' has a single class ('${labels[0]}'): a classifier needs at least two`);
}

/** One sub-folder per class, images anywhere below it. */
export async function loadFolderDataset(root: string, options: GenericOptions): Promise<LabelledDataset> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => {
    throw new GroknetError('file_not_found', `dataset folder '${path.basename(root)}' does not exist`);
  });
  const labels = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const samples: Sample[] = [];
  for (const [index, label] of labels.entries()) {
    for (const file of await walkImages(path.join(root, label))) {
      const key = path.relative(root, file);
      samples.push({ path: file, dataset: options.name, single: { [options.head]: index }, split: hashSplit(key, options.valFraction) });
    }
  }
  const used = labels.filter((_, i) => samples.some((s) => s.single[options.head] === i));
  checkClasses(options.name, used);
  return { name: options.name, tasks: { [options.head]: labels }, samples };
}

async function walkImages(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walkImages(full)));
    else if (entry.isFile() && hasSupportedExtension(entry.name)) out.push(full);
  }
  return out;
}

interface Row {
  image: string;
  labels: string[];
  split?: string;
}

function parseCsv(text: string, where: string): Row[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
  const imageCol = header.indexOf('image');
  const labelCol = header.includes('labels') ? header.indexOf('labels') : header.indexOf('label');
  const splitCol = header.indexOf('split');
  if (imageCol < 0 || labelCol < 0) throw new GroknetError('invalid_labels', `${where}: the header needs 'image' and 'label' (or 'labels', separated by '|')`);
  return lines.map((line, i) => {
    const cols = line.split(',').map((c) => c.trim());
    if (cols.length !== header.length) throw new GroknetError('invalid_labels', `${where} line ${i + 2}: ${cols.length} columns, the header has ${header.length}`);
    const labels = cols[labelCol]!.split('|').map((l) => l.trim()).filter(Boolean);
    return { image: cols[imageCol]!, labels, ...(splitCol >= 0 ? { split: cols[splitCol] } : {}) };
  });
}

function parseJsonl(text: string, where: string): Row[] {
  return text
    .split(/\r?\n/)
    .map((line, i) => ({ line, i }))
    .filter(({ line }) => line.trim() !== '')
    .map(({ line, i }) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new GroknetError('invalid_labels', `${where} line ${i + 1} is not JSON`);
      }
      const row = value as { image?: unknown; label?: unknown; labels?: unknown; split?: unknown };
      const labels = Array.isArray(row.labels) ? row.labels : row.label !== undefined ? [row.label] : undefined;
      if (typeof row.image !== 'string' || !labels || !labels.every((l) => typeof l === 'string')) {
        throw new GroknetError('invalid_labels', `${where} line ${i + 1} needs "image" and "label" or "labels"`);
      }
      return { image: row.image, labels: labels as string[], ...(typeof row.split === 'string' ? { split: row.split } : {}) };
    });
}

/** CSV or JSONL listing. A row with one label trains a single-label head; lists train a multi-label head. */
export async function loadListingDataset(file: string, format: 'csv' | 'jsonl', options: GenericOptions): Promise<LabelledDataset & { multiLabel: boolean }> {
  const where = path.basename(file);
  const text = await readFile(file, 'utf8').catch(() => {
    throw new GroknetError('file_not_found', `no labels file '${where}'`);
  });
  const rows = format === 'csv' ? parseCsv(text, where) : parseJsonl(text, where);
  const root = path.dirname(path.resolve(file));
  const multiLabel = rows.some((r) => r.labels.length !== 1);
  const labels = [...new Set(rows.flatMap((r) => r.labels))].sort();
  checkClasses(options.name, labels);
  const samples: Sample[] = rows.map((row, i) => {
    const image = insideRoot(root, row.image, `${where} row ${i + 1}`);
    const split = row.split === 'val' || row.split === 'train' ? row.split : hashSplit(row.image, options.valFraction);
    const indices = row.labels.map((l) => labels.indexOf(l));
    return multiLabel
      ? { path: image, dataset: options.name, single: {}, multi: { [options.head]: indices }, split }
      : { path: image, dataset: options.name, single: { [options.head]: indices[0]! }, split };
  });
  return { name: options.name, tasks: { [options.head]: labels }, samples, multiLabel };
}
