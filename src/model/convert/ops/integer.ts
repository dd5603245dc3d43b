// The index arithmetic detection decoders use (CenterNet's top-k peak decoding): Cast,
// FloorDiv, FloorMod, TopKV2 and GatherV2. TF int32 tensors are ONNX int64 throughout.
import { attrInt, attrType, type TfNodeDef } from '../../tfjs/model-json.ts';
import type { HostDtype } from '../../tfjs/weights.ts';
import { type ConversionContext, fail, onnxElemType, type Value } from '../context.ts';
import { normAxis, onnxAxis } from '../layout.ts';
import { alignOperands } from './elementwise.ts';
import type { OpConverter, OpTable } from './types.ts';

function tfDtype(node: TfNodeDef, type: string | undefined): HostDtype {
  switch (type) {
    case 'DT_FLOAT':
      return 'float32';
    case 'DT_INT32':
    case 'DT_INT64':
    case 'DT_INT16':
    case 'DT_INT8':
    case 'DT_UINT8':
      return 'int32';
    case 'DT_BOOL':
      return 'bool';
    default:
      throw fail(node, `dtype ${String(type)} is not supported`);
  }
}

const cast: OpConverter = (node, [x], ctx) => {
  if (!x) throw fail(node, 'missing input');
  const to = tfDtype(node, attrType(node, 'DstT'));
  if (to === x.dtype) return [x];
  const out = ctx.graph.op1('Cast', [ctx.stored(x)], { to: onnxElemType(to) }, node.name);
  return [ctx.runtime(out, to, x.shape, x.perm)];
};

/** floor(a / b) for floats: ONNX has no floor-division op. */
function floatFloorDiv(ctx: ConversionContext, a: string, b: string, hint: string): string {
  return ctx.graph.op1('Floor', [ctx.graph.op1('Div', [a, b], {}, `${hint}/div`)], {}, hint);
}

/** Integer division rounding toward -inf: ONNX Div truncates, so step down when signs differ and it is inexact. */
function intFloorDiv(ctx: ConversionContext, a: string, b: string, hint: string): string {
  const g = ctx.graph;
  const quotient = g.op1('Div', [a, b], {}, `${hint}/trunc`);
  const remainder = g.op1('Mod', [a, b], { fmod: 1 }, `${hint}/rem`);
  const zero = ctx.scalar(0, 'int32');
  const inexact = g.op1('Not', [g.op1('Equal', [remainder, zero], {}, `${hint}/exact`)], {}, `${hint}/inexact`);
  const signsDiffer = g.op1('Xor', [g.op1('Less', [remainder, zero], {}, `${hint}/rneg`), g.op1('Less', [b, zero], {}, `${hint}/bneg`)], {}, `${hint}/signs`);
  const adjust = g.op1('Cast', [g.op1('And', [inexact, signsDiffer], {}, `${hint}/adjust`)], { to: onnxElemType('int32') }, `${hint}/step`);
  return g.op1('Sub', [quotient, adjust], {}, hint);
}

const floorDiv: OpConverter = (node, inputs, ctx) => {
  const { names, shape, perm } = alignOperands(ctx, inputs);
  const [a, b] = names as [string, string];
  const dtype = (inputs[0] as Value).dtype;
  const out = dtype === 'float32' ? floatFloorDiv(ctx, a, b, node.name) : intFloorDiv(ctx, a, b, node.name);
  return [ctx.runtime(out, dtype, shape, perm)];
};

const floorMod: OpConverter = (node, inputs, ctx) => {
  const { names, shape, perm } = alignOperands(ctx, inputs);
  const [a, b] = names as [string, string];
  const dtype = (inputs[0] as Value).dtype;
  let out: string;
  if (dtype === 'float32') {
    const floored = floatFloorDiv(ctx, a, b, `${node.name}/floordiv`);
    out = ctx.graph.op1('Sub', [a, ctx.graph.op1('Mul', [floored, b], {}, `${node.name}/mul`)], {}, node.name);
  } else {
    out = ctx.graph.op1('Mod', [a, b], { fmod: 0 }, node.name); // integer Mod takes the divisor's sign, like TF
  }
  return [ctx.runtime(out, dtype, shape, perm)];
};

const topK: OpConverter = (node, inputs, ctx) => {
  const x = inputs[0];
  if (!x) throw fail(node, 'missing input');
  const k = ctx.requireConst(node, inputs, 1, 'k').data[0] as number;
  const last = x.shape.length - 1;
  const [values, indices] = ctx.graph.op('TopK', [ctx.stored(x), ctx.ints([k])], { axis: onnxAxis(x.perm, last), largest: 1, sorted: 1 }, node.name, 2) as [
    string,
    string,
  ];
  const shape = [...x.shape.slice(0, -1), k];
  return [ctx.runtime(values, x.dtype, shape, x.perm), ctx.runtime(indices, 'int32', shape, x.perm)];
};

const gather: OpConverter = (node, inputs, ctx) => {
  const [params, indices] = inputs;
  if (!params || !indices) throw fail(node, 'expected params and indices');
  if (attrInt(node, 'batch_dims', 0) !== 0) throw fail(node, 'batch_dims is not supported');
  const axis = normAxis(inputs[2] ? (ctx.requireConst(node, inputs, 2, 'axis').data[0] as number) : 0, params.shape.length);
  const out = ctx.graph.op1('Gather', [ctx.tensor(params), ctx.tensor(indices)], { axis }, node.name);
  const shape = [...params.shape.slice(0, axis), ...indices.shape, ...params.shape.slice(axis + 1)];
  return [ctx.runtime(out, params.dtype, shape)];
};

export const integerOps: OpTable = {
  Cast: cast,
  FloorDiv: floorDiv,
  FloorMod: floorMod,
  TopKV2: topK,
  GatherV2: gather,
  Gather: gather,
};
