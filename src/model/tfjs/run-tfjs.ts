// Executes a TF.js graph model in-process (wasm backend when it loads, cpu otherwise), to
// serve as the reference the ONNX conversion is checked against in tests and benchmarks.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfconv from '@tensorflow/tfjs-converter';
import type { TfjsModelArtifacts } from './model-json.ts';

export interface HostOutput {
  data: Float32Array;
  shape: number[];
}

let backendReady: Promise<string> | undefined;

/** Picks the backend once: wasm is several times faster than the pure-JS cpu backend. */
export function ensureTfjsBackend(preferred: 'wasm' | 'cpu' = 'wasm'): Promise<string> {
  backendReady ??= (async () => {
    const ok = preferred === 'wasm' && (await tf.setBackend('wasm').catch(() => false));
    if (!ok) await tf.setBackend('cpu');
    await tf.ready();
    return tf.getBackend();
  })();
  return backendReady;
}

const loaded = new WeakMap<TfjsModelArtifacts, Promise<tfconv.GraphModel>>();

function loadGraph(model: TfjsModelArtifacts): Promise<tfconv.GraphModel> {
  let graph = loaded.get(model);
  if (!graph) {
    const { modelJson, weightSpecs, weightData } = model;
    graph = tfconv.loadGraphModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs,
        weightData,
        format: modelJson.format,
        generatedBy: modelJson.generatedBy,
        convertedBy: modelJson.convertedBy ?? null,
        ...(modelJson.signature ? { signature: modelJson.signature as object } : {}),
        ...(modelJson.userDefinedMetadata ? { userDefinedMetadata: modelJson.userDefinedMetadata as object } : {}),
      }),
    );
    loaded.set(model, graph);
  }
  return graph;
}

/**
 * Runs the model on one float32 input and returns the named tensors (any node name,
 * optionally `name:k` for a node's k-th output), converted to float32.
 */
export async function runTfjsGraph(
  model: TfjsModelArtifacts,
  inputs: Float32Array,
  shape: number[],
  outputNames: string[],
): Promise<Record<string, HostOutput>> {
  await ensureTfjsBackend();
  const graph = await loadGraph(model);
  const input = tf.tensor(inputs, shape, 'float32');
  try {
    const result = graph.execute(input, outputNames);
    const tensors = Array.isArray(result) ? result : [result];
    const out: Record<string, HostOutput> = {};
    tensors.forEach((t, i) => {
      const name = outputNames[i] as string;
      out[name] = { data: Float32Array.from(t.dataSync() as ArrayLike<number>), shape: t.shape };
      t.dispose();
    });
    return out;
  } finally {
    input.dispose();
  }
}
