// The segmentation trainer's settings: defaults filled in, the shipped model's recorded
// settings accepted as they are, and every setting that cannot work refused by name.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { GroknetError } from '../../../src/errors.ts';
import { parseSegmentTrainConfig } from '../../../src/train/segmentation/config.ts';

const where = { datasets: '/data', out: '/out' };

const refused = (message: RegExp) => (e: unknown) => e instanceof GroknetError && e.code === 'invalid_config' && message.test(e.message);

test('left out, each setting takes its default; given, it is kept', () => {
  const config = parseSegmentTrainConfig(where);
  assert.equal(config.epochs, 24);
  assert.deepEqual(config.inputSize, [352, 224]);
  assert.deepEqual(config.widths, [128, 128, 64]);
  assert.deepEqual(config.merge, {});
  assert.equal(config.validateOn, 'val');
  assert.equal(config.upperTrunkFrom, undefined);
  const given = parseSegmentTrainConfig({ ...where, epochs: 3, inputSize: [448, 288], merge: { boots: 'shoes' }, validateOn: 'dev', maxPhotos: 10 });
  assert.deepEqual([given.epochs, given.inputSize, given.merge, given.validateOn, given.maxPhotos], [3, [448, 288], { boots: 'shoes' }, 'dev', 10]);
});

test("the shipped model's recorded settings parse back to themselves (what --config takes to retrain it)", async () => {
  const manifest = JSON.parse(await readFile(new URL('../../../models/groknet-segment/model.json', import.meta.url), 'utf8')) as { training: { config: Record<string, unknown> } };
  const recorded = { ...manifest.training.config, ...where };
  assert.deepEqual(parseSegmentTrainConfig(recorded), recorded);
});

test('a misspelt or unknown setting is refused by name, not trained as the default', () => {
  assert.throws(() => parseSegmentTrainConfig({ ...where, epoch: 3 }), refused(/Unrecognized key: "epoch"/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, log: () => {} }), refused(/Unrecognized key: "log"/));
});

test('settings that cannot work are refused with what is wrong, several at once', () => {
  assert.throws(() => parseSegmentTrainConfig({ out: '/out' }), refused(/datasets:/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, epochs: 0 }), refused(/epochs:/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, batchSize: 2.5 }), refused(/batchSize:/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, learningRate: 0 }), refused(/learningRate:/));
  // One width per decoder level: a missing one would build a decoder level of width undefined.
  assert.throws(() => parseSegmentTrainConfig({ ...where, widths: [128, 64] }), refused(/widths: one width per decoder level \(3\)/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, cropScale: [0.9, 0.5] }), refused(/cropScale: must be \[smallest, largest\] share/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, cropScale: [0, 0.5] }), refused(/cropScale\.0:/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, dropout: 1 }), refused(/dropout:/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, validateOn: 'test' }), refused(/validateOn:/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, inputSize: [448, 300] }), refused(/inputSize: must be \[height, width\], each a multiple of 32 from 64 to 1024/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, inputSize: [2048, 1024] }), refused(/inputSize:/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, upperTrunkLearningRate: -1e-3 }), refused(/upperTrunkLearningRate: must be 0 \(frozen\) or positive/));
  assert.throws(() => parseSegmentTrainConfig({ ...where, block15LearningRate: 1e-3 }), refused(/block15LearningRate: needs upperTrunkLearningRate > 0/));
  assert.ok(parseSegmentTrainConfig({ ...where, block15LearningRate: 1e-3, upperTrunkLearningRate: 1e-3 }));
  // Every problem is named, each with its setting, where the message says whose settings they are.
  assert.throws(() => parseSegmentTrainConfig({ ...where, epochs: -1, flip: 'yes' }, '--config'), refused(/--config: epochs: .*; flip: /));
});
