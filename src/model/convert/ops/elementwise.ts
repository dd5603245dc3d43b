// Elementwise ops: arithmetic and comparisons with TF broadcasting, unary math and
// activations. They work in whatever layout their inputs are stored in, so NCHW chains
// between convolutions need no transposes.
import { attrFloat, attrString, type TfNodeDef } from '../../tfjs/model-json.ts';
import type { HostDtype } from '../../tfjs/weights.ts';
import { type ConversionContext, fail, type SymDim, type Value } from '../context.ts';
import { identity, type Perm } from '../layout.ts';
import { broadcastShapes, type OpConverter, type OpTable } from './types.ts';

/** Brings operands to a common rank and layout: that of the first full-rank runtime operand. */
export function alignOperands(ctx: ConversionContext, operands: readonly Value[]): { names: string[]; shape: SymDim[]; perm: Perm } {
  const shape = operands.reduce<SymDim[]>((s, v) => broadcastShapes(s, v.shape), []);
  const rank = shape.length;
  const lead = operands.find((v) => !v.constant && v.shape.length === rank);
  const perm = lead ? lead.perm : identity(rank);
  return { names: operands.map((v) => ctx.broadcastOperand(v, rank, perm)), shape, perm };
}

function nary(onnxOp: string, resultDtype?: HostDtype, arity?: number): OpConverter {
  return (node, inputs, ctx) => {
    if (arity !== undefined && inputs.length !== arity) throw fail(node, `expected ${arity} inputs, got ${inputs.length}`);
    const { names, shape, perm } = alignOperands(ctx, inputs);
    const out = ctx.graph.op1(onnxOp, names, {}, node.name);
    return [ctx.runtime(out, resultDtype ?? (inputs[0] as Value).dtype, shape, perm)];
  };
}

function unary(onnxOp: string, attrs: (node: TfNodeDef) => Record<string, { float: number }> = () => ({})): OpConverter {
  return (node, [x], ctx) => {
    if (!x) throw fail(node, 'missing input');
    const out = ctx.graph.op1(onnxOp, [ctx.stored(x)], attrs(node), node.name);
    return [ctx.runtime(out, x.dtype, x.shape, x.perm)];
  };
}

/** Relu6 is Clip(0, 6); ONNX Clip takes its bounds as inputs since opset 11. */
export function relu6(ctx: ConversionContext, x: string, hint: string): string {
  return ctx.graph.op1('Clip', [x, ctx.scalar(0), ctx.scalar(6)], {}, hint);
}

export interface ActivationArgs {
  /** LeakyRelu slope. */
  alpha?: number;
  /** Prelu slopes, broadcast against the output like a TF operand. */
  prelu?: Value;
  rank: number;
  perm: Perm;
}

/** Applies a TF fused activation (the second entry of `fused_ops`) to ONNX tensor `x`. */
export function emitActivation(ctx: ConversionContext, node: TfNodeDef, x: string, activation: string, args: ActivationArgs): string {
  const hint = node.name;
  switch (activation.toLowerCase()) {
    case '':
    case 'linear':
      return x;
    case 'relu':
      return ctx.graph.op1('Relu', [x], {}, hint);
    case 'relu6':
      return relu6(ctx, x, hint);
    case 'elu':
      return ctx.graph.op1('Elu', [x], {}, hint);
    case 'sigmoid':
      return ctx.graph.op1('Sigmoid', [x], {}, hint);
    case 'tanh':
      return ctx.graph.op1('Tanh', [x], {}, hint);
    case 'leakyrelu':
      return ctx.graph.op1('LeakyRelu', [x], { alpha: { float: args.alpha ?? 0.2 } }, hint);
    case 'prelu': {
      if (!args.prelu) throw fail(node, 'Prelu without slopes');
      return ctx.graph.op1('PRelu', [x, ctx.broadcastOperand(args.prelu, args.rank, args.perm)], {}, hint);
    }
    default:
      throw fail(node, `fused activation ${activation} is not supported`);
  }
}

