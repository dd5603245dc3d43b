// Convolutions: Conv2D, DepthwiseConv2dNative and their TF.js fused forms, with BiasAdd
// (or a folded FusedBatchNorm) and an activation. Data runs NCHW in ONNX; TF filters
// [kh, kw, in, out] become ONNX [out, in, kh, kw].
import { attrFloat, attrString, attrStrings, type TfNodeDef } from '../../tfjs/model-json.ts';
import type { HostTensor } from '../../tfjs/weights.ts';
import { type ConversionContext, fail, type SymDim, type Value } from '../context.ts';
import { identity, NHWC_AS_NCHW, transposeData } from '../layout.ts';
import { emitActivation } from './elementwise.ts';
import type { OpConverter, OpTable } from './types.ts';
import { readWindow, windowGeometry } from './window.ts';

interface Epilogue {
  bias?: Value;
  /** Per-output-channel factor folded into the filter (from FusedBatchNorm). */
  scale?: Float32Array;
  activation: string;
  prelu?: Value;
}

/** Interprets `fused_ops` and the extra arguments of _FusedConv2D / FusedDepthwiseConv2dNative. */
function readEpilogue(node: TfNodeDef, inputs: readonly Value[], ctx: ConversionContext): Epilogue {
  const [first, activation = ''] = attrStrings(node, 'fused_ops');
  const args = inputs.slice(2);
  if (first === 'BiasAdd') return { bias: args[0], activation, prelu: args[1] };
  if (first === 'FusedBatchNorm') {
    // y = (conv - mean) * gamma / sqrt(var + eps) + beta  ==  conv * s + (beta - mean * s)
    const [gamma, beta, mean, variance] = [0, 1, 2, 3].map((i) => ctx.requireConst(node, args, i, 'batch-norm parameter')) as [
      HostTensor,
      HostTensor,
      HostTensor,
      HostTensor,
    ];
    const eps = attrFloat(node, 'epsilon', 0.001);
    const scale = Float32Array.from(gamma.data, (g, i) => g / Math.sqrt((variance.data[i] as number) + eps));
    const shift = Float32Array.from(beta.data, (b, i) => b - (mean.data[i] as number) * (scale[i] as number));
    return { bias: ctx.constant({ dtype: 'float32', shape: [shift.length], data: shift }), scale, activation, prelu: args[4] };
  }
  throw fail(node, `fused_ops ${attrStrings(node, 'fused_ops').join('+')} is not supported`);
}

/** ONNX weights [out, in/group, kh, kw] from a TF filter. */
function onnxFilter(node: TfNodeDef, filter: HostTensor, depthwise: boolean, scale?: Float32Array): { data: Float32Array; dims: number[] } {
  if (filter.shape.length !== 4 || filter.dtype !== 'float32') throw fail(node, 'filter must be a float32 4-D constant');
  const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
  // depthwise [kh, kw, in, mult] -> [in, mult, kh, kw] == [in*mult, 1, kh, kw] (out channel i*mult+m)
  const data = transposeData(filter.data as Float32Array, filter.shape, depthwise ? [2, 3, 0, 1] : [3, 2, 0, 1]);
  const dims = depthwise ? [cin * cout, 1, kh, kw] : [cout, cin, kh, kw];
  if (scale) {
    const perOut = data.length / (dims[0] as number);
    if (scale.length !== dims[0]) throw fail(node, 'batch-norm size does not match the output channels');
    for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) * (scale[Math.floor(i / perOut)] as number);
  }
  return { data: data === filter.data ? Float32Array.from(data) : data, dims };
}

function convolution(depthwise: boolean, fused: boolean): OpConverter {
  return (node, inputs, ctx) => {
    const x = inputs[0];
    if (!x || x.shape.length !== 4) throw fail(node, 'input must be 4-D');
    const filter = ctx.requireConst(node, inputs, 1, 'filter');
    const nhwc = attrString(node, 'data_format', 'NHWC') !== 'NCHW';
    const storage = nhwc ? NHWC_AS_NCHW : identity(4);
    const epilogue: Epilogue = fused ? readEpilogue(node, inputs, ctx) : { activation: '' };

    const weights = onnxFilter(node, filter, depthwise, epilogue.scale);
    const [kh, kw, filterIn] = filter.shape as [number, number, number, number];
    const outChannels = weights.dims[0] as number;
    const inChannels = x.shape[nhwc ? 3 : 1];
    let group = 1;
    if (depthwise) group = filterIn;
    else if (typeof inChannels === 'number' && inChannels !== filterIn) group = inChannels / filterIn;
    if (!Number.isInteger(group)) throw fail(node, `input channels ${String(inChannels)} do not fit filter channels ${filterIn}`);

    const window = readWindow(node, nhwc, [kh, kw]);
    const inHW: [SymDim, SymDim] = nhwc ? [x.shape[1]!, x.shape[2]!] : [x.shape[2]!, x.shape[3]!];
    const { attrs, outHW } = windowGeometry(window, inHW, true);
    if (group !== 1) attrs['group'] = group;

    const operands = [ctx.tensor(x, storage), ctx.graph.constFloat(`${node.name}/weights`, weights.dims, weights.data)];
    const bias = epilogue.bias;
    if (bias?.constant) operands.push(ctx.tensor(bias));
    const plain = !epilogue.activation && !(bias && !bias.constant);
    let out = ctx.graph.op1('Conv', operands, attrs, plain ? node.name : `${node.name}/conv`);
    if (bias && !bias.constant) out = ctx.graph.op1('Add', [out, ctx.broadcastOperand(bias, 4, storage)], {}, `${node.name}/bias`);
    out = emitActivation(ctx, node, out, epilogue.activation, {
      alpha: attrFloat(node, 'leakyrelu_alpha', 0.2),
      ...(epilogue.prelu ? { prelu: epilogue.prelu } : {}),
      rank: 4,
      perm: storage,
    });

    const batch = x.shape[0] ?? null;
    const shape = nhwc ? [batch, outHW[0], outHW[1], outChannels] : [batch, outChannels, outHW[0], outHW[1]];
    return [ctx.runtime(out, 'float32', shape, storage)];
  };
}

export const convOps: OpTable = {
  Conv2D: convolution(false, false),
  _FusedConv2D: convolution(false, true),
  DepthwiseConv2dNative: convolution(true, false),
  DepthwiseConv2d: convolution(true, false),
  FusedDepthwiseConv2dNative: convolution(true, true),
};
