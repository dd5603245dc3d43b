// Opens a segmentation artifact: reads and checks model.json, joins the converted trunk
// (at the artifact's input size) and the decoder into one graph (cached), and opens an
// ONNX Runtime session on it, checked against the manifest.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GroknetError } from '../errors.ts';
import { OnnxSession, type SessionOptions } from '../model/backend/onnxruntime.ts';
import { cached, cacheKey } from '../model/cache.ts';
import { composeModel } from '../model/compose.ts';
import { parseModel } from '../model/onnx/graph-builder.ts';
import { segmentBackboneOnnx } from './backbone.ts';
import { classMapFrom, type ClassMap } from './classes.ts';
import { readSegmentManifest, type SegmentManifest } from './manifest.ts';

/** The segmentation model shipped in the repository. */
export const DEFAULT_SEGMENT_MODEL_DIR = fileURLToPath(new URL('../../models/groknet-segment', import.meta.url));

export interface LoadedSegmentModel {
  dir: string;
  manifest: SegmentManifest;
  classMap: ClassMap;
  session: OnnxSession;
}

export async function loadSegmentModel(dir: string = DEFAULT_SEGMENT_MODEL_DIR, options: SessionOptions = {}): Promise<LoadedSegmentModel> {
  const manifest = await readSegmentManifest(path.join(dir, 'model.json'));
  const decoderFile = path.resolve(dir, manifest.decoderFile);
  if (!decoderFile.startsWith(path.resolve(dir) + path.sep)) throw new GroknetError('model_invalid', `${manifest.decoderFile} points outside the model directory`);
  const decoderBytes = new Uint8Array(
    await readFile(decoderFile).catch(() => {
      throw new GroknetError('model_not_found', `${manifest.decoderFile} is missing from the model directory`);
    }),
  );
  const backbone = await segmentBackboneOnnx(manifest.backbone.id, manifest.backbone.tensors, manifest.input.size);
  const key = cacheKey(backbone.path, decoderBytes);
  const graph = await cached(`models/${manifest.name}-${key}.onnx`, () => composeModel(backbone.bytes, decoderBytes));
  checkSegmentGraph(graph.bytes, manifest);
  const session = await OnnxSession.create(graph.bytes, options);
  return { dir, manifest, classMap: classMapFrom(manifest.labels, manifest.classLabels, manifest.merged), session };
}

/** The graph must output the declared logits: [batch, grid.height, grid.width, classes]. */
export function checkSegmentGraph(bytes: Uint8Array, manifest: SegmentManifest): void {
  const output = parseModel(bytes).graph?.output?.find((o) => o.name === manifest.output);
  if (!output) throw new GroknetError('model_invalid', `the graph has no output '${manifest.output}'`);
  const dims = (output.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null ? Number(d.dimValue) : undefined));
  const expected = [manifest.grid.height, manifest.grid.width, manifest.classLabels.length];
  if (dims.length !== 4 || expected.some((size, i) => dims[i + 1] !== undefined && dims[i + 1] !== size)) {
    throw new GroknetError('model_invalid', `output '${manifest.output}' is [${dims.join(', ')}], the manifest declares [batch, ${expected.join(', ')}]`);
  }
}
