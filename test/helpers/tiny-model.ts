// A real, tiny groknet model for tests that must not wait for the backbone: its "trunk"
// is the 32x32 RGB image itself, GeM-pooled, then a shared layer, a `colour` head and an
// ArcFace embedding, trained here in a second on generated colours. The artifact is a
// complete graph (modelFile), loaded by the same code as the shipped model.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { CODE_OUTPUT, EMBEDDING_OUTPUT, headOutputName } from '../../src/model/heads/heads-graph.ts';
import { MANIFEST_FORMAT_VERSION, type ModelManifest } from '../../src/model/manifest.ts';
import { exportArtifact } from '../../src/train/export.ts';
import { fitHeads, rng } from '../../src/train/fit-heads.ts';

export const TINY_COLOURS: Record<string, [number, number, number]> = {
  red: [220, 30, 30],
  green: [30, 180, 40],
  blue: [30, 40, 210],
  yellow: [235, 220, 40],
  black: [15, 15, 15],
  white: [245, 245, 245],
};

export const TINY_INPUT_NODE = 'input';

export async function solidImage(rgb: readonly [number, number, number], size = 48, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const image = sharp({ create: { width: size, height: size, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  return format === 'png' ? image.png().toBuffer() : image.jpeg().toBuffer();
}

export async function createTinyModel(dir?: string): Promise<{ dir: string; manifest: ModelManifest }> {
  const target = dir ?? (await mkdtemp(path.join(os.tmpdir(), 'groknet-tiny-model-')));
  const labels = Object.keys(TINY_COLOURS);
  const random = rng(11);
  const perClass = 24;
  const rows = labels.length * perClass;
  const features = new Float32Array(rows * 3);
  const targets = new Int32Array(rows);
  labels.forEach((label, c) => {
    const base = TINY_COLOURS[label]!;
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
    tasks: [{ name: 'colour', labels, targets, weight: 1 }],
    productIds: targets,
    productCount: labels.length,
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
  const manifest = await exportArtifact(target, {
    manifest: {
      formatVersion: MANIFEST_FORMAT_VERSION,
      name: 'tiny-colour',
      version: '0.0.1',
      description: 'test model: GeM over raw pixels, trained on generated colours',
      backbone: { id: 'none', tensors: [TINY_INPUT_NODE] },
      input: { size: [32, 32], mode: 'center-crop', layout: 'NHWC', channelOrder: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
      headsFile: 'model.onnx',
      modelFile: 'model.onnx',
      heads: [{ name: 'colour', kind: 'single', output: headOutputName('colour'), labels, abstainBelow: 0.3 }],
      embedding: { output: EMBEDDING_OUTPUT, dim: 16, codeOutput: CODE_OUTPUT, codeBits: 16, exactMatchThreshold: 0.95 },
    },
    graphInput: { inputNode: TINY_INPUT_NODE, channels: 3, gemP: 1 },
    fit,
    codes: { mean: new Float32Array(16), rotation: identity },
  });
  fit.dispose();
  return { dir: target, manifest };
}
