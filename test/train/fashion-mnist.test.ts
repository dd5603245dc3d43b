// The Fashion-MNIST adapter on generated IDX files: samples and labels of both splits, the
// decoded-pixel path the trainer takes giving exactly the tensor of the image's PNG, and
// the errors for an index outside the file and for a labels file that does not match.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { before, test } from 'node:test';
import { GroknetError } from '../../src/errors.ts';
import { loadForModel } from '../../src/image/preprocess.ts';
import { backboneSpec } from '../../src/model/backbones/registry.ts';
import { loadViewTensor } from '../../src/train/augment.ts';
import { idxImagePng, idxImageRgb, loadFashionMnist } from '../../src/train/datasets/fashion-mnist.ts';

const isCode = (code: string) => (e: unknown) => e instanceof GroknetError && e.code === code;
let root: string;

function idx(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt8(0x08, 2);
  header.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

function images(count: number, seed: number): Uint8Array {
  // A bright square whose position and brightness vary: pixels that resize non-trivially.
  const out = new Uint8Array(count * 28 * 28);
  for (let n = 0; n < count; n++) {
    const x0 = (n * 5 + seed) % 14;
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) out[n * 784 + y * 28 + x] = x >= x0 && x < x0 + 12 && y >= 8 && y < 20 ? 120 + ((n * 37) % 135) : (x * y + seed) % 30;
  }
  return out;
}

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'groknet-fmnist-'));
  await writeFile(path.join(root, 'train-images-idx3-ubyte.gz'), gzipSync(idx([6, 28, 28], images(6, 1))));
  await writeFile(path.join(root, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([6], Uint8Array.from([0, 1, 2, 3, 4, 9]))));
  await writeFile(path.join(root, 't10k-images-idx3-ubyte'), idx([3, 28, 28], images(3, 2)));
  await writeFile(path.join(root, 't10k-labels-idx1-ubyte'), idx([3], Uint8Array.from([5, 6, 7])));
});

test('loadFashionMnist reads both splits (gzip or not) with their class names', async () => {
  const data = await loadFashionMnist(root);
  assert.equal(data.samples.length, 9);
  assert.equal(data.samples.filter((s) => s.split === 'val').length, 3);
  assert.equal(data.tasks.fashion_mnist![data.samples[5]!.single.fashion_mnist!], 'Ankle boot');
  const limited = await loadFashionMnist(root, { limit: 2 });
  assert.equal(limited.samples.filter((s) => s.split === 'train').length, 2);
});

test('validation rows from the training file: left out of the trained subset, and the test split not read', async () => {
  const data = await loadFashionMnist(root, { limit: 3, validation: 2 });
  const train = data.samples.filter((s) => s.split === 'train').map((s) => s.path);
  const val = data.samples.filter((s) => s.split === 'val').map((s) => s.path);
  assert.equal(train.length, 3);
  assert.equal(val.length, 2);
  assert.ok(data.samples.every((s) => s.path.includes('train-images')), 'no test-split image');
  assert.equal(new Set([...train, ...val]).size, 5, 'no validation image is trained on');
  // The same subsets every time: a run's cached features and its held-out figures stay comparable.
  assert.deepEqual((await loadFashionMnist(root, { limit: 3, validation: 2 })).samples.map((s) => s.path), data.samples.map((s) => s.path));
  await assert.rejects(loadFashionMnist(root, { limit: 3, validation: 4 }), (e: unknown) => isCode('invalid_config')(e) && /only 3 beyond the 3 trained on/.test((e as Error).message));
  await assert.rejects(loadFashionMnist(root, { validation: 1 }), isCode('invalid_config'));
});

test('the trainer reads an IDX image as decoded pixels: the same tensor as its PNG through the image pipeline', async () => {
  const spec = backboneSpec('nsfwjs/mobilenet_v2_mid').input;
  const data = await loadFashionMnist(root);
  for (const sample of data.samples) {
    const [file, index] = [sample.path.slice(0, sample.path.lastIndexOf('#')), Number(sample.path.slice(sample.path.lastIndexOf('#') + 1))];
    const viaPng = (await loadForModel(await idxImagePng(file, index), spec)).tensor;
    const direct = await loadViewTensor(sample.path, spec);
    assert.deepEqual(direct, viaPng, sample.path);
    const rgb = await idxImageRgb(file, index);
    assert.equal(rgb.data.length, 28 * 28 * 3);
  }
});

test('an index outside the IDX file and a labels file of another length are refused', async () => {
  await assert.rejects(idxImageRgb(path.join(root, 't10k-images-idx3-ubyte'), 3), isCode('invalid_argument'));
  await assert.rejects(loadViewTensor(`${path.join(root, 't10k-images-idx3-ubyte')}#-1`, backboneSpec('nsfwjs/mobilenet_v2_mid').input));
  const bad = await mkdtemp(path.join(os.tmpdir(), 'groknet-fmnist-bad-'));
  await writeFile(path.join(bad, 'train-images-idx3-ubyte'), idx([2, 28, 28], images(2, 0)));
  await writeFile(path.join(bad, 'train-labels-idx1-ubyte'), idx([3], Uint8Array.from([0, 1, 2])));
  await writeFile(path.join(bad, 't10k-images-idx3-ubyte'), idx([1, 28, 28], images(1, 0)));
  await writeFile(path.join(bad, 't10k-labels-idx1-ubyte'), idx([1], Uint8Array.from([0])));
  await assert.rejects(loadFashionMnist(bad), isCode('invalid_labels'));
});
