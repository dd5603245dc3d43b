// TensorFlow.js set up once for training. The @tensorflow/tfjs bundle registers every
// gradient (tfjs-core's Node build alone has none). The wasm backend (SIMD) trains the
// dense layers about 3x faster than the pure-JS cpu backend here (BENCHMARKS.md); cpu is
// the fallback. PROD mode drops debug checks and console banners.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

tf.env().set('PROD', true);

export type TrainingBackend = 'wasm' | 'cpu';

export async function readyTf(preferred: TrainingBackend = (process.env.GROKNET_TF_BACKEND as TrainingBackend | undefined) ?? 'wasm'): Promise<typeof tf> {
  if (tf.getBackend() !== preferred) {
    const ok = await tf.setBackend(preferred).catch(() => false);
    if (!ok) await tf.setBackend('cpu');
  }
  await tf.ready();
  return tf;
}

export { tf };
