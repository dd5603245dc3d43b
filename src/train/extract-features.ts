// Runs the frozen backbone once per image and augmented view, and keeps its GeM-pooled
// features (for every exponent p asked for) in an on-disk cache shared by all runs with
// the same backbone and tensors. The cache is a set of shards, each written whole
// (data first, then its index, both by atomic rename), so a run killed or a disk that
// fills mid-extraction leaves only complete shards, and the next run extracts just the
// images it lacks. Images that fail to decode are recorded, counted and skipped.
// With `mapNode`, one tensor's whole map is kept too (float16): the input of a trainable
// upper trunk, which the trainer runs itself.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError, isGroknetError } from '../errors.ts';
import { OnnxSession } from '../model/backend/onnxruntime.ts';
import { backboneOnnx } from '../model/backbones/convert-backbone.ts';
import { backboneSpec } from '../model/backbones/registry.ts';
import { cacheDir, cacheKey, writeAtomic } from '../model/cache.ts';
import { packHalf } from '../util/float16.ts';
import { silentProgress, type StartProgress } from '../util/progress.ts';
import { loadViewTensor } from './augment.ts';
import { CACHED_GEM_P, gemPoolNHWC } from './gem-pool.ts';

export interface PooledFeatures {
  /** Per exponent p, row-major [rows, channels]. */
  byP: Map<number, Float32Array>;
  channels: number;
  /** Row index of each input reference; absent for images that failed. */
  rowOf: Map<string, number>;
  failed: Array<{ path: string; code: string }>;
  /** With ExtractOptions.mapNode: that tensor's NHWC map per row, float16, row-major [rows, mapValues]. */
  maps?: Uint16Array;
  mapValues?: number;
}

export interface ExtractOptions {
  backboneId: string;
  /** Backbone tensors (registry names), each pooled; their features are concatenated in this order. */
  tensors: string[];
  pValues: number[];
  /** A backbone node (TF name) whose whole map is kept per row, e.g. the upper trunk's input. */
  mapNode?: string;
  batchSize?: number;
  /** Images per shard written to the cache. */
  shardSize?: number;
  /**
   * Stops between batches once aborted: the images done so far are written as a shard of their
   * own, then an `interrupted` error is thrown. A later run extracts the rest in the same
   * batches as an uninterrupted run would (stops fall on batch boundaries), so its features are the same bits.
   */
  signal?: AbortSignal;
  /** Reports the backbone pass over the images not cached yet ('backbone features'); silent without one. */
  startProgress?: StartProgress;
}

/** Exponents every shard stores, so a later run may choose p without re-running the backbone. */
const STORED_P = CACHED_GEM_P;

interface ShardIndex {
  refs: string[];
  failed: Array<{ path: string; code: string }>;
  channels: number;
  p: number[];
  /** Values per row of the kept map (with mapNode). */
  mapValues?: number;
}

interface Cached {
  index: ShardIndex;
  data: Map<number, Float32Array>;
  maps?: Uint16Array;
}

