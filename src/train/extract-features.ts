// Runs the frozen backbone once per image and keeps GeM-pooled features for several
// exponents p, cached on disk by backbone and image list, so training runs (and the
// choice of p) never pay for the backbone twice. Images that fail to decode are
// counted and skipped, never fatal.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createProgress } from '../cli/progress.ts';
import { GroknetError, isGroknetError } from '../errors.ts';
import { OnnxSession } from '../model/backend/onnxruntime.ts';
import { backboneOnnx } from '../model/backbones/convert-backbone.ts';
import { backboneSpec } from '../model/backbones/registry.ts';
import { cacheDir, cacheKey, writeAtomic } from '../model/cache.ts';
import { loadViewTensor } from './augment.ts';
import { gemPoolNHWC } from './gem-pool.ts';

export interface PooledFeatures {
  /** Per exponent p, row-major [rows, channels]. */
  byP: Map<number, Float32Array>;
  channels: number;
  /** Row index of each input path; absent for images that failed. */
  rowOf: Map<string, number>;
  failed: Array<{ path: string; code: string }>;
}

export interface ExtractOptions {
  backboneId: string;
  /** Backbone tensors (registry names), each pooled; their features are concatenated in this order. */
  tensors: string[];
  pValues: number[];
  batchSize?: number;
}

export async function extractPooledFeatures(paths: readonly string[], options: ExtractOptions): Promise<PooledFeatures> {
  const spec = backboneSpec(options.backboneId);
  const tensors = options.tensors.map((name) => {
    const t = spec.tensors[name];
    if (!t) throw new GroknetError('invalid_config', `backbone ${spec.id} has no tensor '${name}' (known: ${Object.keys(spec.tensors).join(', ')})`);
    return t;
  });
  const key = cacheKey(spec.id, ...tensors.map((t) => t.node), options.pValues.join(','), ...paths);
  const channels = tensors.reduce((sum, t) => sum + t.channels, 0);
  const file = path.join(cacheDir(), 'features', `${spec.id.replace(/\//g, '__')}-${key}`);
  const cachedResult = await readCache(file, options.pValues, channels);
  if (cachedResult) return cachedResult;

  const graph = await backboneOnnx(spec.id, tensors.map((t) => t.node));
  const session = await OnnxSession.create(graph.bytes);
  const batchSize = options.batchSize ?? 16;
  const byP = new Map(options.pValues.map((p) => [p, new Float32Array(paths.length * channels)]));
  const rowOf = new Map<string, number>();
  const failed: PooledFeatures['failed'] = [];
  const progress = createProgress('backbone features', paths.length);
  const [h, w] = spec.input.size;
  let rows = 0;

  const prepare = (batch: readonly string[]) =>
    Promise.all(
      batch.map(async (p) => {
        try {
          return { path: p, tensor: await loadViewTensor(p, spec.input) };
        } catch (error) {
          return { path: p, error: isGroknetError(error) ? error.code : 'not_an_image' };
        }
      }),
    );
  let next = prepare(paths.slice(0, batchSize));
  for (let start = 0; start < paths.length; start += batchSize) {
    const items = await next;
    next = prepare(paths.slice(start + batchSize, start + 2 * batchSize));
    const ok = items.filter((i): i is { path: string; tensor: Float32Array } => 'tensor' in i);
    for (const i of items) if ('error' in i) failed.push({ path: i.path, code: i.error ?? 'not_an_image' });
    if (ok.length > 0) {
      const per = ok[0]!.tensor.length;
      const input = new Float32Array(per * ok.length);
      ok.forEach((item, i) => input.set(item.tensor, i * per));
      const dims = spec.input.layout === 'NHWC' ? [ok.length, h, w, 3] : [ok.length, 3, h, w];
      const out = await session.run(session.inputNames[0]!, input, dims, tensors.map((t) => t.node));
      ok.forEach((item, i) => {
        let offset = 0;
        for (const t of tensors) {
          const map = out[t.node]!.data;
          const spatial = map.length / (ok.length * t.channels);
          for (const [p, target] of byP) gemPoolNHWC(map, i * spatial * t.channels, spatial, t.channels, p, target, rows * channels + offset);
          offset += t.channels;
        }
        rowOf.set(item.path, rows++);
      });
    }
    progress.tick(Math.min(paths.length, start + batchSize));
  }
  progress.finish();
  await session.close();
  const result: PooledFeatures = {
    byP: new Map([...byP].map(([p, data]) => [p, data.slice(0, rows * channels)])),
    channels,
    rowOf,
    failed,
  };
  await writeCache(file, result, options.pValues);
  return result;
}

async function readCache(file: string, pValues: number[], channels: number): Promise<PooledFeatures | undefined> {
  try {
    const index = JSON.parse(await readFile(`${file}.json`, 'utf8')) as { rows: string[]; failed: PooledFeatures['failed'] };
    const byP = new Map<number, Float32Array>();
    for (const p of pValues) {
      const bytes = await readFile(`${file}.p${p}.f32`);
      const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      if (data.length !== index.rows.length * channels) return undefined;
      byP.set(p, data);
    }
    return { byP, channels, rowOf: new Map(index.rows.map((r, i) => [r, i])), failed: index.failed };
  } catch {
    return undefined;
  }
}

async function writeCache(file: string, result: PooledFeatures, pValues: number[]): Promise<void> {
  // Data files first, index last: a run killed in between leaves no index, so no cache is trusted.
  for (const p of pValues) {
    const data = result.byP.get(p)!;
    await writeAtomic(`${file}.p${p}.f32`, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  const rows = [...result.rowOf.entries()].sort((a, b) => a[1] - b[1]).map(([p]) => p);
  await writeAtomic(`${file}.json`, JSON.stringify({ rows, failed: result.failed }));
}
