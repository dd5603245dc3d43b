// Each op family on tiny generated TF.js graphs: convert, run with onnxruntime-node, and
// compare every exposed tensor with TF.js's own execution of the same graph.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertTfjsGraphToOnnx } from '../../../src/model/convert/tfjs-to-onnx.ts';
import { parseModel } from '../../../src/model/onnx/graph-builder.ts';
import type { TfAttrValue } from '../../../src/model/tfjs/model-json.ts';
import { assertClose, attr, compareWithTfjs, randomInput, TinyGraph } from './tiny-graph.ts';

const TOLERANCE = 1e-4;

function convAttrs(strides = [1, 1, 1, 1], padding = 'SAME', extra: Record<string, TfAttrValue> = {}): Record<string, TfAttrValue> {
  return { strides: attr.ints(strides), padding: attr.s(padding), data_format: attr.s('NHWC'), dilations: attr.ints([1, 1, 1, 1]), ...extra };
}

function fused(ops: string[], numArgs = 1): Record<string, TfAttrValue> {
  return { fused_ops: attr.strs(ops), num_args: attr.i(numArgs), epsilon: attr.f(0) };
}

/** A 1x1 _FusedConv2D with bias: gives NCHW-stored tensors for the layout-sensitive tests. */
function pointwise(g: TinyGraph, name: string, x: string, cin: number, cout: number): string {
  return g.node(name, '_FusedConv2D', [x, g.floats(`${name}/w`, [1, 1, cin, cout]), g.floats(`${name}/b`, [cout])], {
    ...convAttrs(),
    ...fused(['BiasAdd']),
  });
}

async function check(g: TinyGraph, shape: number[], outputs: string[], options = {}, seed = 7): Promise<void> {
  assertClose(await compareWithTfjs(g.build(), randomInput(shape, seed), shape, outputs, options), TOLERANCE);
}

describe('conv ops', () => {
  it('fused conv: SAME stride 2 on odd sizes (asymmetric pads) with each fused activation', async () => {
    const g = new TinyGraph(11);
    const x = g.input('x', [-1, 9, 10, 4]);
    const outputs = ['Relu', 'Relu6', 'Elu', 'Sigmoid', 'LeakyRelu'].map((act) =>
      g.node(`conv_${act}`, '_FusedConv2D', [x, g.floats(`w_${act}`, [3, 3, 4, 6]), g.floats(`b_${act}`, [6])], {
        ...convAttrs([1, 2, 2, 1]),
        ...fused(['BiasAdd', act]),
        leakyrelu_alpha: attr.f(0.3),
      }),
    );
    await check(g, [2, 9, 10, 4], outputs, { dynamicBatch: true });
  });

  it('Conv2D VALID with dilations, and EXPLICIT padding', async () => {
    const g = new TinyGraph(12);
    const x = g.input('x', [1, 11, 12, 3]);
    const dilated = g.node('dilated', 'Conv2D', [x, g.floats('w1', [3, 3, 3, 5])], convAttrs([1, 1, 1, 1], 'VALID', { dilations: attr.ints([1, 2, 2, 1]) }));
    const explicit = g.node('explicit', '_FusedConv2D', [x, g.floats('w2', [3, 2, 3, 4]), g.floats('b2', [4])], {
      ...convAttrs([1, 2, 1, 1], 'EXPLICIT', { explicit_paddings: attr.ints([0, 0, 1, 2, 2, 0, 0, 0]) }),
      ...fused(['BiasAdd']),
    });
    await check(g, [1, 11, 12, 3], [dilated, explicit]);
  });

  it('depthwise convs: fused with channel multiplier and stride, and plain', async () => {
    const g = new TinyGraph(13);
    const x = g.input('x', [1, 10, 9, 4]);
    const dw = g.node('dw', 'FusedDepthwiseConv2dNative', [x, g.floats('dw/w', [3, 3, 4, 2]), g.floats('dw/b', [8])], {
      ...convAttrs([1, 2, 2, 1]),
      ...fused(['BiasAdd', 'Relu']),
    });
    const plain = g.node('plain', 'DepthwiseConv2dNative', [dw, g.floats('plain/w', [5, 5, 8, 1])], convAttrs());
    await check(g, [1, 10, 9, 4], [dw, plain]);
  });

  it('fused conv with Prelu slopes', async () => {
    const g = new TinyGraph(14);
    const x = g.input('x', [1, 6, 6, 3]);
    const out = g.node('prelu', '_FusedConv2D', [x, g.floats('w', [3, 3, 3, 4]), g.floats('b', [4]), g.floats('alpha', [4])], {
      ...convAttrs(),
      ...fused(['BiasAdd', 'Prelu'], 2),
    });
    await check(g, [1, 6, 6, 3], [out]);
  });

  it('symbolic batch, height and width (auto_pad SAME_UPPER)', async () => {
    const g = new TinyGraph(15);
    const x = g.input('x', [-1, -1, -1, 3]);
    const out = g.node('conv', '_FusedConv2D', [x, g.floats('w', [3, 3, 3, 4]), g.floats('b', [4])], {
      ...convAttrs([1, 2, 2, 1]),
      ...fused(['BiasAdd', 'Relu6']),
    });
    const model = g.build();
    const bytes = convertTfjsGraphToOnnx(model, { outputs: [out], inputSize: null, dynamicBatch: true });
    const dims = parseModel(bytes).graph?.input?.[0]?.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue));
    assert.deepEqual(dims, ['batch', 'height', 'width', 3]);
    for (const shape of [
      [1, 9, 13, 3],
      [2, 16, 8, 3],
    ]) {
      assertClose(await compareWithTfjs(model, randomInput(shape), shape, [out], { inputSize: null, dynamicBatch: true }), TOLERANCE);
    }
  });
});

