// Adapter for Fashion-MNIST in IDX format (Debian's dataset-fashion-mnist puts it in
// /usr/share/datasets/fashion-mnist). Images are addressed as "<images file>#<index>" and
// turned into small PNGs on demand, so every image goes through the same image pipeline
// (and the same backbone) as a photo.
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GroknetError } from '../../errors.ts';
import type { DecodedImage } from '../../image/decode.ts';
import { greyPixelsToPng } from '../../image/encode.ts';
import type { LabelledDataset, Sample } from './types.ts';

/** Where Debian's dataset-fashion-mnist package puts the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
}

export function parseIdx(bytes: Uint8Array, where: string): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) throw new GroknetError('invalid_labels', `${where} is not an unsigned-byte IDX file`);
  const rank = bytes[3]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * rank;
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length < offset + size) throw new GroknetError('truncated', `${where} holds fewer values than its header declares`);
  return { dims, data: bytes.subarray(offset, offset + size) };
}

const cache = new Map<string, Promise<IdxImages>>();

async function readIdxFile(file: string): Promise<Uint8Array> {
  const raw = new Uint8Array(await readFile(file));
  return file.endsWith('.gz') ? new Uint8Array(gunzipSync(raw)) : raw;
}

export function idxImages(file: string): Promise<IdxImages> {
  let entry = cache.get(file);
  if (!entry) {
    entry = readIdxFile(file).then((bytes) => {
      const { dims, data } = parseIdx(bytes, path.basename(file));
      if (dims.length !== 3) throw new GroknetError('invalid_labels', `${path.basename(file)} is not an image IDX file`);
      return { count: dims[0]!, rows: dims[1]!, cols: dims[2]!, pixels: data };
    });
    cache.set(file, entry);
  }
  return entry;
}

async function idxPixels(file: string, index: number): Promise<{ pixels: Buffer; width: number; height: number }> {
  const images = await idxImages(file);
  if (!Number.isInteger(index) || index < 0 || index >= images.count) throw new GroknetError('invalid_argument', `image ${index} is outside ${path.basename(file)}`);
  const size = images.rows * images.cols;
  return { pixels: Buffer.from(images.pixels.subarray(index * size, (index + 1) * size)), width: images.cols, height: images.rows };
}

/** PNG bytes of image `index` of an IDX images file. */
export async function idxImagePng(file: string, index: number): Promise<Buffer> {
  const { pixels, width, height } = await idxPixels(file, index);
  return greyPixelsToPng(pixels, width, height);
}

/**
 * Image `index` as decoded RGB (grey repeated in each channel): the pixels its PNG decodes
 * to, without the PNG. The trainer reads 22,000 of these per run, and encoding each to PNG
 * only to decode it again cost ~2.5 ms an image.
 */
export async function idxImageRgb(file: string, index: number): Promise<DecodedImage> {
  const { pixels, width, height } = await idxPixels(file, index);
  const data = Buffer.alloc(pixels.length * 3);
  for (let i = 0; i < pixels.length; i++) data[i * 3] = data[i * 3 + 1] = data[i * 3 + 2] = pixels[i]!;
  return { data, width, height, format: 'png' }; // the format idxImagePng gives the same pixels in
}

export interface FashionMnistOptions {
  /** Train on at most this many images of the training file (a stable, evenly spread subset). */
  limit?: number;
  /**
   * Hold out this many other images of the training file (evenly spread, never among the
   * `limit` trained on) as the validation rows, instead of the 10,000-image test split: a
   * training run then never reads the test split (`groknet eval` scores it), and the
   * calibrated thresholds are not fitted on the figures it reports.
   */
  validation?: number;
}

export async function loadFashionMnist(root: string, options: FashionMnistOptions = {}): Promise<LabelledDataset> {
  const samples: Sample[] = [];
  const splits = options.validation === undefined ? ([['train', 'train'], ['val', 't10k']] as const) : ([['train', 'train']] as const);
  for (const [split, prefix] of splits) {
    const imagesFile = [`${prefix}-images-idx3-ubyte.gz`, `${prefix}-images-idx3-ubyte`].map((f) => path.join(root, f));
    const labelsFile = [`${prefix}-labels-idx1-ubyte.gz`, `${prefix}-labels-idx1-ubyte`].map((f) => path.join(root, f));
    const images = await firstReadable(imagesFile);
    const labelBytes = await firstReadable(labelsFile);
    const labels = parseIdx(await readIdxFile(labelBytes), path.basename(labelBytes)).data;
    const { count } = await idxImages(images);
    if (labels.length !== count) throw new GroknetError('invalid_labels', `${path.basename(labelBytes)} has ${labels.length} labels for ${count} images`);
    for (let i = 0; i < count; i++) {
      if (labels[i]! >= FASHION_MNIST_LABELS.length) throw new GroknetError('invalid_labels', `label ${labels[i]} is not a Fashion-MNIST class`);
      // The public test split is this dataset's validation split ("val") unless validation rows come from the training file.
      samples.push({ path: `${images}#${i}`, dataset: 'fashion-mnist', single: { fashion_mnist: labels[i]! }, split });
    }
  }
  const limited = limitTrain(samples, options.limit);
  return { name: 'fashion-mnist', tasks: { fashion_mnist: FASHION_MNIST_LABELS }, samples: options.validation === undefined ? limited : holdOut(samples, limited, options.validation) };
}

/** `limited` plus `count` evenly spread training-file samples it left out, marked "val". */
function holdOut(all: Sample[], limited: Sample[], count: number): Sample[] {
  if (!Number.isInteger(count) || count < 1) throw new GroknetError('invalid_config', `Fashion-MNIST validation must be a positive whole number of images, got ${count}`);
  const used = new Set(limited);
  const rest = all.filter((s) => !used.has(s));
  if (rest.length < count) throw new GroknetError('invalid_config', `Fashion-MNIST validation asks for ${count} images, but the training file has only ${rest.length} beyond the ${limited.length} trained on`);
  // Half a step in: the training subset took each step's first image.
  const held = evenlySpread(rest, count, 0.5).map((s) => ({ ...s, split: 'val' as const }));
  return [...limited, ...held];
}

/** `count` items spread evenly over `items`, each `phase` (0 to 1) of the way into its step. */
function evenlySpread<T>(items: readonly T[], count: number, phase = 0): T[] {
  const step = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor((i + phase) * step)]!);
}

/** Keeps every validation sample and a stable, evenly spread subset of training samples. */
export function limitTrain(samples: Sample[], limit: number | undefined): Sample[] {
  if (limit === undefined) return samples;
  const train = samples.filter((s) => s.split === 'train');
  if (train.length <= limit) return samples;
  const keep = new Set(evenlySpread(train, limit));
  return samples.filter((s) => s.split !== 'train' || keep.has(s));
}

async function firstReadable(files: string[]): Promise<string> {
  for (const f of files) {
    try {
      await access(f);
      return f;
    } catch {
      // try the next name
    }
  }
  throw new GroknetError('file_not_found', `none of ${files.map((f) => path.basename(f)).join(', ')} exists (apt-get install dataset-fashion-mnist)`);
}
