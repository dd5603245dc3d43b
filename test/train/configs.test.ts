// Every committed training config (the shipped default and the experiments BENCHMARKS.md
// cites) still parses, so a schema change cannot silently strand one. No dataset is read.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { datasetViews, parseTrainConfig, readTrainConfig as readConfig, type TrainConfig } from '../../src/train/config.ts';

const root = path.resolve(import.meta.dirname, '../../configs');

/** Task titles name heads to people and change nothing trained: the comparisons below leave them out. */
async function readTrainConfig(file: string): Promise<TrainConfig> {
  const config = await readConfig(file);
  return { ...config, tasks: config.tasks.map((task) => Object.fromEntries(Object.entries(task).filter(([key]) => key !== 'title')) as typeof task) };
}

/** The shipped config's tasks, titles kept. */
const titledTasks = async () => (await readConfig(path.join(root, 'default.json'))).tasks;

test('the committed configs parse, and the experiments differ from the default where their names say', async () => {
  const files = [path.join(root, 'default.json'), ...(await readdir(path.join(root, 'experiments'))).filter((f) => f.endsWith('.json')).map((f) => path.join(root, 'experiments', f))];
  assert.ok(files.length >= 3, `${files.length} configs`);
  const configs = new Map<string, Awaited<ReturnType<typeof readTrainConfig>>>();
  for (const file of files) configs.set(path.basename(file, '.json'), await readTrainConfig(file));
  // The lineage below runs through 0.5.2 (shrink-views), the last shipped config with every
  // dataset; the shipped default (0.5.3) is checked against it in its own test.
  const base = configs.get('shrink-views')!;
  // Dataset paths resolve to the same folders from either place.
  const pathOf = new Map(base.datasets.map((d) => [d.name, d.path]));
  for (const [name, config] of configs) for (const d of config.datasets) assert.equal(d.path, pathOf.get(d.name), `${name}: ${d.name}`);
  assert.deepEqual(datasetViews(configs.get('colour-jitter')!.datasets[1]!), ['flip+jitter']);
  assert.equal(configs.get('learned-gem')!.model.upperTrunk?.learnGemP, true);
  assert.equal(base.model.upperTrunk?.learnGemP, false);
  assert.deepEqual(configs.get('shared-1024')!.model.shared, [1024]);
  assert.deepEqual(base.model.shared, [512]);
  // 0.3.3 was the trunk-lr experiment, 0.3.4 trunk-from-4, 0.4.0 fused-centernet, 0.4.1 fused-crop-flip.
  assert.equal(configs.get('trunk-lr')!.model.upperTrunk?.learningRate, 5e-4);
  assert.equal(configs.get('trunk-lr')!.model.upperTrunk?.fromEpoch, 5);
  assert.equal(base.model.upperTrunk?.learningRate, 5e-4);
  assert.equal(configs.get('trunk-lr-1e-3')!.model.upperTrunk?.learningRate, 1e-3);
  assert.equal(configs.get('trunk-from-4')!.model.upperTrunk?.fromEpoch, 4);
  // fused-centernet was 0.4.0: 0.3.3 (trunk-lr) with CenterNet's backbone beside MobileNetV2.
  const v040 = configs.get('fused-centernet')!;
  assert.equal(v040.model.backbone, 'fused/mobilenet_v2_mid+centernet');
  assert.deepEqual(v040.model.tensors, ['conv_1', 'centernet_extern1']);
  const trunkLr = configs.get('trunk-lr')!;
  assert.deepEqual({ ...v040, version: trunkLr.version, model: { ...v040.model, backbone: trunkLr.model.backbone, tensors: trunkLr.model.tensors } }, trunkLr);
  assert.notDeepEqual({ ...configs.get('trunk-from-4')!, version: v040.version }, v040);
  // fused-from-4 is 0.4.0 with the trunk from epoch 4.
  const fusedFrom4 = configs.get('fused-from-4')!;
  assert.equal(fusedFrom4.model.upperTrunk?.fromEpoch, 4);
  assert.deepEqual({ ...fusedFrom4, version: v040.version, model: { ...fusedFrom4.model, upperTrunk: v040.model.upperTrunk } }, v040);
  // fused-crop-flip is 0.4.0 with each photo's one augmented view cropped and mirrored; it was
  // 0.4.1 but for its version.
  const cropFlip = configs.get('fused-crop-flip')!;
  assert.deepEqual(cropFlip.datasets.map((d) => datasetViews(d)), [['crop+flip'], ['crop+flip'], ['crop+flip'], []]);
  assert.deepEqual(v040.datasets.map((d) => datasetViews(d)), [['flip'], ['flip'], ['flip'], []]);
  assert.deepEqual({ ...cropFlip, version: v040.version, datasets: v040.datasets }, v040);
  // fused-seed-8 and fused-seed-9 are 0.4.1 with other seeds (run-to-run movement).
  const seed8 = configs.get('fused-seed-8')!;
  assert.equal(seed8.seed, 8);
  assert.deepEqual({ ...seed8, version: cropFlip.version, seed: cropFlip.seed }, cropFlip);
  const seed9 = configs.get('fused-seed-9')!;
  assert.equal(seed9.seed, 9);
  assert.deepEqual({ ...seed9, version: cropFlip.version, seed: cropFlip.seed }, cropFlip);
  // contrastive-0.1 is 0.4.1 with the contrastive loss at a fifth of its weight.
  const contrastive = configs.get('contrastive-0.1')!;
  assert.equal(contrastive.tasks.find((t) => t.loss === 'contrastive')?.weight, 0.1);
  assert.equal(cropFlip.tasks.find((t) => t.loss === 'contrastive')?.weight, 0.5);
  assert.deepEqual({ ...contrastive, version: cropFlip.version, tasks: cropFlip.tasks }, cropFlip);
  // clothing-weight-1.5 is 0.4.1 with clothing's share of each epoch raised from 1 to 1.5.
  const clothing15 = configs.get('clothing-weight-1.5')!;
  assert.deepEqual(clothing15.datasets.map((d) => d.weight), [1.5, 1, 0.6, 0.8]);
  assert.deepEqual(cropFlip.datasets.map((d) => d.weight), [1, 1, 0.6, 0.8]);
  assert.deepEqual({ ...clothing15, version: cropFlip.version, datasets: cropFlip.datasets }, cropFlip);
  // grocery-weight-1.5 is 0.4.1 with grocery's share raised the same way.
  const grocery15 = configs.get('grocery-weight-1.5')!;
  assert.deepEqual(grocery15.datasets.map((d) => d.weight), [1, 1.5, 0.6, 0.8]);
  assert.deepEqual({ ...grocery15, version: cropFlip.version, datasets: cropFlip.datasets }, cropFlip);
  // block-15 is 0.4.1 with block 15 trained too (fed cached block-14 maps).
  const block15 = configs.get('block-15')!;
  assert.equal(block15.model.upperTrunk?.layers, 'block_15');
  assert.equal(cropFlip.model.upperTrunk?.layers, 'block_16');
  assert.deepEqual({ ...block15, version: cropFlip.version, model: { ...block15.model, upperTrunk: { ...block15.model.upperTrunk!, layers: 'block_16' } } }, cropFlip);
  // 0.4.3 was block-15 itself: its 7 trunk epochs fit the 45 minutes once the trunk's graphs went
  // channel-major (0.4.2 was block-15 with the trunk from epoch 7).
  assert.equal(block15.model.upperTrunk?.fromEpoch, 5);
  // The 0.4.3 experiments: one change each to block-15.
  const sameAsBlock15 = (name: string, patch: (c: typeof block15) => typeof block15) => assert.deepEqual({ ...patch(configs.get(name)!), version: block15.version }, block15, name);
  assert.equal(configs.get('block-15-epochs-20')!.optimizer.epochs, 20);
  sameAsBlock15('block-15-epochs-20', (c) => ({ ...c, optimizer: { ...c.optimizer, epochs: block15.optimizer.epochs } }));
  assert.deepEqual(datasetViews(configs.get('grocery-two-views')!.datasets[1]!), ['crop+flip', 'flip']);
  sameAsBlock15('grocery-two-views', (c) => ({ ...c, datasets: block15.datasets }));
  assert.equal(configs.get('batch-64')!.optimizer.batchSize, 64);
  sameAsBlock15('batch-64', (c) => ({ ...c, optimizer: { ...c.optimizer, batchSize: block15.optimizer.batchSize } }));
  // trunk-epochs-9: two trunk epochs more, and Fashion-MNIST's held-out rows from its training file.
  const epochs9 = configs.get('trunk-epochs-9')!;
  assert.equal(epochs9.optimizer.epochs, 14);
  assert.equal(epochs9.datasets[3]!.validation, 2000);
  assert.equal(block15.datasets[3]!.validation, undefined);
  sameAsBlock15('trunk-epochs-9', (c) => ({ ...c, datasets: block15.datasets, optimizer: { ...c.optimizer, epochs: block15.optimizer.epochs } }));
  assert.equal(configs.get('trunk-epochs-9-seed-8')!.seed, 8);
  assert.deepEqual({ ...configs.get('trunk-epochs-9-seed-8')!, version: epochs9.version, seed: epochs9.seed }, epochs9);
  // 0.4.4 was trunk-epochs-9. 0.5.0 to 0.5.2 are it with two more datasets
  // (fashion-products, furniture), a vertical for each photo dataset, their heads, and
  // Fashion-MNIST cut to 4,000 training rows at weight 0.4 to pay for them (issue #25).
  assert.deepEqual(base.datasets.map((d) => d.name), ['clothing', 'grocery', 'clothing-parsing', 'fashion-mnist', 'fashion-products', 'furniture']);
  // Every head the shipped config trains is titled for people (model.json `title`).
  assert.deepEqual((await titledTasks()).filter((t) => t.head !== 'embedding' && !('title' in t && t.title)).map((t) => t.head), []);
  assert.deepEqual(base.datasets.map((d) => d.vertical), ['fashion', 'grocery', 'fashion', undefined, 'fashion', 'home']);
  assert.deepEqual([base.datasets[3]!.limit, base.datasets[3]!.weight], [4000, 0.4]);
  assert.deepEqual(base.tasks.map((t) => t.head).filter((h) => !epochs9.tasks.some((t) => t.head === h)), ['vertical', 'fashion_article', 'colour', 'gender', 'usage', 'furniture']);
  // 0.5.2 gave clothing and grocery thumbnail views (crop+flip+shrink) where 0.4.4 had crop+flip.
  const oldDatasets = base.datasets.slice(0, 4).map(({ vertical: _, ...d }) => ({ ...d, views: Array.isArray(d.views) ? d.views.map((v) => v.replace('+shrink', '')) : d.views }));
  oldDatasets[3] = { ...oldDatasets[3]!, limit: 12000, weight: 0.8 };
  assert.deepEqual(oldDatasets, epochs9.datasets);
  assert.deepEqual({ ...base, version: epochs9.version, datasets: epochs9.datasets, tasks: base.tasks.filter((t) => epochs9.tasks.some((o) => o.head === t.head)) }, epochs9);
});

