// Opens a model artifact directory: reads and validates model.json, builds (or reuses
// from the cache) the full graph backbone + heads, opens an ONNX Runtime session and
// checks the graph against the manifest before anything is served.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GroknetError } from '../errors.ts';
import { OnnxSession, type SessionOptions } from './backend/onnxruntime.ts';
import { backboneOnnx } from './backbones/convert-backbone.ts';
import { cached, cacheKey } from './cache.ts';
import { composeModel } from './compose.ts';
import { CODE_OUTPUT, EMBEDDING_OUTPUT, headOutputName } from './heads/heads-graph.ts';
import { PixelColour } from './heads/pixel-colour.ts';
import { readManifest, type ModelManifest } from './manifest.ts';
import { parseModel } from './onnx/graph-builder.ts';

/** The model shipped in the repository; used when no --model is given. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../models/groknet-base', import.meta.url));

export interface LoadedModel {
  dir: string;
  manifest: ModelManifest;
  session: OnnxSession;
  /** Full graph bytes (backbone + heads), e.g. for export. */
  graphBytes: Uint8Array;
  /** The colour-histogram classifier blended with a head, where the manifest declares one (by head name). */
  pixelHeads: ReadonlyMap<string, PixelColour>;
}

export async function loadModel(dir: string = DEFAULT_MODEL_DIR, options: SessionOptions = {}): Promise<LoadedModel> {
  const manifest = await readManifest(path.join(dir, 'model.json'));
  const graphBytes = manifest.modelFile ? await readArtifactFile(dir, manifest.modelFile) : await composedGraph(dir, manifest);
  checkGraphAgainstManifest(graphBytes, manifest);
  const pixelHeads = new Map<string, PixelColour>();
  for (const head of manifest.heads) if (head.kind === 'single' && head.pixels) pixelHeads.set(head.name, await PixelColour.load(dir, head.pixels.file, head.labels));
  const session = await OnnxSession.create(graphBytes, options);
  return { dir, manifest, session, graphBytes, pixelHeads };
}

async function readArtifactFile(dir: string, name: string): Promise<Uint8Array> {
  const file = path.resolve(dir, name);
  if (!file.startsWith(path.resolve(dir) + path.sep)) throw new GroknetError('model_invalid', `${name} points outside the model directory`);
  try {
    return new Uint8Array(await readFile(file));
  } catch {
    throw new GroknetError('model_not_found', `${name} is missing from the model directory`);
  }
}

async function composedGraph(dir: string, manifest: ModelManifest): Promise<Uint8Array> {
  const headsBytes = await readArtifactFile(dir, manifest.headsFile);
  const backbone = await backboneOnnx(manifest.backbone.id, manifest.backbone.tensors);
  const key = cacheKey(backbone.path, headsBytes);
  const composed = await cached(`models/${manifest.name}-${key}.onnx`, () => composeModel(backbone.bytes, headsBytes));
  return composed.bytes;
}

/** Every declared head must be an output of the graph with as many values as it has labels. */
export function checkGraphAgainstManifest(graphBytes: Uint8Array, manifest: ModelManifest): void {
  const graph = parseModel(graphBytes).graph;
  const outputs = new Map<string, number | undefined>();
  for (const output of graph?.output ?? []) {
    const dims = output.type?.tensorType?.shape?.dim ?? [];
    const last = dims[dims.length - 1];
    const size = last?.dimValue != null ? Number(last.dimValue) : undefined;
    outputs.set(output.name ?? '', size);
  }
  const expect = (name: string, size: number, what: string): void => {
    if (!outputs.has(name)) throw new GroknetError('model_invalid', `${what}: the graph has no output '${name}'`);
    const actual = outputs.get(name);
    if (actual !== undefined && actual !== size) {
      throw new GroknetError('model_invalid', `${what}: output '${name}' has ${actual} values, the manifest declares ${size}`);
    }
  };
  for (const head of manifest.heads) {
    if (head.output !== headOutputName(head.name)) {
      throw new GroknetError('model_invalid', `head '${head.name}' must read output '${headOutputName(head.name)}'`);
    }
    expect(head.output, head.labels.length, `head '${head.name}'`);
  }
  if (manifest.embedding.output !== EMBEDDING_OUTPUT || manifest.embedding.codeOutput !== CODE_OUTPUT) {
    throw new GroknetError('model_invalid', `the embedding must read outputs '${EMBEDDING_OUTPUT}' and '${CODE_OUTPUT}'`);
  }
  expect(manifest.embedding.output, manifest.embedding.dim, 'embedding');
  expect(manifest.embedding.codeOutput, manifest.embedding.codeBits, 'binary code');
}