describe('elementwise ops', () => {
  it('arithmetic, activations and broadcasting across NCHW and NHWC operands', async () => {
    const g = new TinyGraph(21);
    const x = g.input('x', [1, 6, 7, 3]);
    const c1 = pointwise(g, 'c1', x, 3, 4);
    const c2 = pointwise(g, 'c2', x, 3, 4);
    const c3 = pointwise(g, 'c3', x, 3, 3);
    const added = g.node('add', 'AddV2', [c1, g.floats('add/y', [4])]);
    const scaled = g.node('mul', 'Mul', [g.floats('mul/x', [], [1.5]), added]);
    const diff = g.node('sub', 'Sub', [scaled, c2]);
    const divided = g.node('div', 'RealDiv', [diff, g.floats('div/y', [4], [0.5, 1.5, 2, 4])]);
    const clipped = g.node('min', 'Minimum', [g.node('max', 'Maximum', [divided, g.floats('lo', [], [-0.2])]), g.floats('hi', [], [0.7])]);
    const mixed = g.node('mixed', 'Add', [c3, x]); // NCHW-stored conv output + NHWC input
    const hs = g.node('hs/mul_1', 'Mul', [
      g.node('hs/mul', 'Mul', [g.floats('sixth', [], [1 / 6]), c1]),
      g.node('hs/relu6', 'Relu6', [g.node('hs/add', 'Add', [c1, g.floats('three', [], [3])])]),
    ]);
    const pooled = g.node('pooled', 'Mean', [c2, g.ints('axes', [1, 2])], { keep_dims: attr.b(false), Tidx: attr.type('DT_INT32') });
    const gated = g.node('gated', 'Mul', [c1, pooled]); // runtime [1,4] broadcast against NCHW [1,6,7,4]
    const rsqrt = g.node('rsqrt', 'Rsqrt', [g.node('sq1', 'AddV2', [g.node('square', 'Square', [c2]), g.floats('one', [], [1])])]);
    const unary = ['Relu', 'Sigmoid', 'Tanh', 'Elu', 'Neg', 'Abs', 'Exp'].map((op) => g.node(`u_${op}`, op, [clipped]));
    const leaky = g.node('leaky', 'LeakyRelu', [diff], { alpha: attr.f(0.1) });
    const bias = g.node('bias', 'BiasAdd', [c2, g.floats('bias/b', [4])], { data_format: attr.s('NHWC') });
    const positive = g.node('positive', 'Cast', [g.node('gt', 'Greater', [c1, g.floats('zero', [], [0])])], {
      SrcT: attr.type('DT_BOOL'),
      DstT: attr.type('DT_FLOAT'),
    });
    await check(g, [1, 6, 7, 3], [added, scaled, diff, divided, clipped, mixed, hs, gated, rsqrt, ...unary, leaky, bias, positive]);
  });
});