test('fashion-products-views is 0.5.2\'s config but for its datasets: 0.5.0 with a cropped, mirrored view of each fashion-products shot', async () => {
  const base = await readTrainConfig(path.join(root, 'experiments', 'shrink-views.json'));
  const views = await readTrainConfig(path.join(root, 'experiments', 'fashion-products-views.json'));
  assert.deepEqual(datasetViews(views.datasets[4]!), ['crop+flip']);
  assert.deepEqual(datasetViews(base.datasets[4]!), []);
  assert.deepEqual({ ...views, version: base.version, datasets: base.datasets }, base);
});

test('shrink-views was 0.5.2; the shipped config (0.5.3) is no-fmnist-epochs-16: half-thumbnail views, Fashion-MNIST out, 16 epochs', async () => {
  const shrink = await readTrainConfig(path.join(root, 'experiments', 'shrink-views.json'));
  const changed = new Set(['clothing', 'grocery', 'furniture']);
  for (const d of shrink.datasets) assert.deepEqual(datasetViews(d), changed.has(d.name) ? ['crop+flip+shrink'] : d.name === 'clothing-parsing' ? ['crop+flip'] : [], d.name);
  // half-shrink: 0.5.2 with each of those photos a thumbnail or a full-size crop.
  const half = await readTrainConfig(path.join(root, 'experiments', 'half-shrink.json'));
  assert.deepEqual(half.datasets.filter((d) => changed.has(d.name)).map(datasetViews), [['crop+flip|crop+flip+shrink'], ['crop+flip|crop+flip+shrink'], ['crop+flip|crop+flip+shrink']]);
  assert.deepEqual({ ...half, version: shrink.version, datasets: shrink.datasets }, shrink);
  assert.deepEqual(half.datasets.map(({ views: _, ...d }) => d), shrink.datasets.map(({ views: _, ...d }) => d));
  // no-fmnist-epochs-16: half-shrink with Fashion-MNIST (and its head) left out and 16 epochs.
  const shipped = await readTrainConfig(path.join(root, 'experiments', 'no-fmnist-epochs-16.json'));
  assert.deepEqual(shipped.datasets.map((d) => d.name), ['clothing', 'grocery', 'clothing-parsing', 'fashion-products', 'furniture']);
  assert.equal(shipped.optimizer.epochs, 16);
  const withoutMnist = { ...half, datasets: half.datasets.filter((d) => d.name !== 'fashion-mnist'), tasks: half.tasks.filter((t) => t.head !== 'fashion_mnist') };
  assert.deepEqual({ ...shipped, version: half.version, optimizer: half.optimizer }, withoutMnist);
  const raw = JSON.parse(await readFile(path.join(root, 'experiments', 'no-fmnist-epochs-16.json'), 'utf8')) as { datasets: Array<{ name: string; enabled?: boolean }> };
  assert.equal(raw.datasets.find((d) => d.name === 'fashion-mnist')?.enabled, false, 'one line leaves it out');
  // The shipped default is that file but for where its dataset paths are written from.
  const base = await readTrainConfig(path.join(root, 'default.json'));
  assert.equal(base.version, '0.5.3');
  assert.deepEqual(base, shipped);
  // fashion-products-views was run from 0.5.0, whose photo datasets had crop+flip views.
  const views = await readTrainConfig(path.join(root, 'experiments', 'fashion-products-views.json'));
  assert.deepEqual(views.datasets.filter((d) => changed.has(d.name)).map(datasetViews), [['crop+flip'], ['crop+flip'], ['crop+flip']]);
});

