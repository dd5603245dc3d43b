// A tiny real model with two heads, for the service tests: `colour` and a `clothing`
// category head tied to the colour (red -> T-Shirt, blue -> Dress, ...), so a suggested
// listing has a category path, a colour and a title. Built like test/helpers/tiny-model.ts
// (GeM over the raw 32x32 image), trained in a few seconds and written by the trainer's export.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CODE_OUTPUT, EMBEDDING_OUTPUT, headOutputName } from '../../../src/model/heads/heads-graph.ts';
import { MANIFEST_FORMAT_VERSION, type ModelManifest } from '../../../src/model/manifest.ts';
import { exportArtifact } from '../../../src/train/export.ts';
import { fitHeads, rng } from '../../../src/train/fit-heads.ts';
import { TINY_COLOURS, TINY_INPUT_NODE } from '../../helpers/tiny-model.ts';

/** What the `clothing` head answers for each colour. */
export const CLOTHING_OF: Record<string, string> = {
  red: 'T-Shirt',
  green: 'Pants',
  blue: 'Dress',
  yellow: 'Hat',
  black: 'Shoes',
  white: 'Shirt',
};

export async function createShopModel(): Promise<{ dir: string; manifest: ModelManifest }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'groknet-shop-model-'));
  const colours = Object.keys(TINY_COLOURS);
  const clothing = colours.map((c) => CLOTHING_OF[c]!);
  const random = rng(7);
  const perClass = 24;
  const rows = colours.length * perClass;
  const features = new Float32Array(rows * 3);
  const targets = new Int32Array(rows);
  colours.forEach((colour, c) => {
    const base = TINY_COLOURS[colour]!;
    for (let i = 0; i < perClass; i++) {
      const r = c * perClass + i;
      targets[r] = c;
      for (let ch = 0; ch < 3; ch++) features[r * 3 + ch] = Math.min(255, Math.max(1, base[ch]! + (random() - 0.5) * 40)) / 255;
    }
  });
  const fit = await fitHeads({
    features,
    dim: 3,
    trainRows: Int32Array.from({ length: rows }, (_, i) => i),
    tasks: [
      { name: 'colour', labels: colours, targets, weight: 1 },
      { name: 'clothing', labels: clothing, targets, weight: 1 },
    ],
    productIds: targets,
    productCount: colours.length,
    sharedSizes: [32],
    embeddingDim: 16,
    epochs: 60,
    batchSize: 32,
    learningRate: 0.02,
    weightDecay: 0,
    labelSmoothing: 0,
    arcface: { scale: 10, margin: 0.2, weight: 0.5 },
    seed: 5,
  });
  const identity = new Float32Array(16 * 16).map((_, i) => (i % 17 === 0 ? 1 : 0));
  // The trainer's own export, over the raw image: the heads graph is the complete model (modelFile).
  const manifest = await exportArtifact(dir, {
    manifest: {
      formatVersion: MANIFEST_FORMAT_VERSION,
      name: 'tiny-shop',
      version: '0.0.1',
      description: 'test model: colour and clothing heads over raw pixels',
      backbone: { id: 'none', tensors: [TINY_INPUT_NODE] },
      input: { size: [32, 32], mode: 'center-crop', layout: 'NHWC', channelOrder: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
      headsFile: 'model.onnx',
      modelFile: 'model.onnx',
      heads: [
        { name: 'colour', kind: 'single', output: headOutputName('colour'), labels: colours, abstainBelow: 0.3, title: 'Colour' },
        { name: 'clothing', kind: 'single', output: headOutputName('clothing'), labels: clothing, abstainBelow: 0.3, title: 'Clothing type' },
      ],
      embedding: { output: EMBEDDING_OUTPUT, dim: 16, codeOutput: CODE_OUTPUT, codeBits: 16, exactMatchThreshold: 0.95 },
    },
    graphInput: { inputNode: TINY_INPUT_NODE, channels: 3, gemP: 1 },
    fit,
    codes: { mean: new Float32Array(16), rotation: identity },
  });
  fit.dispose();
  return { dir, manifest };
}
