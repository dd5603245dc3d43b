// TensorFlow.js set up once for training. The @tensorflow/tfjs bundle registers every
// gradient (tfjs-core's Node build alone has none); the CPU backend is used because the
// wasm backend lacks several gradient kernels; PROD mode drops debug checks and banners.
import * as tf from '@tensorflow/tfjs';

tf.env().set('PROD', true);

export async function readyTf(): Promise<typeof tf> {
  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
  await tf.ready();
  return tf;
}

export { tf };