test('the shipped config leaves any dataset out with one line ("enabled": false): its tasks go with it', async () => {
  const json = JSON.parse(await readFile(path.join(root, 'default.json'), 'utf8')) as { datasets: Array<Record<string, unknown>>; tasks: Array<{ head: string; dataset?: string }> };
  // Fashion-MNIST is already left out of the shipped config (0.5.3), with its head.
  const off = new Set(json.datasets.filter((d) => d.enabled === false).map((d) => String(d.name)));
  assert.deepEqual([...off], ['fashion-mnist']);
  assert.ok(!parseTrainConfig(json).tasks.some((t) => t.head === 'fashion_mnist'));
  for (const [i, dropped] of json.datasets.entries()) {
    const datasets = json.datasets.map((d, j) => (j === i ? { ...d, enabled: false } : d));
    const config = parseTrainConfig({ ...json, datasets });
    assert.ok(!config.datasets.some((d) => d.name === dropped.name));
    assert.deepEqual(config.tasks.map((t) => t.head), json.tasks.filter((t) => t.dataset !== dropped.name && !off.has(t.dataset ?? '')).map((t) => t.head), String(dropped.name));
  }
  // Two verticals are needed for the vertical head: leaving out every fashion dataset still leaves grocery and home.
  const noFashion = json.datasets.map((d) => (d.vertical === 'fashion' ? { ...d, enabled: false } : d));
  assert.deepEqual(parseTrainConfig({ ...json, datasets: noFashion }).datasets.map((d) => d.name), ['grocery', 'furniture']);
  const onlyGrocery = json.datasets.map((d) => (d.name === 'grocery' ? d : { ...d, enabled: false }));
  assert.throws(() => parseTrainConfig({ ...json, datasets: onlyGrocery }), /at least two verticals/);
  assert.throws(() => parseTrainConfig({ ...json, datasets: json.datasets.map((d) => ({ ...d, enabled: false })) }), /every dataset is disabled/);
});
