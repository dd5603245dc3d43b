// Writes pseudo-labelled crops as a dataset the trainer's `jsonl` adapter reads
// (src/train/datasets/generic.ts): a JSONL file with one row per crop, `image` relative to
// the file and `label`, and the crops as PNGs in a folder beside it. buildPseudolabelDataset
// runs the whole thing over photo files and sums up what happened. The other fields say
// where each label came from (product, similarity, photo, box) and are ignored by the
// trainer. Crops are named by content hash, so a rerun rewrites rather than piles up; the
// JSONL is written to a temporary file and renamed, so a crash never leaves half a list.
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError, toGroknetError } from '../errors.ts';
import { readLimitedFile } from '../image/decode.ts';
import { DEFAULT_IMAGE_LIMITS } from '../image/limits.ts';
import { pseudolabelPhotos, type CropMatch, type PseudolabelOptions } from './pseudolabel.ts';

/** What goes into `label`: the catalog product's id, or its label from one head. */
export type LabelSource = { kind: 'product' } | { kind: 'head'; head: string };

export interface PseudolabelRow {
  image: string;
  label: string;
  product: string;
  title: string;
  similarity: number;
  /** Top label per single-label head of the matched product. */
  heads: Record<string, string>;
  /** The photo the crop was cut from, as given. */
  photo: string;
  box: number[];
  class: string;
  score: number;
}

export class PseudolabelDataset {
  private readonly rows: PseudolabelRow[] = [];

  private constructor(
    readonly file: string,
    /** The crops' folder, relative to the file's folder. */
    private readonly cropsDir: string,
    private readonly label: LabelSource,
  ) {}

  /** Checks the output path before any work: its folder must exist, the name must end in .jsonl. */
  static async create(file: string, label: LabelSource = { kind: 'product' }): Promise<PseudolabelDataset> {
    const absolute = path.resolve(file);
    if (path.extname(absolute).toLowerCase() !== '.jsonl') throw new GroknetError('invalid_argument', `the output must be a .jsonl file, got '${path.basename(file)}'`);
    const dir = path.dirname(absolute);
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory()) throw new GroknetError('file_not_found', `the output folder '${dir}' does not exist`);
    const cropsDir = `${path.basename(absolute, path.extname(absolute))}.crops`;
    await mkdir(path.join(dir, cropsDir), { recursive: true });
    return new PseudolabelDataset(absolute, cropsDir, label);
  }

  get size(): number {
    return this.rows.length;
  }

  /** Distinct labels written so far (the trainer needs at least two). */
  get classes(): number {
    return new Set(this.rows.map((r) => r.label)).size;
  }

  /** Adds a labelled crop; false when it has no value for the chosen head (nothing written). */
  async add(photo: string, match: CropMatch): Promise<boolean> {
    const nearest = match.nearest;
    if (!match.labelled || !nearest) throw new GroknetError('internal', 'only labelled crops belong in the dataset');
    const label = this.label.kind === 'product' ? nearest.id : nearest.labels[this.label.head];
    if (label === undefined) return false;
    const name = `${createHash('sha256').update(match.crop).digest('hex').slice(0, 32)}.png`;
    await writeFile(path.join(path.dirname(this.file), this.cropsDir, name), match.crop);
    this.rows.push({
      // Forward slashes: the file stays readable on every platform.
      image: `${this.cropsDir}/${name}`,
      label,
      product: nearest.id,
      title: nearest.title,
      similarity: Math.round(nearest.similarity * 1e4) / 1e4,
      heads: nearest.labels,
      photo,
      box: match.box.map((v) => Math.round(v * 10) / 10),
      class: match.class,
      score: Math.round(match.score * 1e4) / 1e4,
    });
    return true;
  }

  /** Writes the JSONL (also when empty, so a run always leaves its answer). */
  async finish(): Promise<void> {
    const temp = `${this.file}.${process.pid}.tmp`;
    try {
      await writeFile(temp, this.rows.map((row) => `${JSON.stringify(row)}\n`).join(''));
      await rename(temp, this.file);
    } catch (error) {
      await rm(temp, { force: true });
      throw new GroknetError('store_error', `cannot write ${path.basename(this.file)}`, { cause: error });
    }
  }
}

export interface PseudolabelSummary {
  photos: number;
  /** Products detected, over all photos. */
  crops: number;
  /** Crops written to the dataset. */
  labelled: number;
  /** Photos with nothing labelled: no product detected, or none close enough to the catalog. */
  skipped: number;
  /** Distinct labels in the dataset. */
  classes: number;
  threshold: number;
  out: string;
  /** Photos that could not be read or decoded. */
  failed: Array<{ file: string; code: string; message: string }>;
}

// Photos per detection call: bounded memory, and the crops of several photos share batches.
const CHUNK = 16;

/**
 * A photo to label: its path, or (from a walk, src/cli/inputs.ts) the path to open, which may
 * be the bytes of a name that is not UTF-8, the name to report, and an error found while listing it.
 */
export type PhotoFile = string | { path: string | Buffer; name: string; error?: GroknetError };

async function readPhoto(file: PhotoFile): Promise<Buffer | GroknetError> {
  if (typeof file !== 'string' && file.error) return file.error;
  return readLimitedFile(typeof file === 'string' ? file : file.path, DEFAULT_IMAGE_LIMITS.maxInputBytes).catch(toGroknetError);
}

/** Labels the products in `files` from the catalog and writes them to `dataset` (then finishes it). */
export async function buildPseudolabelDataset(
  files: readonly PhotoFile[],
  dataset: PseudolabelDataset,
  options: PseudolabelOptions & { onProgress?: (done: number, total: number) => void },
): Promise<PseudolabelSummary> {
  const threshold = options.threshold ?? options.analyzer.exactMatchThreshold;
  const summary: PseudolabelSummary = { photos: files.length, crops: 0, labelled: 0, skipped: 0, classes: 0, threshold, out: dataset.file, failed: [] };
  for (let start = 0; start < files.length; start += CHUNK) {
    const slice = files.slice(start, start + CHUNK);
    const read = await Promise.all(slice.map(readPhoto));
    const labelled = await pseudolabelPhotos(read.filter((r): r is Buffer => Buffer.isBuffer(r)), { ...options, threshold });
    let next = 0;
    for (const [i, photo] of slice.entries()) {
      const file = typeof photo === 'string' ? photo : photo.name;
      const r = read[i]!;
      const result = Buffer.isBuffer(r) ? labelled[next++]! : r;
      if (result instanceof GroknetError) {
        summary.failed.push({ file, code: result.code, message: result.message });
        continue;
      }
      summary.crops += result.crops.length;
      let written = 0;
      for (const crop of result.crops) if (crop.labelled && (await dataset.add(file, crop))) written++;
      summary.labelled += written;
      if (written === 0) summary.skipped++;
    }
    options.onProgress?.(start + slice.length, files.length);
  }
  await dataset.finish();
  summary.classes = dataset.classes;
  return summary;
}
