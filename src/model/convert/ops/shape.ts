// Ops that move data without computing on it. Transpose only changes the recorded layout;
// Concat/Pad/Split/Squeeze/StridedSlice remap their axes to the stored layout; Reshape and
// ExpandDims need TF order, so their input is transposed back first.
import { attrInt, attrInts, attrString, type TfNodeDef } from '../../tfjs/model-json.ts';
import { type ConversionContext, fail, type SymDim, type Value } from '../context.ts';
import { afterTranspose, dropAxes, identity, normAxis, onnxAxis, type Perm } from '../layout.ts';
import { knownSize, type OpConverter, type OpTable } from './types.ts';

/** Larger than any dimension; ONNX Slice clamps it. */
const BIG = 2 ** 40;

function only(node: TfNodeDef, inputs: readonly Value[]): Value {
  const x = inputs[0];
  if (!x) throw fail(node, 'missing input');
  return x;
}

function constInts(node: TfNodeDef, inputs: readonly Value[], index: number, what: string, ctx: ConversionContext): number[] {
  return Array.from(ctx.requireConst(node, inputs, index, what).data);
}

/** The layout most operands already share, so that converting the rest costs least. */
function commonPerm(values: readonly Value[], rank: number): Perm {
  return values.find((v) => !v.constant && v.shape.length === rank)?.perm ?? identity(rank);
}

/** TF Reshape shape with -1 resolved where the element count is known. */
function reshapeTarget(x: Value, target: readonly number[]): SymDim[] {
  const total = knownSize(x.shape);
  const rest = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  return target.map((d) => (d === -1 ? (total === null || rest === 0 ? null : total / rest) : d));
}

const reshape: OpConverter = (node, inputs, ctx) => {
  const x = only(node, inputs);
  const shapeInput = inputs[1];
  if (!shapeInput) throw fail(node, 'missing shape');
  if (shapeInput.constant) {
    const target = Array.from(shapeInput.constant.data);
    // TF's 0 is a real zero-size dim; ONNX's means "copy", unless allowzero is set
    const attrs: Record<string, number> = target.includes(0) ? { allowzero: 1 } : {};
    const out = ctx.graph.op1('Reshape', [ctx.tensor(x), ctx.ints(target, `${node.name}/shape`)], attrs, node.name);
    return [ctx.runtime(out, x.dtype, reshapeTarget(x, target))];
  }
  const rank = shapeInput.shape[0];
  if (typeof rank !== 'number') throw fail(node, 'shape tensor must have a known length');
  const out = ctx.graph.op1('Reshape', [ctx.tensor(x), ctx.tensor(shapeInput)], {}, node.name);
  return [ctx.runtime(out, x.dtype, new Array<SymDim>(rank).fill(null))];
};

const squeeze: OpConverter = (node, inputs, ctx) => {
  const x = only(node, inputs);
  const rank = x.shape.length;
  const listed = [...attrInts(node, 'squeeze_dims'), ...attrInts(node, 'axis')].map((a) => normAxis(a, rank));
  const axes = listed.length > 0 ? listed : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  if (listed.length === 0 && x.shape.some((d) => typeof d !== 'number')) throw fail(node, 'squeezing all unit dims needs a known shape');
  const onnxAxes = axes.map((a) => onnxAxis(x.perm, a));
  const out = ctx.graph.op1('Squeeze', [ctx.stored(x), ctx.ints(onnxAxes)], {}, node.name);
  return [ctx.runtime(out, x.dtype, x.shape.filter((_, i) => !axes.includes(i)), dropAxes(x.perm, axes))];
};

const expandDims: OpConverter = (node, inputs, ctx) => {
  const x = only(node, inputs);
  const [dim] = constInts(node, inputs, 1, 'axis', ctx);
  const axis = normAxis(dim as number, x.shape.length + 1);
  const out = ctx.graph.op1('Unsqueeze', [ctx.tensor(x), ctx.ints([axis])], {}, node.name);
  const shape = [...x.shape];
  shape.splice(axis, 0, 1);
  return [ctx.runtime(out, x.dtype, shape)];
};

function concatValues(node: TfNodeDef, values: readonly Value[], axisValue: number, ctx: ConversionContext): Value[] {
  const first = values[0];
  if (!first) throw fail(node, 'nothing to concatenate');
  const rank = first.shape.length;
  const axis = normAxis(axisValue, rank);
  const perm = commonPerm(values, rank);
  const out = ctx.graph.op1('Concat', values.map((v) => ctx.tensor(v, perm)), { axis: onnxAxis(perm, axis) }, node.name);
  const shape = first.shape.map((d, i) => {
    if (i !== axis) return values.map((v) => v.shape[i]).find((s) => typeof s === 'number') ?? d;
    return values.every((v) => typeof v.shape[i] === 'number') ? values.reduce((n, v) => n + (v.shape[i] as number), 0) : null;
  });
  return [ctx.runtime(out, first.dtype, shape, perm)];
}

