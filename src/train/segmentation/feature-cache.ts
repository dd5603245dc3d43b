// Backbone activations of the masked photos, computed once and kept in the groknet cache:
// one file per photo and view (the photo, or the photo mirrored), holding its letterbox
// geometry and every tap's map as float16. Files are written whole by atomic rename, so a
// killed extraction leaves only complete files and the next run computes what is missing.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { silentProgress, type StartProgress } from '../../util/progress.ts';
import { readImageFile } from '../../image/decode.ts';
import type { Geometry } from '../../image/geometry.ts';
import { preprocessDecoded } from '../../image/preprocess.ts';
import { OnnxSession } from '../../model/backend/onnxruntime.ts';
import { cacheDir, cacheKey, writeAtomic } from '../../model/cache.ts';
import type { PreprocessSpec } from '../../model/manifest.ts';
import { crop, mirror, type CropBox } from './dataset.ts';
import { packHalf } from '../../util/float16.ts';
import type { Tap } from '../../segment/taps.ts';
import { segmentTrunkOnnx } from '../../segment/trunk.ts';
import type { UpperTrunkWeights } from '../../model/upper-trunk/block16.ts';

export interface ViewRef {
  photo: string;
  /** Mirrored left-right (before cropping). */
  flip: boolean;
  /** Only this region of the (mirrored) photo, letterboxed like a whole photo. */
  crop?: CropBox;
}

export interface ViewFeatures {
  geometry: Geometry;
  /** Every tap's NHWC map for this view, in tap order, concatenated, float16. */
  maps: Uint16Array;
}

interface Header {
  format: 'groknet-segment-features-1';
  photo: string;
  flip: boolean;
  crop?: CropBox;
  geometry: Geometry;
  values: number;
}

export interface FeatureCacheOptions {
  backboneId: string;
  /** A fine-tuned block 16 + Conv_1 computing the tap named UPPER_CONV1_NODE. */
  upper?: UpperTrunkWeights;
  taps: readonly Tap[];
  input: PreprocessSpec;
  batchSize?: number;
  /** Reports the pass over the views not cached yet ('segmentation features'); silent without one. */
  startProgress?: StartProgress;
}

/** Values per view: the sum of the taps' map sizes. */
export function valuesPerView(taps: readonly Tap[], input: PreprocessSpec): number {
  return taps.reduce((sum, t) => sum + Math.ceil(input.size[0] / t.stride) * Math.ceil(input.size[1] / t.stride) * t.channels, 0);
}

function viewFile(dir: string, ref: ViewRef): string {
  const c = ref.crop;
  const cropped = c ? `-crop-${[c.left, c.top, c.width, c.height].map((v) => v.toFixed(3)).join('_')}` : '';
  return path.join(dir, `${cacheKey(ref.photo)}${ref.flip ? '-flip' : ''}${cropped}.f16`);
}

async function readView(file: string, values: number): Promise<ViewFeatures | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return undefined;
  }
  try {
    const headerLength = bytes.readUInt32LE(0);
    const header = JSON.parse(bytes.subarray(4, 4 + headerLength).toString()) as Header;
    const start = 4 + headerLength;
    if (header.format !== 'groknet-segment-features-1' || header.values !== values || bytes.length - start !== values * 2) return undefined;
    // Copied out: the file buffer's offset may not be 2-aligned.
    const maps = new Uint16Array(values);
    new Uint8Array(maps.buffer).set(bytes.subarray(start));
    return { geometry: header.geometry, maps };
  } catch {
    return undefined; // a damaged file is computed again
  }
}

function encodeView(ref: ViewRef, geometry: Geometry, maps: Uint16Array): Buffer {
  const header = Buffer.from(JSON.stringify({ format: 'groknet-segment-features-1', photo: ref.photo, flip: ref.flip, ...(ref.crop ? { crop: ref.crop } : {}), geometry, values: maps.length } satisfies Header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([length, header, Buffer.from(maps.buffer, maps.byteOffset, maps.byteLength)]);
}

/** The cached features of each view, extracting the missing ones first. Photos that fail to decode are left out. */
export async function segmentFeatures(refs: readonly ViewRef[], options: FeatureCacheOptions): Promise<Map<ViewRef, ViewFeatures>> {
  const nodes = options.taps.map((t) => t.node);
  const trunk = await segmentTrunkOnnx({ backboneId: options.backboneId, ...(options.upper ? { upper: options.upper } : {}) }, options.taps, options.input.size);
  const dir = path.join(cacheDir(), 'segment-features', cacheKey(trunk.path, ...nodes));
  const values = valuesPerView(options.taps, options.input);
  const found = new Map<ViewRef, ViewFeatures>();
  const missing: ViewRef[] = [];
  for (const ref of refs) {
    const view = await readView(viewFile(dir, ref), values);
    if (view) found.set(ref, view);
    else missing.push(ref);
  }
  if (missing.length === 0) return found;

  const session = await OnnxSession.create(trunk.bytes);
  const batchSize = options.batchSize ?? 8;
  const [h, w] = options.input.size;
  const progress = (options.startProgress ?? silentProgress)('segmentation features', missing.length);
  const prepare = (batch: readonly ViewRef[]) =>
    Promise.all(
      batch.map(async (ref) => {
        try {
          const image = await readImageFile(ref.photo);
          let pixels = ref.flip ? { ...image, data: Buffer.from(mirror(image.data, image.width, image.height, 3)) } : image;
          if (ref.crop) {
            const region = crop(pixels.data, pixels.width, pixels.height, 3, ref.crop);
            pixels = { ...pixels, data: Buffer.from(region.data), width: region.width, height: region.height };
          }
          const input = await preprocessDecoded(pixels, options.input);
          return { ref, tensor: input.tensor, geometry: input.geometry };
        } catch {
          return undefined;
        }
      }),
    );
  try {
    let next = prepare(missing.slice(0, batchSize));
    for (let start = 0; start < missing.length; start += batchSize) {
      const items = (await next).filter((i) => i !== undefined);
      // Decode the next batch while this one runs in ONNX Runtime.
      next = prepare(missing.slice(start + batchSize, start + 2 * batchSize));
      if (items.length > 0) {
        const per = h * w * 3;
        const input = new Float32Array(per * items.length);
        items.forEach((item, i) => input.set(item.tensor, i * per));
        const out = await session.run(session.inputNames[0]!, input, [items.length, h, w, 3], nodes);
        for (const [i, item] of items.entries()) {
          const maps = new Uint16Array(values);
          let offset = 0;
          for (const node of nodes) {
            const data = out[node]!.data;
            const size = data.length / items.length;
            packHalf(data.subarray(i * size, (i + 1) * size), maps.subarray(offset, offset + size));
            offset += size;
          }
          await writeAtomic(viewFile(dir, item.ref), encodeView(item.ref, item.geometry, maps));
          found.set(item.ref, { geometry: item.geometry, maps });
        }
      }
      progress.tick(Math.min(missing.length, start + batchSize));
    }
  } finally {
    progress.finish();
    await session.close();
  }
  return found;
}
