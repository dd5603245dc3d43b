// Dense layers and softmax: MatMul/_FusedMatMul (as Gemm for 2-D operands), BatchMatMul,
// Softmax/LogSoftmax on the last TF axis wherever it is stored.
import { attrBool, attrFloat, attrStrings, type TfNodeDef } from '../../tfjs/model-json.ts';
import { type ConversionContext, fail, type SymDim, type Value } from '../context.ts';
import { identity, onnxAxis } from '../layout.ts';
import { emitActivation } from './elementwise.ts';
import type { OpConverter, OpTable } from './types.ts';

/** Operand in TF order with its last two axes swapped when `swap` (consts are transposed on the host). */
function matrixOperand(ctx: ConversionContext, v: Value, swap: boolean): string {
  const rank = v.shape.length;
  const perm = identity(rank);
  if (swap) [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
  return ctx.tensor(v, perm);
}

function matmulShape(a: Value, b: Value, ta: boolean, tb: boolean): SymDim[] {
  const m = a.shape[a.shape.length - (ta ? 1 : 2)] ?? null;
  const n = b.shape[b.shape.length - (tb ? 2 : 1)] ?? null;
  const batch = (a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2);
  return [...batch, m, n];
}

function matmul(fused: boolean, transposeKeys: [string, string]): OpConverter {
  return (node: TfNodeDef, inputs, ctx) => {
    const [a, b] = inputs;
    if (!a || !b) throw fail(node, 'expected 2 operands');
    const ta = attrBool(node, transposeKeys[0], false);
    const tb = attrBool(node, transposeKeys[1], false);
    let bias: Value | undefined;
    let activation = '';
    let prelu: Value | undefined;
    if (fused) {
      const [first, act = ''] = attrStrings(node, 'fused_ops');
      if (first !== 'BiasAdd') throw fail(node, `fused_ops ${attrStrings(node, 'fused_ops').join('+')} is not supported`);
      [bias, prelu] = [inputs[2], inputs[3]];
      activation = act;
    }
    const shape = matmulShape(a, b, ta, tb);
    const rank = shape.length;
    let out: string;
    if (a.shape.length === 2 && b.shape.length === 2) {
      // Gemm transposes natively; a constant B is transposed on the host instead.
      const operands = [ctx.tensor(a), b.constant ? matrixOperand(ctx, b, tb) : ctx.tensor(b)];
      const attrs = { transA: ta ? 1 : 0, transB: tb && !b.constant ? 1 : 0 };
      if (bias?.constant && bias.shape.length <= 1) operands.push(ctx.tensor(bias));
      out = ctx.graph.op1('Gemm', operands, attrs, activation ? `${node.name}/gemm` : node.name);
      if (bias && !(bias.constant && bias.shape.length <= 1)) {
        out = ctx.graph.op1('Add', [out, ctx.broadcastOperand(bias, rank, identity(rank))], {}, `${node.name}/bias`);
      }
    } else {
      out = ctx.graph.op1('MatMul', [matrixOperand(ctx, a, ta), matrixOperand(ctx, b, tb)], {}, node.name);
      if (bias) out = ctx.graph.op1('Add', [out, ctx.broadcastOperand(bias, rank, identity(rank))], {}, `${node.name}/bias`);
    }
    out = emitActivation(ctx, node, out, activation, {
      alpha: attrFloat(node, 'leakyrelu_alpha', 0.2),
      ...(prelu ? { prelu } : {}),
      rank,
      perm: identity(rank),
    });
    return [ctx.runtime(out, 'float32', shape)];
  };
}

function softmax(onnxOp: 'Softmax' | 'LogSoftmax'): OpConverter {
  return (node, [x], ctx) => {
    if (!x) throw fail(node, 'missing input');
    const axis = onnxAxis(x.perm, x.shape.length - 1);
    return [ctx.runtime(ctx.graph.op1(onnxOp, [ctx.stored(x)], { axis }, node.name), x.dtype, x.shape, x.perm)];
  };
}

export const matmulOps: OpTable = {
  MatMul: matmul(false, ['transpose_a', 'transpose_b']),
  _FusedMatMul: matmul(true, ['transpose_a', 'transpose_b']),
  BatchMatMul: matmul(false, ['adj_x', 'adj_y']),
  BatchMatMulV2: matmul(false, ['adj_x', 'adj_y']),
  Softmax: softmax('Softmax'),
  LogSoftmax: softmax('LogSoftmax'),
};
