// Joins two converted backbone graphs into one graph with one input: the first reads the
// image as its registry entry prepares it; the second reads the same tensor rescaled and
// resized (bilinear) to its own size, so a fused model needs one preprocessing and one
// ONNX Runtime run. The second graph's tensors are renamed under a prefix so names never
// clash; its outputs keep that prefix, which is how the registry names them.
import { GroknetError } from '../../errors.ts';
import { floatTensor, onnx, parseModel, serializeModel, valueInfo, type OnnxGraph } from '../onnx/graph-builder.ts';

export interface FuseOptions {
  /** Prefix of every tensor of the second graph, e.g. 'centernet/'. */
  prefix: string;
  /** NHWC [height, width] of the first graph's input. */
  from: readonly [number, number];
  /** NHWC [height, width] the second graph reads. */
  to: readonly [number, number];
  /** Multiplies the first graph's input values before the resize (e.g. 255 for 0-1 to 0-255). */
  scale: number;
}

export function fuseBackboneGraphs(firstBytes: Uint8Array, secondBytes: Uint8Array, options: FuseOptions): Uint8Array {
  const first = parseModel(firstBytes).graph;
  const second = parseModel(secondBytes).graph;
  if (!first || !second) throw new GroknetError('model_invalid', 'a backbone graph is missing');
  const firstInputs = (first.input ?? []).filter((i) => !(first.initializer ?? []).some((t) => t.name === i.name));
  const secondInputs = (second.input ?? []).filter((i) => !(second.initializer ?? []).some((t) => t.name === i.name));
  if (firstInputs.length !== 1 || secondInputs.length !== 1) throw new GroknetError('model_invalid', 'each fused backbone graph must have exactly one input');
  const input = firstInputs[0]!.name!;
  const secondInput = secondInputs[0]!.name!;

  const p = options.prefix;
  const rename = (name: string): string => (name === '' ? '' : name === secondInput ? `${p}input/resized` : p + name);
  // image (NHWC) -> x scale -> NCHW -> Resize (bilinear, half-pixel centres) -> NHWC: ONNX
  // Runtime's CPU Resize interpolates the last two axes.
  const constants = [
    floatTensor(`${p}input/scale`, [], [options.scale]),
    floatTensor(`${p}input/scales`, [4], [1, 1, options.to[0] / options.from[0], options.to[1] / options.from[1]]),
  ];
  const node = (opType: string, inputs: string[], output: string, attribute: Array<import('onnx-proto').onnx.IAttributeProto> = []) =>
    onnx.NodeProto.create({ opType, input: inputs, output: [output], name: output, attribute });
  const ints = (name: string, values: number[]) => onnx.AttributeProto.create({ name, ints: values, type: onnx.AttributeProto.AttributeType.INTS });
  const str = (name: string, value: string) => onnx.AttributeProto.create({ name, s: new TextEncoder().encode(value), type: onnx.AttributeProto.AttributeType.STRING });
  const prepare = [
    node('Mul', [input, `${p}input/scale`], `${p}input/scaled`),
    node('Transpose', [`${p}input/scaled`], `${p}input/nchw`, [ints('perm', [0, 3, 1, 2])]),
    node('Resize', [`${p}input/nchw`, '', `${p}input/scales`], `${p}input/resized_nchw`, [str('mode', 'linear'), str('coordinate_transformation_mode', 'half_pixel')]),
    node('Transpose', [`${p}input/resized_nchw`], `${p}input/resized`, [ints('perm', [0, 2, 3, 1])]),
  ];
  const secondNodes = (second.node ?? []).map((n) =>
    onnx.NodeProto.create({ ...n, name: p + (n.name ?? ''), input: (n.input ?? []).map(rename), output: (n.output ?? []).map(rename) }),
  );
  const secondInitializers = (second.initializer ?? []).map((t) => onnx.TensorProto.create({ ...t, name: rename(t.name ?? '') }));
  const secondOutputs = (second.output ?? []).map((o) => {
    const dims = (o.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null ? Number(d.dimValue) : (d.dimParam ?? 'batch')));
    return valueInfo(rename(o.name ?? ''), dims);
  });
  const graph: OnnxGraph = {
    name: `${first.name ?? 'first'}+${second.name ?? 'second'}`,
    node: [...(first.node ?? []), ...prepare, ...secondNodes],
    initializer: [...(first.initializer ?? []), ...constants, ...secondInitializers],
    input: first.input ?? [],
    output: [...(first.output ?? []), ...secondOutputs],
  };
  return serializeModel(graph, 'groknet-fuse');
}