describe('hard-swish fusion', () => {
  it('fuses both groupings into HardSwish, keeping float16 1/6 exact, and keeps pieces that are outputs', async () => {
    const g = new TinyGraph(22);
    const x = g.input('x', [1, 5, 6, 3]);
    const c = pointwise(g, 'c', x, 3, 4);
    const relu6 = (name: string) => g.node(`${name}/relu6`, 'Relu6', [g.node(`${name}/add`, 'AddV2', [c, g.floats(`${name}/three`, [], [3])])]);
    // TF-slim grouping with float16's 1/6, as in CenterNet
    const slim = g.node('slim', 'Mul', [g.node('slim/mul', 'Mul', [g.floats('slim/k', [], [0.1666259765625]), c]), relu6('slim')]);
    // Keras grouping with an exact 1/6
    const keras = g.node('keras', 'Mul', [g.node('keras/mul', 'Mul', [c, relu6('keras')]), g.floats('keras/k', [], [1 / 6])]);
    const outputs = [slim, keras];
    assertClose(await compareWithTfjs(g.build(), randomInput([1, 5, 6, 3], 5, 4), [1, 5, 6, 3], outputs), TOLERANCE);
    const ops = (names: string[]) => parseModel(convertTfjsGraphToOnnx(g.build(), { outputs: names })).graph?.node?.map((n) => n.opType) ?? [];
    const fusedOps = ops(outputs);
    assert.equal(fusedOps.filter((op) => op === 'HardSwish').length, 2);
    assert.ok(!fusedOps.includes('Clip'), 'the unfused pieces are removed');
    assert.ok(ops([slim, 'slim/relu6']).includes('Clip'), 'a piece requested as an output stays');
  });
});

describe('pool ops', () => {
  it('AvgPool / MaxPool with SAME and VALID windows, and reductions', async () => {
    const g = new TinyGraph(31);
    const x = g.input('x', [2, 9, 11, 5]);
    const c = pointwise(g, 'c', x, 5, 6);
    const pool = (name: string, op: string, k: number, s: number, padding: string) =>
      g.node(name, op, [c], { ksize: attr.ints([1, k, k, 1]), strides: attr.ints([1, s, s, 1]), padding: attr.s(padding), data_format: attr.s('NHWC') });
    const outputs = [
      pool('avg_same', 'AvgPool', 3, 2, 'SAME'),
      pool('avg_valid', 'AvgPool', 2, 2, 'VALID'),
      pool('max_same', 'MaxPool', 3, 1, 'SAME'),
      pool('max_valid', 'MaxPool', 3, 2, 'VALID'),
      g.node('mean_keep', 'Mean', [c, g.ints('hw', [1, 2])], { keep_dims: attr.b(true) }),
      g.node('mean_drop', 'Mean', [c, g.ints('hw2', [1, 2])], { keep_dims: attr.b(false) }),
      g.node('sum_c', 'Sum', [c, g.ints('c_axis', [-1])], { keep_dims: attr.b(false) }),
      g.node('max_h', 'Max', [c, g.ints('h_axis', [1])], { keep_dims: attr.b(true) }),
      g.node('argmax_c', 'ArgMax', [c, g.ints('c_axis2', [3], [])], { output_type: attr.type('DT_INT32') }),
    ];
    await check(g, [2, 9, 11, 5], outputs);
  });
});

