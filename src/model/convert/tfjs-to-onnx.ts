// Converts a TF.js graph model to an ONNX ModelProto, in TypeScript. The graph is pruned to
// what the requested outputs need, constants are folded on the host, and each remaining
// node goes through its op family's converter. Any TF tensor can be an output; it keeps its
// TF name and TF axis order so it compares one to one with `GraphModel.execute`.
import { GroknetError } from '../../errors.ts';
import type { Dim } from '../onnx/graph-builder.ts';
import { attrShape, attrType, defaultOutputs, type TfjsModelArtifacts, type TfNodeDef } from '../tfjs/model-json.ts';
import { decodeTfjsWeights, type HostTensor } from '../tfjs/weights.ts';
import { ConversionContext, fail, onnxElemType, parseRef, type SymDim, type Value } from './context.ts';
import { folders } from './fold.ts';
import { converterFor } from './ops/registry.ts';
import { dataInputs, indexNodes, requiredNodes } from './tf-graph.ts';

export interface ConvertOptions {
  /** TF tensor names to expose ("node" or "node:k"); default: the model's outputs. */
  outputs?: string[];
  /** Make the batch dimension symbolic ('batch'); default: symbolic iff the TF.js input's is. */
  dynamicBatch?: boolean;
  /** Fixed [height, width]; null makes both symbolic; default: the TF.js input's own size. */
  inputSize?: [number, number] | null;
  /** ONNX graph name. */
  name?: string;
}

/** The ONNX graph input's name, whatever the TF placeholder is called. */
export const ONNX_INPUT_NAME = 'input';

/** Nodes whose value is known at conversion time: Const, and foldable ops over constants. */
function foldableNodes(order: readonly TfNodeDef[]): Set<string> {
  const known = new Set<string>();
  for (const node of order) {
    const foldable = node.op === 'Const' || (Object.hasOwn(folders, node.op) && dataInputs(node).every((i) => known.has(parseRef(i).node)));
    if (foldable) known.add(node.name);
  }
  return known;
}

function checkSupported(order: readonly TfNodeDef[], known: ReadonlySet<string>): void {
  const unsupported = new Map<string, number>();
  for (const node of order) {
    if (known.has(node.name) || node.op === 'Placeholder' || converterFor(node.op)) continue;
    unsupported.set(node.op, (unsupported.get(node.op) ?? 0) + 1);
  }
  if (unsupported.size > 0) {
    const list = [...unsupported].map(([op, n]) => (n > 1 ? `${op} (${n} nodes)` : op)).join(', ');
    throw new GroknetError('unsupported_op', list);
  }
}

/**
 * The ONNX input: TF.js's placeholder shape with the batch and spatial dims made symbolic or
 * fixed as asked. The layout stays the model's own (NHWC, or NCHW for onnx-tf exports).
 */
function defineInput(node: TfNodeDef, ctx: ConversionContext, options: ConvertOptions): Value {
  if (attrType(node, 'dtype') !== 'DT_FLOAT') throw fail(node, 'only float32 inputs are supported');
  const tfShape = attrShape(node, 'shape');
  if (!tfShape) throw fail(node, 'the input has an unknown rank');
  const dims: Dim[] = tfShape.map((d, i) => (d < 0 ? `${ONNX_INPUT_NAME}_dim${i}` : d));
  if (dims.length > 0) {
    const batch = tfShape[0] as number;
    const dynamic = options.dynamicBatch ?? batch < 0;
    dims[0] = dynamic ? 'batch' : batch > 0 ? batch : 1;
  }
  if (dims.length === 4) {
    // channels are the small axis: last for NHWC, second for NCHW
    const channelsFirst = ![1, 3, 4].includes(tfShape[3] as number) && [1, 3, 4].includes(tfShape[1] as number);
    const [h, w] = channelsFirst ? [2, 3] : [1, 2];
    const size = options.inputSize;
    if (size === null) [dims[h], dims[w]] = ['height', 'width'];
    else if (size) [dims[h], dims[w]] = size;
    else [dims[h], dims[w]] = [tfShape[h]! < 0 ? 'height' : tfShape[h]!, tfShape[w]! < 0 ? 'width' : tfShape[w]!];
  }
  ctx.graph.input(ONNX_INPUT_NAME, dims);
  return ctx.runtime(ONNX_INPUT_NAME, 'float32', dims.map((d): SymDim => d));
}