async function readShards(dir: string): Promise<Cached[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const shards: Cached[] = [];
  for (const name of names.filter((n) => /^shard-[0-9a-f]+\.json$/.test(n)).sort()) {
    try {
      const index = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as ShardIndex;
      const data = new Map<number, Float32Array>();
      for (const p of index.p) {
        const bytes = await readFile(path.join(dir, name.replace('.json', `.p${p}.f32`)));
        if (bytes.byteLength !== index.refs.length * index.channels * 4) throw new Error('size mismatch');
        data.set(p, new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
      }
      let maps: Uint16Array | undefined;
      if (index.mapValues) {
        const bytes = await readFile(path.join(dir, name.replace('.json', '.map.f16')));
        if (bytes.byteLength !== index.refs.length * index.mapValues * 2) throw new Error('size mismatch');
        maps = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
      }
      shards.push({ index, data, ...(maps ? { maps } : {}) });
    } catch {
      // An index whose data is missing or short is ignored: its images are extracted again.
    }
  }
  return shards;
}

export async function extractPooledFeatures(refs: readonly string[], options: ExtractOptions): Promise<PooledFeatures> {
  const spec = backboneSpec(options.backboneId);
  const tensors = options.tensors.map((name) => {
    const t = spec.tensors[name];
    if (!t) throw new GroknetError('invalid_config', `backbone ${spec.id} has no tensor '${name}' (known: ${Object.keys(spec.tensors).join(', ')})`);
    return t;
  });
  const missingP = options.pValues.filter((p) => !STORED_P.includes(p));
  if (missingP.length > 0) throw new GroknetError('invalid_config', `GeM exponent must be one of ${STORED_P.join(', ')} (cached features), got ${missingP.join(', ')}`);
  const channels = tensors.reduce((sum, t) => sum + t.channels, 0);
  const keyParts = [spec.id, ...tensors.map((t) => t.node), ...(options.mapNode ? [`map:${options.mapNode}`] : [])];
  const dir = path.join(cacheDir(), 'features', `${spec.id.replace(/\//g, '__')}-${cacheKey(...keyParts)}`);

  const wanted = new Set(refs);
  let shards = await readShards(dir);
  const known = new Set(shards.flatMap((s) => [...s.index.refs, ...s.index.failed.map((f) => f.path)]));
  const todo = [...wanted].filter((r) => !known.has(r));
  if (todo.length > 0) {
    await extractMissing(todo, dir, spec, tensors, channels, options);
    shards = await readShards(dir);
  }

  // Gather the wanted rows, in the order asked, from whichever shards hold them.
  const rowOf = new Map<string, number>();
  const sources: Array<{ shard: Cached; row: number }> = [];
  const failed: PooledFeatures['failed'] = [];
  const located = new Map<string, { shard: Cached; row: number }>();
  for (const shard of shards) shard.index.refs.forEach((ref, row) => located.set(ref, { shard, row }));
  const failedRefs = new Map(shards.flatMap((s) => s.index.failed.map((f) => [f.path, f.code] as const)));
  for (const ref of refs) {
    if (rowOf.has(ref)) continue;
    const at = located.get(ref);
    if (at) {
      rowOf.set(ref, sources.push(at) - 1);
    } else if (!failed.some((f) => f.path === ref)) {
      failed.push({ path: ref, code: failedRefs.get(ref) ?? 'not_an_image' });
    }
  }
  const byP = new Map<number, Float32Array>();
  for (const p of options.pValues) {
    const out = new Float32Array(sources.length * channels);
    sources.forEach(({ shard, row }, i) => out.set(shard.data.get(p)!.subarray(row * channels, (row + 1) * channels), i * channels));
    byP.set(p, out);
  }
  if (!options.mapNode) return { byP, channels, rowOf, failed };
  const mapValues = shards.find((s) => s.index.mapValues)?.index.mapValues ?? 0;
  const maps = new Uint16Array(sources.length * mapValues);
  sources.forEach(({ shard, row }, i) => maps.set(shard.maps!.subarray(row * mapValues, (row + 1) * mapValues), i * mapValues));
  return { byP, channels, rowOf, failed, maps, mapValues };
}

async function extractMissing(
  todo: readonly string[],
  dir: string,
  spec: ReturnType<typeof backboneSpec>,
  tensors: Array<{ node: string; channels: number }>,
  channels: number,
  options: ExtractOptions,
): Promise<void> {
  const outputs = [...tensors.map((t) => t.node), ...(options.mapNode ? [options.mapNode] : [])];
  const graph = await backboneOnnx(spec.id, outputs);
  const session = await OnnxSession.create(graph.bytes);
  const batchSize = options.batchSize ?? 16;
  const shardSize = options.shardSize ?? 2048;
  const progress = (options.startProgress ?? silentProgress)('backbone features', todo.length);
  let stopped = false;
  let extracted = 0;
  const [h, w] = spec.input.size;
  const prepare = (batch: readonly string[]) =>
    Promise.all(
      batch.map(async (ref) => {
        try {
          return { ref, tensor: await loadViewTensor(ref, spec.input) };
        } catch (error) {
          return { ref, error: isGroknetError(error) ? error.code : 'not_an_image' };
        }
      }),
    );
  try {
    for (let shardStart = 0; shardStart < todo.length; shardStart += shardSize) {
      const shardRefs = todo.slice(shardStart, shardStart + shardSize);
      const data = new Map(STORED_P.map((p) => [p, new Float32Array(shardRefs.length * channels)]));
      const done: string[] = [];
      const failed: ShardIndex['failed'] = [];
      let mapValues = 0;
      let maps = new Uint16Array(0);
      let next = prepare(shardRefs.slice(0, batchSize));
      for (let start = 0; start < shardRefs.length; start += batchSize) {
        if (options.signal?.aborted) {
          stopped = true;
          break;
        }
        const items = await next;
        // Decode the next batch while this one runs in ONNX Runtime.
        next = prepare(shardRefs.slice(start + batchSize, start + 2 * batchSize));
        const ok = items.filter((i): i is { ref: string; tensor: Float32Array } => 'tensor' in i);
        for (const i of items) if ('error' in i) failed.push({ path: i.ref, code: i.error ?? 'not_an_image' });
        if (ok.length > 0) {
          const per = ok[0]!.tensor.length;
          const input = new Float32Array(per * ok.length);
          ok.forEach((item, i) => input.set(item.tensor, i * per));
          const dims = spec.input.layout === 'NHWC' ? [ok.length, h, w, 3] : [ok.length, 3, h, w];
          const out = await session.run(session.inputNames[0]!, input, dims, outputs);
          if (options.mapNode && mapValues === 0) {
            mapValues = out[options.mapNode]!.data.length / ok.length;
            maps = new Uint16Array(shardRefs.length * mapValues);
          }
          ok.forEach((item, i) => {
            if (options.mapNode) packHalf(out[options.mapNode]!.data.subarray(i * mapValues, (i + 1) * mapValues), maps.subarray(done.length * mapValues, (done.length + 1) * mapValues));
            const row = done.length;
            let offset = 0;
            for (const t of tensors) {
              const map = out[t.node]!.data;
              const spatial = map.length / (ok.length * t.channels);
              for (const [p, target] of data) gemPoolNHWC(map, i * spatial * t.channels, spatial, t.channels, p, target, row * channels + offset);
              offset += t.channels;
            }
            done.push(item.ref);
          });
        }
        progress.tick(shardStart + Math.min(shardRefs.length, start + batchSize));
      }
      if (stopped && done.length === 0 && failed.length === 0) break;
      const name = `shard-${Date.now().toString(16)}${cacheKey(...shardRefs).slice(0, 8)}`;
      for (const [p, values] of data) {
        const used = values.subarray(0, done.length * channels);
        await writeAtomic(path.join(dir, `${name}.p${p}.f32`), new Uint8Array(used.buffer, used.byteOffset, used.byteLength));
      }
      if (options.mapNode) {
        const used = maps.subarray(0, done.length * mapValues);
        await writeAtomic(path.join(dir, `${name}.map.f16`), new Uint8Array(used.buffer, used.byteOffset, used.byteLength));
      }
      // The index last: only a shard whose data is complete is ever read.
      await writeAtomic(path.join(dir, `${name}.json`), JSON.stringify({ refs: done, failed, channels, p: [...STORED_P], ...(options.mapNode ? { mapValues } : {}) } satisfies ShardIndex));
      extracted += done.length + failed.length;
      if (stopped) break;
    }
  } finally {
    progress.finish();
    await session.close();
  }
  if (stopped) throw new GroknetError('interrupted', `while extracting backbone features: ${extracted} of ${todo.length} images done, kept in the cache`);
}
