// The features a catalog head trains on: the model's standardised pooled features
// ('features/standard') of each catalog image, computed once per image content and kept
// on disk. The cache folder is keyed by the part of the graph that computes them (so a
// model that only gained or changed a head shares its base's cache) and the input spec;
// inside it, shards keyed by content hash, each written whole (data, then its index,
// both by atomic rename), so a killed run keeps what it finished and the next run
// computes only what is missing. An image whose file is gone, unreadable or no longer the
// bytes the catalog analysed is skipped and reported.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { readImageFile } from '../catalog/image-file.ts';
import { GroknetError, isGroknetError } from '../errors.ts';
import { loadForModel } from '../image/preprocess.ts';
import { OnnxSession } from '../model/backend/onnxruntime.ts';
import { cacheDir, cacheKey, writeAtomic } from '../model/cache.ts';
import type { ModelManifest } from '../model/manifest.ts';
import { onnx, parseModel } from '../model/onnx/graph-builder.ts';
import { silentProgress, type StartProgress } from '../util/progress.ts';
import { featureTensorOf, subgraphFor } from './catalog-head-graph.ts';

export interface CatalogImage {
  contentHash: string;
  path: string;
}

export interface CatalogFeatures {
  /** Row-major [rows, dim], a row per image that could be read, in the order asked. */
  features: Float32Array;
  dim: number;
  /** Row of each content hash. */
  rowOf: Map<string, number>;
  failed: Array<{ path: string; code: string }>;
  /** Images run through the model by this call (0 when the cache had them all). */
  computed: number;
  cacheFolder: string;
}

export interface CatalogFeatureOptions {
  batchSize?: number;
  /** Stops between batches once aborted: what is done is written as a shard, then `interrupted` is thrown. */
  signal?: AbortSignal;
  /** Reports the pass over the images not cached yet ('catalog features'); silent without one. */
  startProgress?: StartProgress;
}

interface ShardIndex {
  hashes: string[];
  dim: number;
}

/** The graph that computes only the feature tensor, and the cache folder its bytes and the input spec key. */
export function featureGraph(graphBytes: Uint8Array, manifest: ModelManifest): { bytes: Uint8Array; tensor: string; dim: number; folder: string } {
  const model = parseModel(graphBytes);
  if (!model.graph) throw new GroknetError('model_invalid', 'the model holds no graph');
  const feature = featureTensorOf(model.graph);
  model.graph = onnx.GraphProto.create(subgraphFor(model.graph, [feature.name]));
  const bytes = onnx.ModelProto.encode(model).finish();
  const folder = path.join(cacheDir(), 'catalog-features', cacheKey('catalog-features-1', JSON.stringify(manifest.input), bytes));
  return { bytes, tensor: feature.name, dim: feature.channels, folder };
}

async function readShards(folder: string, dim: number): Promise<Map<string, Float32Array>> {
  const byHash = new Map<string, Float32Array>();
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const name of names.filter((n) => /^shard-[0-9a-z-]+\.json$/.test(n)).sort()) {
    try {
      const index = JSON.parse(await readFile(path.join(folder, name), 'utf8')) as ShardIndex;
      const bytes = await readFile(path.join(folder, name.replace(/\.json$/, '.f32')));
      if (index.dim !== dim || bytes.byteLength !== index.hashes.length * dim * 4) continue;
      const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      index.hashes.forEach((hash, row) => byHash.set(hash, values.subarray(row * dim, (row + 1) * dim)));
    } catch {
      // An index whose data is missing or short is ignored: its images are computed again.
    }
  }
  return byHash;
}

/** The features of `images` (by content hash), computing and caching the ones not cached yet. */
export async function catalogFeatures(graphBytes: Uint8Array, manifest: ModelManifest, images: readonly CatalogImage[], options: CatalogFeatureOptions = {}): Promise<CatalogFeatures> {
  const graph = featureGraph(graphBytes, manifest);
  let cached = await readShards(graph.folder, graph.dim);
  const todo = uniqueByHash(images).filter((image) => !cached.has(image.contentHash));
  const failed: CatalogFeatures['failed'] = [];
  if (todo.length > 0) {
    failed.push(...(await computeMissing(todo, graph, manifest, options)));
    cached = await readShards(graph.folder, graph.dim);
  }
  const rowOf = new Map<string, number>();
  const rows: Float32Array[] = [];
  for (const image of images) {
    const values = cached.get(image.contentHash);
    if (values && !rowOf.has(image.contentHash)) rowOf.set(image.contentHash, rows.push(values) - 1);
  }
  const features = new Float32Array(rows.length * graph.dim);
  rows.forEach((values, r) => features.set(values, r * graph.dim));
  return { features, dim: graph.dim, rowOf, failed, computed: todo.length - failed.length, cacheFolder: graph.folder };
}