const relu6Op: OpConverter = (node, [x], ctx) => {
  if (!x) throw fail(node, 'missing input');
  return [ctx.runtime(relu6(ctx, ctx.stored(x), node.name), x.dtype, x.shape, x.perm)];
};

const squareOp: OpConverter = (node, [x], ctx) => {
  if (!x) throw fail(node, 'missing input');
  const out = ctx.graph.op1('Mul', [ctx.stored(x), ctx.stored(x)], {}, node.name);
  return [ctx.runtime(out, x.dtype, x.shape, x.perm)];
};

const rsqrtOp: OpConverter = (node, [x], ctx) => {
  if (!x) throw fail(node, 'missing input');
  const root = ctx.graph.op1('Sqrt', [ctx.stored(x)], {}, `${node.name}/sqrt`);
  return [ctx.runtime(ctx.graph.op1('Reciprocal', [root], {}, node.name), x.dtype, x.shape, x.perm)];
};

const squaredDifferenceOp: OpConverter = (node, inputs, ctx) => {
  const { names, shape, perm } = alignOperands(ctx, inputs);
  const diff = ctx.graph.op1('Sub', names, {}, `${node.name}/diff`);
  const out = ctx.graph.op1('Mul', [diff, diff], {}, node.name);
  return [ctx.runtime(out, (inputs[0] as Value).dtype, shape, perm)];
};

/** BiasAdd adds a [C] vector on the channel axis, which is axis 1 for NCHW data. */
const biasAddOp: OpConverter = (node, [x, bias], ctx) => {
  if (!x || !bias) throw fail(node, 'expected 2 inputs');
  if (attrString(node, 'data_format', 'NHWC') === 'NCHW' && x.shape.length > 2) {
    const b = ctx.requireConst(node, [x, bias], 1, 'bias');
    const trailing = x.shape.length - 2;
    const shaped = ctx.constant({ ...b, shape: [...b.shape, ...new Array<number>(trailing).fill(1)] });
    return nary('Add')(node, [x, shaped], ctx);
  }
  return nary('Add')(node, [x, bias], ctx);
};

/** The scalar a constant holds, if it holds exactly one value. */
function scalarOf(v: Value | undefined): number | undefined {
  return v?.constant && v.constant.data.length === 1 ? (v.constant.data[0] as number) : undefined;
}

/** x, when v = Relu6(x + 3). */
function relu6OfPlus3(v: Value | undefined): Value | undefined {
  if (v?.producer?.op !== 'Relu6') return undefined;
  const sum = v.producer.inputs[0]?.producer;
  if (!sum || (sum.op !== 'Add' && sum.op !== 'AddV2')) return undefined;
  const [p, q] = sum.inputs;
  if (scalarOf(q) === 3) return p;
  if (scalarOf(p) === 3) return q;
  return undefined;
}

/**
 * Hard-swish written out as TF ops, x * k * relu6(x + 3) with k ~ 1/6, in either of its two
 * usual groupings: (k * x) * relu6(x + 3) (TF-slim MobileNetV3) or (x * relu6(x + 3)) * k
 * (Keras). Returns x and k, or undefined when Mul(a, b) is not one.
 */
function matchHardSwish(a: Value, b: Value): { x: Value; k: number } | undefined {
  for (const [p, q] of [
    [a, b],
    [b, a],
  ] as const) {
    if (p.producer?.op === 'Mul') {
      const [u, w] = p.producer.inputs;
      const ku = scalarOf(u);
      const kw = scalarOf(w);
      const gated = relu6OfPlus3(q);
      if (gated && ku !== undefined && w === gated) return { x: gated, k: ku };
      if (gated && kw !== undefined && u === gated) return { x: gated, k: kw };
      const k = scalarOf(q);
      if (k !== undefined && u && w && (relu6OfPlus3(w) === u || relu6OfPlus3(u) === w)) return { x: relu6OfPlus3(w) === u ? u : w, k };
    }
  }
  return undefined;
}