describe('shape ops', () => {
  it('Reshape, Squeeze, ConcatV2, SplitV, ExpandDims and Identity on NCHW-stored data', async () => {
    const g = new TinyGraph(41);
    const x = g.input('x', [1, 6, 8, 4]);
    const c = pointwise(g, 'c', x, 4, 6);
    const flat = g.node('flat', 'Reshape', [c, g.ints('flat/shape', [1, -1])]);
    const squeezed = g.node('squeezed', 'Squeeze', [g.node('m', 'Mean', [c, g.ints('hw', [1, 2])], { keep_dims: attr.b(true) })], {
      squeeze_dims: attr.ints([1, 2]),
    });
    const cat = g.node('cat', 'ConcatV2', [c, x, g.ints('cat/axis', [3], [])], { N: attr.i(2) });
    const catNeg = g.node('cat_neg', 'ConcatV2', [x, c, g.ints('cat_neg/axis', [-1], [])], { N: attr.i(2) });
    g.node('split', 'SplitV', [c, g.ints('split/sizes', [2, -1]), g.ints('split/axis', [3], [])], { num_split: attr.i(2) });
    const expanded = g.node('expanded', 'ExpandDims', [squeezed, g.ints('expanded/dim', [1], [])]);
    const ident = g.node('ident', 'Identity', [c]);
    await check(g, [1, 6, 8, 4], [flat, squeezed, cat, catNeg, 'split', 'split:1', expanded, ident]);
  });

  it('Transpose / Pad / Transpose chains (onnx-tf style) collapse into layout changes', async () => {
    const g = new TinyGraph(42);
    const x = g.input('x', [1, 3, 10, 9]); // NCHW input, like nanodet
    const padded = g.node('pad', 'Pad', [x, g.ints('pad/p', [0, 0, 0, 0, 1, 2, 0, 1], [4, 2])]);
    const nhwc = g.node('to_nhwc', 'Transpose', [padded, g.ints('perm1', [0, 2, 3, 1])]);
    const conv = g.node('conv', 'Conv2D', [nhwc, g.floats('w', [3, 3, 3, 4])], convAttrs([1, 2, 2, 1], 'VALID'));
    const nchw = g.node('to_nchw', 'Transpose', [conv, g.ints('perm2', [0, 3, 1, 2])]);
    const act = g.node('act', 'LeakyRelu', [g.node('bias', 'Add', [conv, g.floats('b', [4])])], { alpha: attr.f(0.1) });
    const padV2 = g.node('padv2', 'PadV2', [nchw, g.ints('padv2/p', [0, 0, 0, 0, 1, 1, 2, 0], [4, 2]), g.floats('padv2/v', [], [0.5])]);
    const mirror = g.node('mirror', 'MirrorPad', [act, g.ints('mirror/p', [0, 0, 2, 1, 1, 2, 0, 0], [4, 2])], { mode: attr.s('REFLECT') });
    await check(g, [1, 3, 10, 9], [padded, nhwc, conv, nchw, act, padV2, mirror]);
  });

  it('StridedSlice with masks and shrink, and Slice', async () => {
    const g = new TinyGraph(43);
    const x = g.input('x', [1, 7, 8, 5]);
    const c = pointwise(g, 'c', x, 5, 6);
    const strided = g.node('strided', 'StridedSlice', [c, g.ints('b1', [0, 1, 0, 0]), g.ints('e1', [0, 6, 0, 0]), g.ints('s1', [1, 2, 1, 1])], {
      begin_mask: attr.i(0b1101),
      end_mask: attr.i(0b1101),
      ellipsis_mask: attr.i(0),
      new_axis_mask: attr.i(0),
      shrink_axis_mask: attr.i(0),
    });
    const shrunk = g.node('shrunk', 'StridedSlice', [c, g.ints('b2', [0, 0, 0, 2]), g.ints('e2', [0, 0, 0, 3]), g.ints('s2', [1, 1, 1, 1])], {
      begin_mask: attr.i(0b0111),
      end_mask: attr.i(0b0111),
      ellipsis_mask: attr.i(0),
      new_axis_mask: attr.i(0),
      shrink_axis_mask: attr.i(0b1000),
    });
    const reversed = g.node('reversed', 'StridedSlice', [c, g.ints('b3', [0, -1, 0, 0]), g.ints('e3', [0, 0, 0, 0]), g.ints('s3', [1, -2, 1, 1])], {
      begin_mask: attr.i(0b1101),
      end_mask: attr.i(0b1111),
      ellipsis_mask: attr.i(0),
      new_axis_mask: attr.i(0),
      shrink_axis_mask: attr.i(0),
    });
    const sliced = g.node('sliced', 'Slice', [c, g.ints('sb', [0, 1, 2, 0]), g.ints('ss', [1, 3, -1, 2])]);
    await check(g, [1, 7, 8, 5], [strided, shrunk, reversed, sliced]);
  });
});

describe('matmul ops', () => {
  it('_FusedMatMul, transposed MatMul, BatchMatMulV2, Softmax and LogSoftmax', async () => {
    const g = new TinyGraph(51);
    const x = g.input('x', [3, 8]);
    const dense = g.node('dense', '_FusedMatMul', [x, g.floats('w', [8, 5]), g.floats('b', [5])], {
      ...fused(['BiasAdd', 'Relu']),
      transpose_a: attr.b(false),
      transpose_b: attr.b(false),
    });
    const tb = g.node('tb', 'MatMul', [x, g.floats('w2', [6, 8])], { transpose_a: attr.b(false), transpose_b: attr.b(true) });
    const ta = g.node('ta', 'MatMul', [x, g.floats('w3', [3, 4])], { transpose_a: attr.b(true), transpose_b: attr.b(false) });
    const batched = g.node('batched', 'BatchMatMulV2', [g.node('r', 'Reshape', [x, g.ints('r/s', [3, 2, 4])]), g.floats('w4', [4, 5])], {
      adj_x: attr.b(false),
      adj_y: attr.b(false),
    });
    const softmax = g.node('softmax', 'Softmax', [tb]);
    const logSoftmax = g.node('log_softmax', 'LogSoftmax', [dense]);
    await check(g, [3, 8], [dense, tb, ta, batched, softmax, logSoftmax]);
  });

  it('Softmax over channels of an NCHW-stored map', async () => {
    const g = new TinyGraph(52);
    const x = g.input('x', [1, 4, 5, 3]);
    const out = g.node('softmax', 'Softmax', [pointwise(g, 'c', x, 3, 7)]);
    await check(g, [1, 4, 5, 3], [out]);
  });
});

