// Every committed training config (the shipped default and the experiments BENCHMARKS.md
// cites) still parses, so a schema change cannot silently strand one. No dataset is read.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { datasetViews, readTrainConfig } from '../../src/train/config.ts';

const root = path.resolve(import.meta.dirname, '../../configs');

test('the committed configs parse, and the experiments differ from the default where their names say', async () => {
  const files = [path.join(root, 'default.json'), ...(await readdir(path.join(root, 'experiments'))).filter((f) => f.endsWith('.json')).map((f) => path.join(root, 'experiments', f))];
  assert.ok(files.length >= 3, `${files.length} configs`);
  const configs = new Map<string, Awaited<ReturnType<typeof readTrainConfig>>>();
  for (const file of files) configs.set(path.basename(file, '.json'), await readTrainConfig(file));
  const base = configs.get('default')!;
  // Dataset paths resolve to the same folders from either place.
  for (const config of configs.values()) assert.deepEqual(config.datasets.map((d) => d.path), base.datasets.map((d) => d.path));
  assert.deepEqual(datasetViews(configs.get('colour-jitter')!.datasets[1]!), ['flip+jitter']);
  assert.equal(configs.get('learned-gem')!.model.upperTrunk?.learnGemP, true);
  assert.equal(base.model.upperTrunk?.learnGemP, false);
  assert.deepEqual(configs.get('shared-1024')!.model.shared, [1024]);
  assert.deepEqual(base.model.shared, [512]);
  // 0.3.3 was the trunk-lr experiment, 0.3.4 trunk-from-4; 0.4.0 is fused-centernet: the same config but for its version.
  assert.equal(configs.get('trunk-lr')!.model.upperTrunk?.learningRate, 5e-4);
  assert.equal(configs.get('trunk-lr')!.model.upperTrunk?.fromEpoch, 5);
  assert.equal(base.model.upperTrunk?.learningRate, 5e-4);
  assert.equal(configs.get('trunk-lr-1e-3')!.model.upperTrunk?.learningRate, 1e-3);
  assert.equal(configs.get('trunk-from-4')!.model.upperTrunk?.fromEpoch, 4);
  const fused = configs.get('fused-centernet')!;
  assert.equal(fused.model.backbone, 'fused/mobilenet_v2_mid+centernet');
  assert.deepEqual(fused.model.tensors, ['conv_1', 'centernet_extern1']);
  assert.deepEqual({ ...fused, version: base.version }, base);
  // fused-centernet is 0.3.3 (trunk-lr) with CenterNet's backbone beside MobileNetV2.
  const trunkLr = configs.get('trunk-lr')!;
  assert.deepEqual({ ...fused, version: trunkLr.version, model: { ...fused.model, backbone: trunkLr.model.backbone, tensors: trunkLr.model.tensors } }, trunkLr);
  assert.notDeepEqual({ ...configs.get('trunk-from-4')!, version: base.version }, base);
  // fused-from-4 is 0.4.0 with the trunk from epoch 4.
  const fusedFrom4 = configs.get('fused-from-4')!;
  assert.equal(fusedFrom4.model.upperTrunk?.fromEpoch, 4);
  assert.deepEqual({ ...fusedFrom4, version: base.version, model: { ...fusedFrom4.model, upperTrunk: base.model.upperTrunk } }, base);
  // fused-crop-flip is 0.4.0 with each photo's one augmented view cropped and mirrored.
  const cropFlip = configs.get('fused-crop-flip')!;
  assert.deepEqual(cropFlip.datasets.map((d) => datasetViews(d)), [['crop+flip'], ['crop+flip'], ['crop+flip'], []]);
  assert.deepEqual(base.datasets.map((d) => datasetViews(d)), [['flip'], ['flip'], ['flip'], []]);
  assert.deepEqual({ ...cropFlip, version: base.version, datasets: base.datasets }, base);
  // fused-contrastive-0.1 is 0.4.0 with the same-instance contrastive loss at a fifth of its weight.
  const contrastive = configs.get('fused-contrastive-0.1')!;
  const weightOf = (c: typeof base) => c.tasks.find((t) => t.loss === 'contrastive')?.weight;
  assert.equal(weightOf(contrastive), 0.1);
  assert.equal(weightOf(base), 0.5);
  assert.deepEqual({ ...contrastive, version: base.version, tasks: base.tasks }, base);
  // fused-seed-8 is 0.4.0 with another seed (run-to-run movement).
  const seed8 = configs.get('fused-seed-8')!;
  assert.equal(seed8.seed, 8);
  assert.deepEqual({ ...seed8, version: base.version, seed: base.seed }, base);
});
