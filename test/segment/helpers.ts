// A segmentation artifact for tests: the real trunk (converted from the npm package, as
// the shipped model) with a generated decoder whose logits do not depend on the photo:
// every pixel gets `winner`. Enough to test the pipeline, the mask and the CLI exactly.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DECODER_OUTPUT, initDecoder, type DecoderWeights } from '../../src/segment/decoder.ts';
import { sameConvGrid } from '../../src/segment/grid.ts';
import { SEGMENT_FORMAT_VERSION, type SegmentManifest } from '../../src/segment/manifest.ts';
import { SEGMENT_BACKBONE_ID, SEGMENT_INPUT, SEGMENT_TAPS, tapSize } from '../../src/segment/taps.ts';
import { exportSegmentArtifact } from '../../src/train/segmentation/export.ts';

export const TEST_LABELS = ['null', 'dress', 'skin', 'hair', 'shoes'];

/** A small decoder over the real trunk's taps, its weights drawn by `random`. */
export function testDecoder(random: () => number): DecoderWeights {
  return initDecoder(
    {
      levels: SEGMENT_TAPS.map((tap) => ({ node: tap.node, channels: tap.channels, size: tapSize(SEGMENT_INPUT.size, tap.stride), width: 4, mix: false })),
      classes: TEST_LABELS.length,
    },
    random,
  );
}

/** Writes a segmentation artifact (decoder.onnx + model.json) for TEST_LABELS into `dir`, through the trainer's export. */
export async function writeSegmentModel(dir: string, weights: DecoderWeights, name: string): Promise<SegmentManifest> {
  const manifest: SegmentManifest = {
    formatVersion: SEGMENT_FORMAT_VERSION,
    kind: 'segmentation',
    name,
    version: '0.0.1',
    backbone: { id: SEGMENT_BACKBONE_ID, tensors: SEGMENT_TAPS.map((t) => t.node) },
    input: SEGMENT_INPUT as SegmentManifest['input'],
    decoderFile: 'decoder.onnx',
    output: DECODER_OUTPUT,
    grid: sameConvGrid(SEGMENT_INPUT.size, SEGMENT_TAPS[SEGMENT_TAPS.length - 1]!.stride),
    labels: TEST_LABELS,
    classLabels: TEST_LABELS.map((_, i) => i),
    merged: {},
    notGarments: ['null', 'skin', 'hair'],
  };
  await exportSegmentArtifact(dir, { manifest, weights });
  return manifest;
}

export async function createConstantSegmentModel(winner: string): Promise<{ dir: string; manifest: SegmentManifest }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'groknet-segment-model-'));
  const weights = testDecoder(() => 0.5);
  weights.classifier.kernel.fill(0);
  weights.classifier.bias = Float32Array.from(TEST_LABELS, (l) => (l === winner ? 5 : 0));
  return { dir, manifest: await writeSegmentModel(dir, weights, 'test-segment') };
}
