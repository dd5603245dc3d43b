// Decodes a TF.js weights buffer (uint8 / float16 quantised or plain) into host arrays.
// Dequantisation is left to tfjs-core's decodeWeights so it matches TF.js execution bit for bit.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { GroknetError } from '../../errors.ts';
import type { TfjsModelArtifacts } from './model-json.ts';

export type HostDtype = 'float32' | 'int32' | 'bool';

/** A tensor held in plain JS memory; bool values are stored as 0/1 in an Int32Array. */
export interface HostTensor {
  dtype: HostDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

/**
 * decodeWeights builds tensors, so some backend must be live. When none has been chosen yet,
 * select cpu: its initialisation is synchronous (the wasm backend, once imported, ranks
 * higher but loads asynchronously and would make this synchronous decode throw).
 */
function ensureSyncBackend(): void {
  if (!tf.engine().backendName) void tf.setBackend('cpu');
}

export function decodeTfjsWeights(model: TfjsModelArtifacts): Map<string, HostTensor> {
  ensureSyncBackend();
  let decoded: tf.NamedTensorMap;
  try {
    decoded = tf.io.decodeWeights(model.weightData, model.weightSpecs);
  } catch (cause) {
    throw new GroknetError('model_invalid', 'weights do not match the weights manifest', { cause });
  }
  const out = new Map<string, HostTensor>();
  for (const [name, tensor] of Object.entries(decoded)) {
    if (tensor.dtype === 'float32') {
      out.set(name, { dtype: 'float32', shape: tensor.shape, data: Float32Array.from(tensor.dataSync() as Float32Array) });
    } else if (tensor.dtype === 'int32' || tensor.dtype === 'bool') {
      out.set(name, { dtype: tensor.dtype, shape: tensor.shape, data: Int32Array.from(tensor.dataSync() as ArrayLike<number>) });
    }
    // string and complex weights never reach the ops this converter supports; leaving them out
    // makes a node that uses one fail as a missing constant.
    tensor.dispose();
  }
  return out;
}
