// Decoder classes over the clothing-parsing label list, merges, and the scores.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildClassMap, classMapFrom, mergeMask } from '../../src/segment/classes.ts';
import { Confusion } from '../../src/segment/metrics.ts';
import { parseSegmentManifest } from '../../src/segment/manifest.ts';

const LABELS = ['null', 'boots', 'dress', 'heels', 'shoes', 'skin', 'watch'];

test('classes: background first, labels without pixels dropped, merged labels write their target', () => {
  const withPixels = new Set(['null', 'boots', 'dress', 'heels', 'skin']);
  const map = buildClassMap(LABELS, { boots: 'shoes', heels: 'shoes' }, (l) => withPixels.has(l));
  // 'shoes' has no pixels of its own but its members do; 'watch' has none and is dropped.
  assert.deepEqual(map.classLabels.map((i) => LABELS[i]), ['null', 'shoes', 'dress', 'skin']);
  assert.deepEqual(Array.from(map.classOfLabel), [0, 1, 2, 1, 1, 3, -1]);
  assert.deepEqual(Array.from(mergeMask(Uint8Array.from([0, 1, 2, 3, 4, 5, 6]), map)), [0, 4, 2, 4, 4, 5, 6]);
  // What a manifest stores rebuilds the same map.
  const rebuilt = classMapFrom(LABELS, map.classLabels, { boots: 'shoes', heels: 'shoes' });
  assert.deepEqual(Array.from(rebuilt.classOfLabel), Array.from(map.classOfLabel));
  assert.throws(() => buildClassMap(['dress', 'null'], {}, () => true), /label 0 must be 'null'/);
  assert.throws(() => buildClassMap(LABELS, { boots: 'sandals' }, () => true), /unknown label/);
  assert.throws(() => buildClassMap(LABELS, { boots: 'heels', heels: 'shoes' }, () => true), /itself merged/);
});

test('pixel accuracy and IoU over the labels present', () => {
  const confusion = new Confusion(4);
  // truth:     0 0 0 0 1 1 2 2   (label 3 absent)
  // predicted: 0 0 0 1 1 1 2 3
  confusion.add(Uint8Array.from([0, 0, 0, 1, 1, 1, 2, 3]), Uint8Array.from([0, 0, 0, 0, 1, 1, 2, 2]));
  assert.equal(confusion.pixelAccuracy(), 6 / 8);
  const per = confusion.perLabel();
  assert.equal(per[0]!.iou, 3 / 4);
  assert.equal(per[1]!.iou, 2 / 3);
  assert.equal(per[2]!.iou, 1 / 2);
  assert.equal(per[3]!.iou, 0); // predicted but absent: not in the mean
  assert.equal(confusion.meanIoU(), (3 / 4 + 2 / 3 + 1 / 2) / 3);
});

test('a segmentation manifest is checked', () => {
  const good = {
    formatVersion: 1,
    kind: 'segmentation',
    name: 'm',
    version: '1',
    backbone: { id: 'nsfwjs/mobilenet_v2_mid', tensors: ['a'] },
    input: { size: [352, 224], mode: 'letterbox', layout: 'NHWC', channelOrder: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    decoderFile: 'decoder.onnx',
    output: 'segment_logits',
    grid: { height: 44, width: 28, stride: 8, offset: 7.5 },
    labels: LABELS,
    classLabels: [0, 2, 5],
  };
  assert.equal(parseSegmentManifest(good).notGarments.length, 3);
  assert.throws(() => parseSegmentManifest({ ...good, classLabels: [0, 9] }), /not in the 7 labels/);
  assert.throws(() => parseSegmentManifest({ ...good, classLabels: [0, 2, 2] }), /same label/);
  assert.throws(() => parseSegmentManifest({ ...good, merged: { boots: 'sneakers' } }), /unknown label/);
  assert.throws(() => parseSegmentManifest({ ...good, kind: 'heads' }), /kind/);
});