const concatV2: OpConverter = (node, inputs, ctx) => {
  const [axis] = constInts(node, inputs, inputs.length - 1, 'axis', ctx);
  return concatValues(node, inputs.slice(0, -1), axis as number, ctx);
};

const concat: OpConverter = (node, inputs, ctx) => {
  const [axis] = constInts(node, inputs, 0, 'axis', ctx);
  return concatValues(node, inputs.slice(1), axis as number, ctx);
};

const pack: OpConverter = (node, inputs, ctx) => {
  const first = only(node, inputs);
  const axis = normAxis(attrInt(node, 'axis', 0), first.shape.length + 1);
  const parts = inputs.map((v) => ctx.graph.op1('Unsqueeze', [ctx.tensor(v), ctx.ints([axis])], {}, `${node.name}/unsqueeze`));
  const out = ctx.graph.op1('Concat', parts, { axis }, node.name);
  const shape = [...first.shape];
  shape.splice(axis, 0, inputs.length);
  return [ctx.runtime(out, first.dtype, shape)];
};

const transpose: OpConverter = (node, inputs, ctx) => {
  const x = only(node, inputs);
  const tfPerm = constInts(node, inputs, 1, 'perm', ctx);
  // No ONNX op: the same stored data now stands for the transposed TF tensor.
  return [{ ...x, onnx: ctx.stored(x), constant: undefined, shape: tfPerm.map((p) => x.shape[p] ?? null), perm: afterTranspose(x.perm, tfPerm) }];
};

function pad(mode: 'constant' | 'mirror'): OpConverter {
  return (node, inputs, ctx) => {
    const x = only(node, inputs);
    const paddings = constInts(node, inputs, 1, 'paddings', ctx);
    const rank = x.shape.length;
    if (paddings.length !== rank * 2) throw fail(node, 'paddings must be [rank, 2]');
    // ONNX pads: all begins then all ends, in stored axis order
    const begins = x.perm.map((a) => paddings[a * 2] as number);
    const ends = x.perm.map((a) => paddings[a * 2 + 1] as number);
    const operands = [ctx.stored(x), ctx.ints([...begins, ...ends], `${node.name}/pads`)];
    let attrs = {};
    if (mode === 'mirror') {
      const tfMode = attrString(node, 'mode', 'REFLECT');
      if (tfMode !== 'REFLECT') throw fail(node, `MirrorPad mode ${tfMode} has no ONNX equivalent`);
      attrs = { mode: 'reflect' };
    } else if (inputs[2]) {
      const value = ctx.requireConst(node, inputs, 2, 'constant value');
      operands.push(ctx.scalar(value.data[0] as number, x.dtype));
    }
    const out = ctx.graph.op1('Pad', operands, attrs, node.name);
    const shape = x.shape.map((d, i) => (typeof d === 'number' ? d + (paddings[i * 2] as number) + (paddings[i * 2 + 1] as number) : null));
    return [ctx.runtime(out, x.dtype, shape, x.perm)];
  };
}

function splitInto(node: TfNodeDef, x: Value, axisValue: number, sizes: number[] | undefined, count: number, ctx: ConversionContext): Value[] {
  const axis = normAxis(axisValue, x.shape.length);
  const dim = x.shape[axis];
  let parts = sizes;
  if (parts?.includes(-1)) {
    if (typeof dim !== 'number') throw fail(node, 'a -1 split size needs a known dimension');
    const rest = parts.filter((s) => s !== -1).reduce((a, b) => a + b, 0);
    parts = parts.map((s) => (s === -1 ? dim - rest : s));
  }
  const operands = [ctx.stored(x)];
  if (parts) operands.push(ctx.ints(parts, `${node.name}/split`));
  const outs = ctx.graph.op('Split', operands, { axis: onnxAxis(x.perm, axis) }, node.name, count);
  return outs.map((name, i) => {
    const shape = [...x.shape];
    shape[axis] = parts ? (parts[i] as number) : typeof dim === 'number' ? dim / count : null;
    return ctx.runtime(name, x.dtype, shape, x.perm);
  });
}

const splitV: OpConverter = (node, inputs, ctx) => {
  const sizes = constInts(node, inputs, 1, 'size_splits', ctx);
  const [axis] = constInts(node, inputs, 2, 'axis', ctx);
  return splitInto(node, only(node, inputs), axis as number, sizes, attrInt(node, 'num_split', sizes.length), ctx);
};

const split: OpConverter = (node, inputs, ctx) => {
  const [axis] = constInts(node, inputs, 0, 'axis', ctx);
  const x = inputs[1];
  if (!x) throw fail(node, 'missing input');
  return splitInto(node, x, axis as number, undefined, attrInt(node, 'num_split', 1), ctx);
};

