// The trunk under the segmentation decoder: the packaged backbone converted at the
// segmentation input size, optionally topped by a fine-tuned upper trunk (block 16 +
// Conv_1) taken from a trained product model. The unified trainer fine-tunes those layers
// on garment labels; their Conv_1 map tells garments apart better than the packaged one
// (EVAL.md of the segmentation model has the figures). The decoder artifact carries the
// upper trunk's weights itself, so it keeps working when the product model is retrained.
import { GroknetError } from '../errors.ts';
import { cached, cacheKey } from '../model/cache.ts';
import { composeModel } from '../model/compose.ts';
import { GraphBuilder, parseModel } from '../model/onnx/graph-builder.ts';
import { appendUpperTrunk, BLOCK16, checkUpperTrunkWeights, UPPER_TRUNK_DIMS, UPPER_TRUNK_PARAMS, upperTrunkInputNode, type UpperTrunkWeights } from '../model/upper-trunk/block16.ts';
import { segmentBackboneOnnx } from './backbone.ts';
import type { Tap } from './taps.ts';

/** Name of the fine-tuned Conv_1 map in the trunk graph (and the decoder's coarsest input while training). */
export const UPPER_CONV1_NODE = 'upper_trunk/conv_1';

/**
 * The fine-tuned upper trunk inside a heads graph written by the unified trainer
 * (initializers upper/we, upper/be, ...). Fails when the graph has none.
 */
export function upperTrunkFromHeads(headsBytes: Uint8Array): UpperTrunkWeights {
  const graph = parseModel(headsBytes).graph;
  const byName = new Map((graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const weights = {} as UpperTrunkWeights;
  for (const param of UPPER_TRUNK_PARAMS) {
    const tensor = byName.get(`upper/${param}`);
    if (!tensor) throw new GroknetError('model_invalid', `the heads graph has no fine-tuned upper trunk (initializer upper/${param} is missing)`);
    const dims = (tensor.dims ?? []).map(Number);
    if (dims.join('x') !== UPPER_TRUNK_DIMS[param].join('x')) throw new GroknetError('model_invalid', `upper/${param} has shape ${dims.join('x')}, expected ${UPPER_TRUNK_DIMS[param].join('x')}`);
    const raw = tensor.rawData;
    weights[param] =
      raw && raw.length > 0 ? new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)) : Float32Array.from(tensor.floatData ?? []);
  }
  checkUpperTrunkWeights(weights);
  return weights;
}

/** The upper trunk as a graph of its own: block-15 map in, fine-tuned Conv_1 map out. */
export function upperTrunkGraph(weights: UpperTrunkWeights): Uint8Array {
  const g = new GraphBuilder('groknet_upper_trunk');
  const input = g.input(upperTrunkInputNode(), ['batch', 'height', 'width', BLOCK16.in]);
  const out = appendUpperTrunk(g, input, weights);
  g.opInto('Identity', [out], [UPPER_CONV1_NODE]);
  g.output(UPPER_CONV1_NODE, ['batch', 'height', 'width', BLOCK16.out]);
  return g.toModel();
}

export interface SegmentTrunk {
  backboneId: string;
  /** Replaces the packaged Conv_1 (the first tap) by this fine-tuned block 16 + Conv_1. */
  upper?: UpperTrunkWeights;
}

/** The backbone tensors a trunk needs from the converted backbone for these taps. */
export function backboneTensors(trunk: SegmentTrunk, taps: readonly Tap[]): string[] {
  return taps.map((t) => (trunk.upper && t.node === UPPER_CONV1_NODE ? upperTrunkInputNode() : t.node));
}

/** The trunk as one ONNX graph whose outputs are the taps' nodes (cached by weights). */
export async function segmentTrunkOnnx(trunk: SegmentTrunk, taps: readonly Tap[], size: readonly [number, number]): Promise<{ bytes: Uint8Array; path: string }> {
  const nodes = backboneTensors(trunk, taps);
  const backbone = await segmentBackboneOnnx(trunk.backboneId, nodes, size);
  if (!trunk.upper) return backbone;
  if (!taps.some((t) => t.node === UPPER_CONV1_NODE)) throw new GroknetError('invalid_config', `a fine-tuned upper trunk needs a tap named ${UPPER_CONV1_NODE}`);
  const upper = upperTrunkGraph(trunk.upper);
  const key = cacheKey(backbone.path, upper);
  const kept = taps.map((t) => t.node).filter((n) => n !== UPPER_CONV1_NODE);
  return cached(`backbones/segment-trunk-${key}.onnx`, () => composeModel(backbone.bytes, upper, kept));
}