interface Run {
  ctx: ConversionContext;
  weights: ReadonlyMap<string, HostTensor>;
  options: ConvertOptions;
  inputDefined: boolean;
}

function convertNode(node: TfNodeDef, run: Run): void {
  const { ctx, weights, options } = run;
  if (node.op === 'Const') {
    const t = weights.get(node.name);
    if (!t) throw fail(node, 'no weight data for this constant');
    ctx.define(node.name, [ctx.constant(t, node.name)]);
    return;
  }
  if (node.op === 'Placeholder') {
    if (run.inputDefined) throw fail(node, 'only graphs with a single input are supported');
    run.inputDefined = true;
    ctx.define(node.name, [defineInput(node, ctx, options)]);
    return;
  }
  const inputs = dataInputs(node).map((ref) => ctx.value(ref));
  const folder = folders[node.op];
  if (folder && inputs.every((v) => v.constant)) {
    const folded = folder(node, inputs.map((v) => v.constant as HostTensor));
    ctx.define(node.name, folded.map((t, i) => ctx.constant(t, i === 0 ? node.name : `${node.name}:${i}`)));
    return;
  }
  const convert = converterFor(node.op);
  if (!convert) throw new GroknetError('unsupported_op', node.op);
  const outputs = convert(node, inputs, ctx);
  for (const v of outputs) {
    if (!inputs.includes(v)) v.producer = { op: node.op, inputs }; // pass-through values keep theirs
  }
  ctx.define(node.name, outputs);
}

/** Converts a TF.js graph model into a serialized ONNX ModelProto (opset 17). */
export function convertTfjsGraphToOnnx(model: TfjsModelArtifacts, options: ConvertOptions = {}): Uint8Array {
  const nodes = indexNodes(model.modelJson);
  const outputs = [...new Set(options.outputs ?? defaultOutputs(model.modelJson))];
  if (outputs.length === 0) throw new GroknetError('conversion_failed', 'no outputs requested');
  const missing = outputs.filter((o) => !nodes.has(parseRef(o).node));
  if (missing.length > 0) throw new GroknetError('conversion_failed', `not in the graph: ${missing.join(', ')}`);

  const order = requiredNodes(nodes, outputs);
  checkSupported(order, foldableNodes(order));
  const weights = decodeTfjsWeights(model);

  const ctx = new ConversionContext(options.name ?? 'tfjs_graph');
  ctx.graph.reserve(ONNX_INPUT_NAME);
  for (const o of outputs) ctx.graph.reserve(o); // intermediate tensors must not take these names
  const run: Run = { ctx, weights, options, inputDefined: false };
  for (const node of order) {
    try {
      convertNode(node, run);
    } catch (error) {
      if (error instanceof GroknetError) throw error;
      throw new GroknetError('conversion_failed', `${node.op} node ${node.name}: ${String(error)}`, { cause: error });
    }
  }
  if (!run.inputDefined) throw new GroknetError('conversion_failed', 'the requested outputs do not depend on the input');

  outputs.forEach((ref) => {
    if (!ctx.has(ref)) throw new GroknetError('conversion_failed', `node ${ref} has no such output`);
    const v = ctx.value(ref);
    ctx.graph.opInto('Identity', [ctx.tensor(v)], [ref]);
    ctx.graph.output(ref, v.shape.map((d, k) => d ?? `${ref}_dim${k}`), onnxElemType(v.dtype));
  });
  ctx.graph.removeUnused();
  return ctx.graph.toModel();
}