function uniqueByHash(images: readonly CatalogImage[]): CatalogImage[] {
  const seen = new Map<string, CatalogImage>();
  for (const image of images) if (!seen.has(image.contentHash)) seen.set(image.contentHash, image);
  return [...seen.values()];
}

/** Runs the feature graph over `todo`, writing one shard (also when stopped part-way); returns the images that failed. */
async function computeMissing(todo: readonly CatalogImage[], graph: ReturnType<typeof featureGraph>, manifest: ModelManifest, options: CatalogFeatureOptions): Promise<Array<{ path: string; code: string }>> {
  const session = await OnnxSession.create(graph.bytes);
  const batchSize = options.batchSize ?? 16;
  const progress = (options.startProgress ?? silentProgress)('catalog features', todo.length);
  const [h, w] = manifest.input.size;
  const values = new Float32Array(todo.length * graph.dim);
  const done: string[] = [];
  const failed: Array<{ path: string; code: string }> = [];
  let stopped = false;
  try {
    for (let start = 0; start < todo.length; start += batchSize) {
      if (options.signal?.aborted) {
        stopped = true;
        break;
      }
      const batch = todo.slice(start, start + batchSize);
      const tensors = await Promise.all(batch.map((image) => imageTensor(image, manifest).catch((error: unknown) => ({ code: isGroknetError(error) ? error.code : 'not_an_image' }))));
      const ok = batch.flatMap((image, i) => (tensors[i] instanceof Float32Array ? [{ image, tensor: tensors[i] }] : []));
      batch.forEach((image, i) => {
        const t = tensors[i]!;
        if (!(t instanceof Float32Array)) failed.push({ path: image.path, code: t.code });
      });
      if (ok.length > 0) {
        const per = ok[0]!.tensor.length;
        const input = new Float32Array(per * ok.length);
        ok.forEach((item, i) => input.set(item.tensor, i * per));
        const dims = manifest.input.layout === 'NHWC' ? [ok.length, h, w, 3] : [ok.length, 3, h, w];
        const out = (await session.run(session.inputNames[0]!, input, dims, [graph.tensor]))[graph.tensor]!.data;
        ok.forEach((item, i) => {
          values.set(out.subarray(i * graph.dim, (i + 1) * graph.dim), done.length * graph.dim);
          done.push(item.image.contentHash);
        });
      }
      progress.tick(Math.min(todo.length, start + batchSize));
    }
  } finally {
    progress.finish();
    await session.close();
  }
  if (done.length > 0) {
    const name = `shard-${Date.now().toString(36)}-${cacheKey(...done).slice(0, 8)}`;
    const used = values.subarray(0, done.length * graph.dim);
    await writeAtomic(path.join(graph.folder, `${name}.f32`), new Uint8Array(used.buffer, used.byteOffset, used.byteLength));
    // The index last: only a shard whose data is complete is ever read.
    await writeAtomic(path.join(graph.folder, `${name}.json`), JSON.stringify({ hashes: done, dim: graph.dim } satisfies ShardIndex));
  }
  if (stopped) throw new GroknetError('interrupted', `while computing catalog features: ${done.length} of ${todo.length} images done, kept in the cache`);
  return failed;
}

/** The model's input tensor of a catalog image, refused when the file no longer holds the bytes the catalog analysed. */
async function imageTensor(image: CatalogImage, manifest: ModelManifest): Promise<Float32Array> {
  const file = await readImageFile(image.path);
  if (file.contentHash !== image.contentHash) throw new GroknetError('file_not_found', `${image.path} changed since it was indexed`);
  return (await loadForModel(file.bytes, manifest.input)).tensor;
}
