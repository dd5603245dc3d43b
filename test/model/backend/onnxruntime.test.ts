// The ONNX Runtime backend: one-input runs, several-input runs (graphs whose weights are fed per
// call, as bench/upper-trunk.ts trains them), and clear errors for graphs and feeds it cannot run.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OnnxSession } from '../../../src/model/backend/onnxruntime.ts';
import { GraphBuilder } from '../../../src/model/onnx/graph-builder.ts';

function affineGraph(): Uint8Array {
  const g = new GraphBuilder('affine');
  g.input('x', ['n', 2]);
  g.input('w', [2, 3]);
  g.input('b', [3]);
  g.opInto('Add', [g.op1('MatMul', ['x', 'w']), 'b'], ['y']);
  g.output('y', ['n', 3]);
  return g.toModel();
}

test('several float inputs: weights fed per call give the matching outputs', async () => {
  const session = await OnnxSession.create(affineGraph(), { threads: 1 });
  try {
    const x = { data: Float32Array.of(1, 2, 3, 4), dims: [2, 2] };
    const w = { data: Float32Array.of(1, 0, 2, 0, 1, 3), dims: [2, 3] };
    const first = await session.runMany({ x, w, b: { data: Float32Array.of(0, 0, 0), dims: [3] } });
    assert.deepEqual(first.y!.dims, [2, 3]);
    assert.deepEqual(Array.from(first.y!.data), [1, 2, 8, 3, 4, 18]);
    // New weights on the next call, same session.
    const second = await session.runMany({ x, w, b: { data: Float32Array.of(1, 1, 1), dims: [3] } }, ['y']);
    assert.deepEqual(Array.from(second.y!.data), [2, 3, 9, 4, 5, 19]);
  } finally {
    await session.close();
  }
});

test('a missing input or a wrong shape is an error, and a graph ONNX Runtime cannot load is model_invalid', async () => {
  const session = await OnnxSession.create(affineGraph(), { threads: 1 });
  try {
    const x = { data: Float32Array.of(1, 2), dims: [1, 2] };
    await assert.rejects(session.runMany({ x, w: { data: new Float32Array(6), dims: [2, 3] } }), /b/);
    await assert.rejects(session.runMany({ x, w: { data: new Float32Array(4), dims: [2, 2] }, b: { data: new Float32Array(3), dims: [3] } }));
  } finally {
    await session.close();
  }
  await assert.rejects(OnnxSession.create(Uint8Array.of(1, 2, 3)), (error: Error & { code?: string }) => error.code === 'model_invalid');
});