/** Slice along TF axes, applied on the stored layout. */
function sliceAxes(
  node: TfNodeDef,
  x: Value,
  axes: number[],
  starts: number[],
  ends: number[],
  steps: number[],
  ctx: ConversionContext,
): { name: string; shape: SymDim[] } {
  const name = ctx.graph.op1(
    'Slice',
    [ctx.stored(x), ctx.ints(starts), ctx.ints(ends), ctx.ints(axes.map((a) => onnxAxis(x.perm, a))), ctx.ints(steps)],
    {},
    node.name,
  );
  const shape = x.shape.map((d, axis) => {
    const k = axes.indexOf(axis);
    if (k < 0) return d;
    if (typeof d !== 'number') return null;
    const step = steps[k] as number;
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    const s = step > 0 ? clamp(starts[k] as number, 0, d) : clamp(starts[k] as number, -1, d - 1);
    const e = step > 0 ? clamp(ends[k] as number, 0, d) : clamp(ends[k] as number, -1, d - 1);
    return Math.max(0, Math.ceil((e - s) / step));
  });
  return { name, shape };
}

const stridedSlice: OpConverter = (node, inputs, ctx) => {
  const x = only(node, inputs);
  if (attrInt(node, 'ellipsis_mask', 0) !== 0 || attrInt(node, 'new_axis_mask', 0) !== 0) {
    throw fail(node, 'ellipsis_mask and new_axis_mask are not supported');
  }
  const begin = constInts(node, inputs, 1, 'begin', ctx);
  const end = constInts(node, inputs, 2, 'end', ctx);
  const strides = constInts(node, inputs, 3, 'strides', ctx);
  const [beginMask, endMask, shrinkMask] = ['begin_mask', 'end_mask', 'shrink_axis_mask'].map((k) => attrInt(node, k, 0)) as [number, number, number];
  const axes: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const steps: number[] = [];
  const shrink: number[] = [];
  begin.forEach((b, axis) => {
    const bit = 1 << axis;
    let step = strides[axis] ?? 1;
    let start = beginMask & bit ? (step > 0 ? 0 : -1) : b;
    let stop = endMask & bit ? (step > 0 ? BIG : -BIG) : (end[axis] as number);
    if (shrinkMask & bit) {
      start = b;
      stop = b === -1 ? BIG : b + 1;
      step = 1;
      shrink.push(axis);
    }
    if (start === 0 && stop >= BIG && step === 1) return; // whole axis
    axes.push(axis);
    starts.push(start);
    ends.push(stop);
    steps.push(step);
  });
  let current: Value = x;
  if (axes.length > 0) {
    const { name, shape } = sliceAxes(node, x, axes, starts, ends, steps, ctx);
    current = ctx.runtime(name, x.dtype, shape, x.perm);
  }
  if (shrink.length === 0) return [current];
  const out = ctx.graph.op1('Squeeze', [ctx.stored(current), ctx.ints(shrink.map((a) => onnxAxis(current.perm, a)))], {}, `${node.name}/shrink`);
  return [ctx.runtime(out, x.dtype, current.shape.filter((_, i) => !shrink.includes(i)), dropAxes(current.perm, shrink))];
};

const slice: OpConverter = (node, inputs, ctx) => {
  const x = only(node, inputs);
  const begin = constInts(node, inputs, 1, 'begin', ctx);
  const size = constInts(node, inputs, 2, 'size', ctx);
  const ends = size.map((s, i) => (s === -1 ? BIG : (begin[i] as number) + s));
  const { name, shape } = sliceAxes(node, x, identity(begin.length), begin, ends, begin.map(() => 1), ctx);
  return [ctx.runtime(name, x.dtype, shape, x.perm)];
};

const shapeOp: OpConverter = (node, inputs, ctx) => {
  const x = only(node, inputs);
  const dims = x.shape;
  if (dims.every((d): d is number => typeof d === 'number')) {
    return [ctx.constant({ dtype: 'int32', shape: [dims.length], data: Int32Array.from(dims) })];
  }
  return [ctx.runtime(ctx.graph.op1('Shape', [ctx.tensor(x)], {}, node.name), 'int32', [dims.length])];
};

const passThrough: OpConverter = (_node, inputs) => [...inputs];

export const shapeOps: OpTable = {
  Identity: passThrough,
  IdentityN: passThrough,
  StopGradient: passThrough,
  Snapshot: passThrough,
  Reshape: reshape,
  Squeeze: squeeze,
  ExpandDims: expandDims,
  ConcatV2: concatV2,
  Concat: concat,
  Pack: pack,
  Transpose: transpose,
  Pad: pad('constant'),
  PadV2: pad('constant'),
  MirrorPad: pad('mirror'),
  SplitV: splitV,
  Split: split,
  StridedSlice: stridedSlice,
  Slice: slice,
  Shape: shapeOp,
};
