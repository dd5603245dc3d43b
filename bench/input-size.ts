// Does a larger input help the product heads, as it helped segmentation? The frozen
// backbone's mean-pooled Conv_1 features of the centre crop at each input size, the same
// head (the shipped config's: 1792 -> 512 -> classes, dropout 0.5, AdamW 2e-3, decay 0.05,
// label smoothing 0.1, 10 epochs, seed 7) trained on each, scored on the held-out rows;
// and the backbone's time per image at each size (what the 45-minute budget pays).
// Run: node --import tsx bench/input-size.ts [--datasets ../shared/datasets] [--sizes 224,288,320]
import { parseArgs } from 'node:util';
import { OnnxSession } from '../src/model/backend/onnxruntime.ts';
import { backboneSpec } from '../src/model/backbones/registry.ts';
import { segmentBackboneOnnx } from '../src/segment/backbone.ts';
import { loadViewTensor } from '../src/train/augment.ts';
import { loadProductSets, poolImages, scoreFrozen } from './frozen-heads.ts';
import { machine, writeSection } from './report.ts';

const { values } = parseArgs({ options: { datasets: { type: 'string', default: '../shared/datasets' }, sizes: { type: 'string', default: '224,288,320' } } });
const sizes = values.sizes!.split(',').map(Number);
const spec = backboneSpec('nsfwjs/mobilenet_v2_mid');
const CONV1 = spec.tensors.conv_1!.node;
const DIM = 1792;
const { sets, images } = await loadProductSets(values.datasets!);

async function pooled(size: number): Promise<{ features: Map<string, Float32Array>; msPerImage: number }> {
  const graph = await segmentBackboneOnnx(spec.id, [CONV1], [size, size]);
  const session = await OnnxSession.create(graph.bytes);
  const input = { ...spec.input, size: [size, size] as [number, number] };
  try {
    return await poolImages(images, session, CONV1, size, (ref) => loadViewTensor(ref, input), `${size}px`);
  } finally {
    await session.close();
  }
}

const rows: string[] = [];
const results: Record<number, Record<string, number>> = {};
for (const size of sizes) {
  const { features, msPerImage } = await pooled(size);
  results[size] = { ms: msPerImage };
  Object.assign(results[size]!, await scoreFrozen(sets, features, DIM));
  process.stderr.write(`\n${size}px: ${JSON.stringify(results[size])}\n`);
}
const n = (task: string) => results[sizes[0]!]![`${task}:n`];
rows.push(
  `Command: \`node --import tsx bench/input-size.ts --sizes ${sizes.join(',')}\`. Machine: ${machine()}.`,
  `The frozen backbone (nsfwjs MobileNetV2-1.4, packaged weights) on the centre crop at each size, Conv_1 mean-pooled; the same head trained on each (1792 -> 512 -> classes, dropout 0.5, AdamW 2e-3 with decay 0.05, label smoothing 0.1, 10 epochs, seed 7; no augmented views, no trunk fine-tuning). Scored on the held-out rows: clothing ${n('clothing')} (all 18 labels), grocery val.txt ${n('grocery_fine')}.`,
  '',
  `| input | backbone ms per image (batch 16, ONNX Runtime, 2 threads) | clothing | grocery fine | grocery coarse |`,
  '|---|---|---|---|---|',
  ...sizes.map((s) => `| ${s}x${s} | ${results[s]!.ms!.toFixed(1)} | ${results[s]!.clothing!.toFixed(3)} | ${results[s]!.grocery_fine!.toFixed(3)} | ${results[s]!.grocery_coarse!.toFixed(3)} |`),
);
await writeSection('input-size', ['## Product heads at a larger input (issue: unified training)', '', ...rows].join('\n'));
process.stdout.write(`${JSON.stringify(results)}\n`);
