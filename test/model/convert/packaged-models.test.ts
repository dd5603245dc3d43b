// End-to-end equivalence on the real models shipped in node_modules: the converted ONNX
// graph must reproduce TF.js's outputs, including intermediate tensors exposed as outputs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertTfjsGraphToOnnx } from '../../../src/model/convert/tfjs-to-onnx.ts';
import { parseModel } from '../../../src/model/onnx/graph-builder.ts';
import { loadPackagedTfjsModel } from '../../../src/model/tfjs/packaged-models.ts';
import { runTfjsGraph } from '../../../src/model/tfjs/run-tfjs.ts';
import { assertClose, type Comparison, compareWithTfjs, runOnnx, seededRandom } from './tiny-graph.ts';

/** Records the measured differences in the test report. */
function describeDiffs(t: { diagnostic(message: string): void }, report: Record<string, Comparison>): Record<string, Comparison> {
  for (const [name, c] of Object.entries(report)) t.diagnostic(`${name}: max abs diff ${c.maxDiff.toExponential(2)} (max |value| ${c.maxAbs.toFixed(3)})`);
  return report;
}

const MOBILENET = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict';
const FEATURE_VECTOR = `${MOBILENET}/feature_vector/SpatialSqueeze`;
const LAST_CONV = `${MOBILENET}/MobilenetV2/Conv_1/Relu6`;

/** `count` HxW RGB images, values in [0, scale]: a smooth colour pattern, then noise. */
function images(count: number, h: number, w: number, scale: number, layout: 'NHWC' | 'NCHW' = 'NHWC'): Float32Array {
  const random = seededRandom(3);
  const out = new Float32Array(count * h * w * 3);
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) {
          const smooth = 0.5 + 0.45 * Math.sin(x / (17 + 5 * c) + n) * Math.cos(y / (23 - 4 * c));
          const value = n % 2 === 0 ? smooth : (random() + 1) / 2;
          const index = layout === 'NHWC' ? ((n * h + y) * w + x) * 3 + c : ((n * 3 + c) * h + y) * w + x;
          out[index] = value * scale;
        }
      }
    }
  }
  return out;
}

describe('nsfwjs mobilenet_v2_mid', () => {
  const model = loadPackagedTfjsModel('nsfwjs/mobilenet_v2_mid');
  const shape = [2, 224, 224, 3];
  const input = images(2, 224, 224, 1); // RGB / 255, as nsfwjs feeds it

  it('matches TF.js on the feature vector, the last conv map and the class scores', async (t) => {
    const report = describeDiffs(t, await compareWithTfjs(model, input, shape, [FEATURE_VECTOR, LAST_CONV, 'Identity'], { dynamicBatch: true }));
    assertClose(report, 1e-3);
    assert.deepEqual(report[FEATURE_VECTOR]?.onnxShape, [2, 1792]);
    assert.deepEqual(report[LAST_CONV]?.onnxShape, [2, 7, 7, 1792]);
  });

  it('names outputs after the TF nodes, with a symbolic batch', () => {
    const onnx = parseModel(convertTfjsGraphToOnnx(model, { outputs: [FEATURE_VECTOR], dynamicBatch: true }));
    const graph = onnx.graph;
    assert.deepEqual(graph?.input?.map((i) => i.name), ['input']);
    assert.deepEqual(graph?.output?.map((o) => o.name), [FEATURE_VECTOR]);
    const dims = graph?.output?.[0]?.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue));
    assert.deepEqual(dims, ['batch', 1792]);
    // pruned: nothing after the feature vector (dense layer, softmax) is in the graph
    assert.ok(!graph?.node?.some((n) => n.opType === 'Gemm' || n.opType === 'Softmax'));
    // one transpose, at the input: the whole trunk runs NCHW
    assert.equal(graph?.node?.filter((n) => n.opType === 'Transpose').length, 1);
  });
});

describe('human-models centernet', () => {
  const model = loadPackagedTfjsModel('human-models/centernet');
  const shape = [1, 512, 512, 3];
  const input = images(1, 512, 512, 255); // raw 0..255 pixels, as Human feeds it

  it('matches TF.js on the backbone, the heat map and the box sizes', async (t) => {
    const outputs = ['tower_0/extern1/hard_swish/mul_1', 'tower_0/keypoints', 'tower_0/wh'];
    // activations reach ~100 here, so the bound is relative to each tensor's magnitude
    assertClose(describeDiffs(t, await compareWithTfjs(model, input, shape, outputs)), 1e-4, true);
  });

  it('runs the full detector including its top-k decoder', async () => {
    const bytes = convertTfjsGraphToOnnx(model);
    const onnx = (await runOnnx(bytes, input, shape))['tower_0/detections'];
    const tfjs = (await runTfjsGraph(model, input, shape, ['tower_0/detections']))['tower_0/detections'];
    assert.ok(onnx && tfjs);
    assert.deepEqual(onnx.dims, [1, 100, 6]);
    // the strongest detections are well separated, so their order and values must agree
    for (let i = 0; i < 10 * 6; i++) {
      const [a, b] = [onnx.data[i] as number, tfjs.data[i] as number];
      assert.ok(Math.abs(a - b) <= 1e-3 * Math.max(1, Math.abs(b)), `detection value ${i}: ${a} vs ${b}`);
    }
  });
});

describe('human-models nanodet', () => {
  const model = loadPackagedTfjsModel('human-models/nanodet');
  const shape = [1, 3, 416, 416];
  const input = images(1, 416, 416, 1, 'NCHW');

  it('keeps the NCHW input and matches TF.js on all six head outputs', async (t) => {
    const outputs = ['Identity', 'Identity_1', 'Identity_2', 'Identity_3', 'Identity_4', 'Identity_5'];
    assertClose(describeDiffs(t, await compareWithTfjs(model, input, shape, outputs)), 1e-4, true);
  });
});