describe('resize ops', () => {
  it('ResizeBilinear and ResizeNearestNeighbor in all coordinate modes', async () => {
    const g = new TinyGraph(61);
    const x = g.input('x', [-1, 5, 7, 3]);
    const c = pointwise(g, 'c', x, 3, 4);
    const outputs: string[] = [];
    const modes: Array<[string, boolean, boolean]> = [
      ['asym', false, false],
      ['half', false, true],
      ['corners', true, false],
    ];
    for (const [mode, alignCorners, halfPixel] of modes) {
      const a = { align_corners: attr.b(alignCorners), half_pixel_centers: attr.b(halfPixel) };
      outputs.push(g.node(`up_${mode}`, 'ResizeBilinear', [c, g.ints(`up_${mode}/size`, [9, 13])], a));
      outputs.push(g.node(`down_${mode}`, 'ResizeBilinear', [c, g.ints(`down_${mode}/size`, [3, 4])], a));
      outputs.push(g.node(`nn_${mode}`, 'ResizeNearestNeighbor', [c, g.ints(`nn_${mode}/size`, [11, 10])], a));
    }
    await check(g, [2, 5, 7, 3], outputs, { dynamicBatch: true });
  });
});

describe('integer ops', () => {
  it('a CenterNet-style peak decoder: MaxPool/Equal/Cast, TopKV2, FloorDiv, FloorMod, GatherV2', async () => {
    const g = new TinyGraph(71);
    const x = g.input('x', [1, 8, 8, 3]);
    const heat = g.node('heat', 'Sigmoid', [x]);
    const peaks = g.node('peaks', 'MaxPool', [heat], {
      ksize: attr.ints([1, 3, 3, 1]),
      strides: attr.ints([1, 1, 1, 1]),
      padding: attr.s('SAME'),
      data_format: attr.s('NHWC'),
    });
    const isPeak = g.node('is_peak', 'Cast', [g.node('eq', 'Equal', [heat, peaks])], { SrcT: attr.type('DT_BOOL'), DstT: attr.type('DT_FLOAT') });
    const flat = g.node('flat', 'Reshape', [g.node('kept', 'Mul', [heat, isPeak]), g.ints('flat/shape', [1, -1])]);
    g.node('topk', 'TopKV2', [flat, g.ints('k', [6], [])], { sorted: attr.b(true) });
    const classes = g.ints('classes', [3], []);
    const cell = g.node('cell', 'FloorDiv', ['topk:1', classes], { T: attr.type('DT_INT32') });
    const cls = g.node('cls', 'FloorMod', ['topk:1', classes], { T: attr.type('DT_INT32') });
    const shifted = g.node('shifted', 'Sub', [cell, g.ints('offset', [10], [])], { T: attr.type('DT_INT32') });
    const negDiv = g.node('neg_div', 'FloorDiv', [shifted, g.ints('seven', [7], [])], { T: attr.type('DT_INT32') });
    const negMod = g.node('neg_mod', 'FloorMod', [shifted, g.ints('seven2', [7], [])], { T: attr.type('DT_INT32') });
    const row = g.node('row', 'Cast', [g.node('row_i', 'FloorDiv', [cell, g.ints('w', [8], [])], { T: attr.type('DT_INT32') })], {
      SrcT: attr.type('DT_INT32'),
      DstT: attr.type('DT_FLOAT'),
    });
    const gathered = g.node('gathered', 'GatherV2', [g.node('heat_flat', 'Reshape', [heat, g.ints('hf', [-1])]), 'topk:1', g.ints('g_axis', [0], [])], {
      batch_dims: attr.i(0),
    });
    const fdiv = g.node('fdiv', 'FloorDiv', [x, g.floats('fd', [], [0.3])]);
    const fmod = g.node('fmod', 'FloorMod', [x, g.floats('fm', [], [0.3])]);
    await check(g, [1, 8, 8, 3], ['topk', 'topk:1', cell, cls, negDiv, negMod, row, gathered, fdiv, fmod], {}, 9);
  });
});