/**
 * Mul, fusing a hard-swish pattern into one ONNX HardSwish (x * clip(x/6 + 1/2, 0, 1)). Models
 * with float16 weights store k as 0.16663 rather than 1/6; since x*k*relu6(x+3) equals
 * 6k * HardSwish(x), a scalar Mul by 6k keeps the result TF's.
 */
const mulOp: OpConverter = (node, inputs, ctx) => {
  const [a, b] = inputs;
  const match = a && b && inputs.length === 2 && a.dtype === 'float32' ? matchHardSwish(a, b) : undefined;
  if (!match || Math.abs(match.k * 6 - 1) > 1e-3) return nary('Mul', undefined, 2)(node, inputs, ctx);
  const { x, k } = match;
  const exact = Math.abs(k * 6 - 1) < 1e-7;
  let out = ctx.graph.op1('HardSwish', [ctx.stored(x)], {}, exact ? node.name : `${node.name}/hard_swish`);
  if (!exact) out = ctx.graph.op1('Mul', [out, ctx.scalar(k * 6)], {}, node.name);
  return [ctx.runtime(out, x.dtype, x.shape, x.perm)];
};

const leakyAlpha = (node: TfNodeDef) => ({ alpha: { float: attrFloat(node, 'alpha', 0.2) } });

export const elementwiseOps: OpTable = {
  Add: nary('Add', undefined, 2),
  AddV2: nary('Add', undefined, 2),
  AddN: nary('Sum'),
  BiasAdd: biasAddOp,
  Sub: nary('Sub', undefined, 2),
  Mul: mulOp,
  RealDiv: nary('Div', undefined, 2),
  Div: nary('Div', undefined, 2),
  DivNoNan: nary('Div', undefined, 2),
  Maximum: nary('Max', undefined, 2),
  Minimum: nary('Min', undefined, 2),
  Pow: nary('Pow', undefined, 2),
  SquaredDifference: squaredDifferenceOp,
  Equal: nary('Equal', 'bool', 2),
  NotEqual: (node, inputs, ctx) => {
    const [eq] = nary('Equal', 'bool', 2)(node, inputs, ctx) as [Value];
    return [{ ...eq, onnx: ctx.graph.op1('Not', [ctx.stored(eq)], {}, node.name) }];
  },
  Greater: nary('Greater', 'bool', 2),
  GreaterEqual: nary('GreaterOrEqual', 'bool', 2),
  Less: nary('Less', 'bool', 2),
  LessEqual: nary('LessOrEqual', 'bool', 2),
  LogicalAnd: nary('And', 'bool', 2),
  LogicalOr: nary('Or', 'bool', 2),
  LogicalNot: unary('Not'),
  SelectV2: (node, [cond, a, b], ctx) => {
    if (!cond || !a || !b) throw fail(node, 'expected 3 inputs');
    const { names, shape, perm } = alignOperands(ctx, [cond, a, b]);
    return [ctx.runtime(ctx.graph.op1('Where', names, {}, node.name), a.dtype, shape, perm)];
  },
  Relu: unary('Relu'),
  Relu6: relu6Op,
  Elu: unary('Elu'),
  Selu: unary('Selu'),
  LeakyRelu: unary('LeakyRelu', leakyAlpha),
  Sigmoid: unary('Sigmoid'),
  Tanh: unary('Tanh'),
  Softplus: unary('Softplus'),
  Exp: unary('Exp'),
  Log: unary('Log'),
  Neg: unary('Neg'),
  Abs: unary('Abs'),
  Sqrt: unary('Sqrt'),
  Rsqrt: rsqrtOp,
  Square: squareOp,
  Reciprocal: unary('Reciprocal'),
  Floor: unary('Floor'),
  Ceil: unary('Ceil'),
  Round: unary('Round'),
  Sign: unary('Sign'),
  Erf: unary('Erf'),
  Sin: unary('Sin'),
  Cos: unary('Cos'),
};
