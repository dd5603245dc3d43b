// Pooling and reductions: AvgPool/MaxPool run on NCHW storage; Mean/Sum/Max/Min/Prod and
// ArgMax reduce over TF axes remapped to wherever those axes are stored.
import { attrBool, attrString, type TfNodeDef } from '../../tfjs/model-json.ts';
import { type ConversionContext, fail, type SymDim, type Value } from '../context.ts';
import { dropAxes, identity, NHWC_AS_NCHW, normAxis, onnxAxis } from '../layout.ts';
import type { OpConverter, OpTable } from './types.ts';
import { readWindow, spatialPair, windowGeometry } from './window.ts';

function pool(onnxOp: 'AveragePool' | 'MaxPool'): OpConverter {
  return (node, [x], ctx) => {
    if (!x || x.shape.length !== 4) throw fail(node, 'input must be 4-D');
    const nhwc = attrString(node, 'data_format', 'NHWC') !== 'NCHW';
    const storage = nhwc ? NHWC_AS_NCHW : identity(4);
    const window = readWindow(node, nhwc, spatialPair(node, 'ksize', nhwc, 1));
    const inHW: [SymDim, SymDim] = nhwc ? [x.shape[1]!, x.shape[2]!] : [x.shape[2]!, x.shape[3]!];
    // AveragePool has no dilations before opset 19; TF pools have none either.
    const { attrs, outHW } = windowGeometry(window, inHW, false);
    const out = ctx.graph.op1(onnxOp, [ctx.tensor(x, storage)], attrs, node.name);
    const [n, c] = nhwc ? [x.shape[0]!, x.shape[3]!] : [x.shape[0]!, x.shape[1]!];
    const shape = nhwc ? [n, outHW[0], outHW[1], c] : [n, c, outHW[0], outHW[1]];
    return [ctx.runtime(out, x.dtype, shape, storage)];
  };
}

function reductionAxes(node: TfNodeDef, inputs: readonly Value[], ctx: ConversionContext): number[] {
  const x = inputs[0] as Value;
  const axes = ctx.requireConst(node, inputs, 1, 'reduction axes');
  return [...new Set(Array.from(axes.data, (a) => normAxis(a, x.shape.length)))].sort((a, b) => a - b);
}

/** Output of reducing `x` over TF `axes`: ONNX axes, result shape and storage perm. */
function reducedLayout(x: Value, axes: readonly number[], keep: boolean): { onnxAxes: number[]; shape: SymDim[]; perm: number[] } {
  return {
    onnxAxes: axes.map((a) => onnxAxis(x.perm, a)),
    shape: keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i)),
    perm: keep ? [...x.perm] : dropAxes(x.perm, axes),
  };
}

function reduction(onnxOp: string): OpConverter {
  return (node, inputs, ctx) => {
    const x = inputs[0];
    if (!x) throw fail(node, 'missing input');
    const axes = reductionAxes(node, inputs, ctx);
    if (axes.length === 0) return [x]; // TF reduces nothing; ONNX would reduce everything
    const keep = attrBool(node, 'keep_dims', false);
    const { onnxAxes, shape, perm } = reducedLayout(x, axes, keep);
    // opset 17: ReduceSum takes axes as an input, the others as an attribute
    const out =
      onnxOp === 'ReduceSum'
        ? ctx.graph.op1(onnxOp, [ctx.stored(x), ctx.ints(onnxAxes)], { keepdims: keep ? 1 : 0 }, node.name)
        : ctx.graph.op1(onnxOp, [ctx.stored(x)], { axes: onnxAxes, keepdims: keep ? 1 : 0 }, node.name);
    return [ctx.runtime(out, x.dtype, shape, perm)];
  };
}

function argReduction(onnxOp: 'ArgMax' | 'ArgMin'): OpConverter {
  return (node, inputs, ctx) => {
    const x = inputs[0];
    if (!x) throw fail(node, 'missing input');
    const axes = reductionAxes(node, inputs, ctx);
    if (axes.length !== 1) throw fail(node, 'needs exactly one axis');
    const { onnxAxes, shape, perm } = reducedLayout(x, axes, false);
    const out = ctx.graph.op1(onnxOp, [ctx.stored(x)], { axis: onnxAxes[0] as number, keepdims: 0 }, node.name);
    return [ctx.runtime(out, 'int32', shape, perm)];
  };
}

export const poolOps: OpTable = {
  AvgPool: pool('AveragePool'),
  MaxPool: pool('MaxPool'),
  Mean: reduction('ReduceMean'),
  Sum: reduction('ReduceSum'),
  Max: reduction('ReduceMax'),
  Min: reduction('ReduceMin'),
  Prod: reduction('ReduceProd'),
  ArgMax: argReduction('ArgMax'),
  ArgMin: argReduction('ArgMin'),
};
