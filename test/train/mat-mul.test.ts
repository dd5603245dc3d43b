// The trainer's matrix product: its gradients equal TF.js's own (which take the wasm
// backend's slow transposed path), with and without the operand that needs none.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { matMul } from '../../src/train/mat-mul.ts';
import { readyTf, tf } from '../../src/train/tf.ts';

before(async () => {
  await readyTf();
});

function maxRelativeDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(a, b))), tf.add(tf.max(tf.abs(b)), 1e-12)).dataSync()[0]!);
}

test('matMul: value and gradients of a two-layer loss equal tf.matMul', () => {
  const x = tf.variable(tf.randomNormal([9, 13], 0, 1, 'float32', 1));
  const w = tf.variable(tf.randomNormal([13, 7], 0, 1, 'float32', 2));
  const v = tf.variable(tf.randomNormal([7, 5], 0, 1, 'float32', 3));
  const loss = (mm: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D) => () =>
    tf.sum(tf.square(mm(tf.relu(mm(x as tf.Tensor2D, w as tf.Tensor2D)) as tf.Tensor2D, v as tf.Tensor2D))) as tf.Scalar;
  const reference = tf.variableGrads(loss((a, b) => tf.matMul(a, b)));
  const fast = tf.variableGrads(loss((a, b) => matMul(a, b)));
  assert.ok(maxRelativeDifference(fast.value, reference.value) < 1e-6);
  for (const variable of [x, w, v]) assert.ok(maxRelativeDifference(fast.grads[variable.name]!, reference.grads[variable.name]!) < 1e-5, variable.name);
});

test('matMul with a constant first operand: only the second gets a gradient, and it is the same', () => {
  const x = tf.variable(tf.randomNormal([6, 4], 0, 1, 'float32', 4));
  const w = tf.variable(tf.randomNormal([4, 3], 0, 1, 'float32', 5));
  const reference = tf.variableGrads(() => tf.sum(tf.square(tf.matMul(x, w))) as tf.Scalar, [w]);
  // The constant operand is an intermediate of the forward pass (as the trainer's dropout output is), freed before the backward pass.
  const reference2 = tf.variableGrads(() => tf.sum(tf.square(tf.matMul(tf.relu(x), w))) as tf.Scalar, [w]);
  const intermediate = tf.variableGrads(() => tf.sum(tf.square(matMul(tf.relu(x) as tf.Tensor2D, w as tf.Tensor2D, true))) as tf.Scalar, [w]);
  assert.ok(maxRelativeDifference(intermediate.grads[w.name]!, reference2.grads[w.name]!) < 1e-6);
  const fast = tf.variableGrads(() => tf.sum(tf.square(matMul(x as tf.Tensor2D, w as tf.Tensor2D, true))) as tf.Scalar, [x, w]);
  assert.ok(maxRelativeDifference(fast.grads[w.name]!, reference.grads[w.name]!) < 1e-6);
  assert.equal(fast.grads[x.name], undefined, 'no gradient reaches the constant operand');
});

test('matMul refuses operands whose inner dimensions differ', () => {
  assert.throws(() => matMul(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([4, 2]) as tf.Tensor2D));
});
