// Checkpoints of the joint fit: the trainable variables, Adam's state and the trunk's, in one
// file a run resumes from bit for bit (format groknet-checkpoint-1: a little-endian header
// length, a JSON header, then the float32 arrays in header order).
import { readFile } from 'node:fs/promises';
import { writeAtomic } from '../model/cache.ts';
import type { TrunkTraining } from './fit-types.ts';
import { tf } from './tf.ts';

interface Checkpoint {
  epoch: number;
  step: number;
  variables: Float32Array[];
  /** The trunk's weights and optimiser state (empty without a trunk). */
  trunk: Float32Array[];
  optimizer: Array<{ name: string; shape: number[]; data: Float32Array }>;
}

async function saveCheckpoint(file: string, checkpoint: Checkpoint): Promise<void> {
  const arrays = [...checkpoint.variables, ...checkpoint.optimizer.map((o) => o.data), ...checkpoint.trunk];
  const header = JSON.stringify({
    format: 'groknet-checkpoint-1',
    epoch: checkpoint.epoch,
    step: checkpoint.step,
    variables: checkpoint.variables.map((v) => v.length),
    optimizer: checkpoint.optimizer.map((o) => ({ name: o.name, shape: o.shape, length: o.data.length })),
    trunk: checkpoint.trunk.map((a) => a.length),
  });
  const headerBytes = Buffer.from(header);
  const lengthBytes = Buffer.alloc(4);
  lengthBytes.writeUInt32LE(headerBytes.length);
  const body = Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
  await writeAtomic(file, Buffer.concat([lengthBytes, headerBytes, body]));
}

async function loadCheckpoint(file: string): Promise<Checkpoint | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return undefined;
  }
  const headerLength = bytes.readUInt32LE(0);
  const header = JSON.parse(bytes.subarray(4, 4 + headerLength).toString()) as {
    format: string;
    epoch: number;
    step: number;
    variables: number[];
    optimizer: Array<{ name: string; shape: number[]; length: number }>;
    trunk?: number[];
  };
  if (header.format !== 'groknet-checkpoint-1') throw new Error(`checkpoint ${file} has an unknown format`);
  let offset = 4 + headerLength;
  const take = (n: number): Float32Array => {
    const out = new Float32Array(n);
    Buffer.from(out.buffer).set(bytes.subarray(offset, offset + n * 4));
    offset += n * 4;
    return out;
  };
  const variables = header.variables.map(take);
  const optimizer = header.optimizer.map((o) => ({ name: o.name, shape: o.shape, data: take(o.length) }));
  const trunk = (header.trunk ?? []).map(take);
  return { epoch: header.epoch, step: header.step, variables, optimizer, trunk };
}

/**
 * TF.js's Adam keeps its bias corrections beta^t as a running float32 product while it
 * trains, but setWeights() recomputes them with pow(): the two differ in the last bits at
 * some steps, and the hinge-like losses turn that into a different model. Rebuild the
 * running product exactly, so a resumed run continues bit for bit.
 */
function restoreAdamBiasCorrections(optimizer: tf.Optimizer, iterations: number): void {
  const adam = optimizer as unknown as { beta1: number; beta2: number; accBeta1: tf.Variable; accBeta2: tf.Variable };
  const runningProduct = (beta: number): number => {
    const b = Math.fround(beta);
    let acc = b;
    // float32 products are exact in a double, so fround rounds them as the kernel does.
    for (let i = 0; i < iterations; i++) acc = Math.fround(acc * b);
    return acc;
  };
  adam.accBeta1.assign(tf.scalar(runningProduct(adam.beta1)));
  adam.accBeta2.assign(tf.scalar(runningProduct(adam.beta2)));
}

/** What a checkpoint of the fit holds at `step` (`epoch`: the epoch a resumed run goes on in). */
export interface FitState {
  epoch: number;
  step: number;
  /** Every trainable variable, in the order the optimiser updates them. */
  variables: readonly tf.Variable[];
  optimizer: tf.Optimizer;
  trunk?: TrunkTraining;
}

export async function saveFitCheckpoint(file: string, state: FitState): Promise<void> {
  const weights = await state.optimizer.getWeights();
  await saveCheckpoint(file, {
    epoch: state.epoch,
    step: state.step,
    variables: state.variables.map((v) => v.dataSync() as Float32Array),
    trunk: state.trunk?.state() ?? [],
    // Float32Array.from: the iteration count is an int32 tensor, whose raw bits are not a float.
    optimizer: await Promise.all(weights.map(async (w) => ({ name: w.name, shape: w.tensor.shape, data: Float32Array.from(await w.tensor.data()) }))),
  });
}

/**
 * Restores the variables, Adam's state and the trunk's from `file` and returns the step to go
 * on from; undefined (nothing restored) when there is no checkpoint yet.
 */
export async function resumeFitCheckpoint(file: string, state: Omit<FitState, 'epoch' | 'step'>): Promise<number | undefined> {
  const saved = await loadCheckpoint(file);
  if (!saved) return undefined;
  const { variables, optimizer, trunk } = state;
  if (saved.variables.length !== variables.length || (saved.trunk.length > 0) !== Boolean(trunk)) throw new Error('the checkpoint does not match this configuration');
  if (trunk) trunk.restore(saved.trunk);
  saved.variables.forEach((values, i) => variables[i]!.assign(tf.tensor(values, variables[i]!.shape)));
  // Adam's slots are created on the first update; make them exist before restoring them.
  if (saved.optimizer.length > 0) {
    await optimizer.setWeights(saved.optimizer.map((o) => ({ name: o.name, tensor: tf.tensor(o.data, o.shape) })));
    restoreAdamBiasCorrections(optimizer, saved.optimizer.find((o) => o.name === 'iter')?.data[0] ?? 0);
  }
  return saved.step;
}
