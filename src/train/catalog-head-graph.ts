// A catalog head joins a model by rewriting its heads graph with one more head: the new head
// reads the standardised pooled features every head of the graph already computes
// ('features/standard'), standardises them again with its own training rows' statistics,
// and ends in a dense layer and a softmax whose output is `head_<name>`. Every node and
// weight already in the graph is kept as it was, so the other heads, the embedding and the
// code compute exactly what they did; a replaced head loses only the nodes no other output reads.
import { GroknetError } from '../errors.ts';
import { headOutputName, type DenseWeights } from '../model/heads/heads-graph.ts';
import { floatTensor, onnx, parseModel, valueInfo, type OnnxGraph, type OnnxNode } from '../model/onnx/graph-builder.ts';

/** The tensor a catalog head reads, as the heads graph names it (the composed graph prefixes it with 'heads/'). */
export const FEATURE_TENSOR = 'features/standard';
const FEATURE_MEAN = 'features/mean';

export interface CatalogHeadWeights {
  name: string;
  /** The head's own standardisation of the features (the fit's, over its training rows). */
  featureMean: Float32Array;
  featureStd: Float32Array;
  dense: DenseWeights;
}

const matches = (name: string, wanted: string): boolean => name === wanted || name.endsWith(`/${wanted}`);

/** The feature tensor of a heads or composed graph and its width. */
export function featureTensorOf(graph: OnnxGraph): { name: string; channels: number } {
  const producer = (graph.node ?? []).flatMap((n) => n.output ?? []).filter((o) => matches(o, FEATURE_TENSOR));
  const mean = (graph.initializer ?? []).find((t) => matches(t.name ?? '', FEATURE_MEAN));
  if (producer.length !== 1 || !mean?.dims?.length) {
    throw new GroknetError('model_invalid', `the model's heads graph has no single '${FEATURE_TENSOR}' tensor to train a catalog head on`);
  }
  return { name: producer[0]!, channels: Number(mean.dims[0]) };
}

/** Names every node's and output's inputs reach from `outputs`, walking back through the graph. */
function liveNames(nodes: readonly OnnxNode[], outputs: readonly string[]): Set<string> {
  const live = new Set(outputs);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!(node.output ?? []).some((o) => live.has(o))) continue;
    for (const o of node.output ?? []) live.add(o);
    for (const input of node.input ?? []) if (input) live.add(input);
  }
  return live;
}

/** The graph with only what computes `outputs` (nodes in order, initializers they read). */
export function subgraphFor(graph: OnnxGraph, outputs: readonly string[]): OnnxGraph {
  const nodes = graph.node ?? [];
  const live = liveNames(nodes, outputs);
  return {
    ...graph,
    node: nodes.filter((n) => (n.output ?? []).some((o) => live.has(o))),
    initializer: (graph.initializer ?? []).filter((t) => live.has(t.name ?? '')),
    output: outputs.map((name) => (graph.output ?? []).find((o) => o.name === name) ?? valueInfo(name, undefined)),
  };
}

/** The graph's output names. */
export function graphOutputs(bytes: Uint8Array): string[] {
  return (parseModel(bytes).graph?.output ?? []).map((o) => o.name ?? '');
}

/**
 * `bytes` (a heads or complete graph) with the head added; `replace` first removes the graph's
 * output of that name and the nodes and weights only it used.
 */
export function withCatalogHead(bytes: Uint8Array, head: CatalogHeadWeights, replace: boolean): Uint8Array {
  const model = parseModel(bytes);
  const graph = model.graph;
  if (!graph) throw new GroknetError('model_invalid', 'the heads file holds no graph');
  const output = headOutputName(head.name);
  const outputs = graph.output ?? [];
  const exists = outputs.some((o) => o.name === output);
  if (exists && !replace) throw new GroknetError('invalid_argument', `the graph already has a head '${head.name}'`);
  let nodes = graph.node ?? [];
  let initializers = graph.initializer ?? [];
  const keptOutputs = outputs.filter((o) => o.name !== output);
  if (exists) {
    // Drop only what the removed output alone needed: whatever another output reads stays.
    const before = liveNames(nodes, outputs.map((o) => o.name ?? ''));
    const after = liveNames(nodes, keptOutputs.map((o) => o.name ?? ''));
    const dead = (name: string): boolean => before.has(name) && !after.has(name);
    nodes = nodes.filter((n) => !(n.output ?? []).some(dead));
    initializers = initializers.filter((t) => !dead(t.name ?? ''));
  }
  const features = featureTensorOf({ ...graph, node: nodes, initializer: initializers });
  if (head.featureMean.length !== features.channels || head.dense.inDim !== features.channels) {
    throw new GroknetError('model_invalid', `the head reads ${head.dense.inDim} features, the model's '${FEATURE_TENSOR}' has ${features.channels}`);
  }
  const prefix = `catalog_head_${head.name}/`;
  const taken = new Set([...nodes.flatMap((n) => [...(n.output ?? []), n.name ?? '']), ...initializers.map((t) => t.name ?? '')]);
  const clash = [`${prefix}mean`, `${prefix}std`, `${prefix}kernel`, `${prefix}bias`].find((n) => taken.has(n));
  if (clash) throw new GroknetError('model_invalid', `the graph already has a tensor '${clash}'`);
  const node = (opType: string, inputs: string[], out: string, attribute: OnnxNode['attribute'] = []): OnnxNode =>
    onnx.NodeProto.create({ opType, input: inputs, output: [out], name: `${prefix}${opType}`, attribute });
  const newNodes: OnnxNode[] = [
    node('Sub', [features.name, `${prefix}mean`], `${prefix}centred`),
    node('Div', [`${prefix}centred`, `${prefix}std`], `${prefix}standard`),
    node('MatMul', [`${prefix}standard`, `${prefix}kernel`], `${prefix}matmul`),
    node('Add', [`${prefix}matmul`, `${prefix}bias`], `${prefix}logits`),
    node('Softmax', [`${prefix}logits`], output, [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 })]),
  ];
  const newInitializers = [
    floatTensor(`${prefix}mean`, [features.channels], head.featureMean),
    floatTensor(`${prefix}std`, [features.channels], head.featureStd),
    floatTensor(`${prefix}kernel`, [head.dense.inDim, head.dense.outDim], head.dense.kernel),
    floatTensor(`${prefix}bias`, [head.dense.outDim], head.dense.bias),
  ];
  const rewritten: OnnxGraph = {
    ...graph,
    node: [...nodes, ...newNodes],
    initializer: [...initializers, ...newInitializers],
    output: [...keptOutputs, valueInfo(output, ['batch', head.dense.outDim])],
  };
  // The rest of the model (IR version, opsets, producer) as it was.
  model.graph = onnx.GraphProto.create(rewritten);
  return onnx.ModelProto.encode(model).finish();
}
