// Joins the converted backbone graph and the trained heads graph into one ONNX graph:
// the backbone's exposed tensors feed the heads' inputs of the same name, and the
// result has the backbone's input and the heads' outputs. ONNX has a compose utility
// only in Python; this is the small part of it groknet needs.
import { GroknetError } from '../errors.ts';
import { onnx, parseModel, serializeModel, type OnnxGraph } from './onnx/graph-builder.ts';

const HEADS_PREFIX = 'heads/';

export function composeModel(backboneBytes: Uint8Array, headsBytes: Uint8Array, extraOutputs: readonly string[] = []): Uint8Array {
  const backbone = parseModel(backboneBytes).graph;
  const heads = parseModel(headsBytes).graph;
  if (!backbone || !heads) throw new GroknetError('model_invalid', 'a graph is missing from the backbone or heads file');

  const backboneOutputs = new Set((backbone.output ?? []).map((o) => o.name ?? ''));
  const joined = new Set((heads.input ?? []).map((i) => i.name ?? ''));
  for (const name of joined) {
    if (!backboneOutputs.has(name)) {
      throw new GroknetError('model_invalid', `the heads read '${name}', which the backbone graph does not output`);
    }
  }

  // Rename every tensor inside the heads graph except the joined inputs, so names never clash.
  const rename = (name: string): string => (name === '' || joined.has(name) ? name : HEADS_PREFIX + name);
  const outputsKept = new Set((heads.output ?? []).map((o) => o.name ?? ''));
  const renameKeepingOutputs = (name: string): string => (outputsKept.has(name) ? name : rename(name));

  const headNodes = (heads.node ?? []).map((node) =>
    onnx.NodeProto.create({
      ...node,
      name: HEADS_PREFIX + (node.name ?? ''),
      input: (node.input ?? []).map(renameKeepingOutputs),
      output: (node.output ?? []).map(renameKeepingOutputs),
    }),
  );
  const headInitializers = (heads.initializer ?? []).map((t) => onnx.TensorProto.create({ ...t, name: renameKeepingOutputs(t.name ?? '') }));

  const keptBackboneOutputs = (backbone.output ?? []).filter((o) => extraOutputs.includes(o.name ?? ''));
  const graph: OnnxGraph = {
    name: 'groknet',
    node: [...(backbone.node ?? []), ...headNodes],
    initializer: [...(backbone.initializer ?? []), ...headInitializers],
    input: backbone.input ?? [],
    output: [...(heads.output ?? []), ...keptBackboneOutputs],
  };
  return serializeModel(graph, 'groknet-compose');
}
