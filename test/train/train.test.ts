// The unified trainer end to end on generated data: datasets through their adapters, the
// real backbone's cached features, joint training, evaluation, the exported artifact
// loaded and run like the shipped model; and the failures a user meets first.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { GroknetError } from '../../src/errors.ts';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { loadClothing } from '../../src/train/datasets/clothing.ts';
import { loadFolderDataset, loadListingDataset } from '../../src/train/datasets/generic.ts';
import { parseIdx } from '../../src/train/datasets/fashion-mnist.ts';
import { parseTrainConfig, readTrainConfig } from '../../src/train/config.ts';
import { train } from '../../src/train/train.ts';
import { shapeImage } from '../helpers/train-data.ts';

const isCode = (code: string) => (e: unknown) => e instanceof GroknetError && e.code === code;
let root: string;

const shape = shapeImage;

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'groknet-train-'));
  process.env.GROKNET_CACHE = path.join(root, 'cache');
  const colours = ['#d22', '#2a2', '#22d', '#da2'];
  for (const kind of ['circle', 'square', 'stripes'] as const) {
    await mkdir(path.join(root, 'shapes', kind), { recursive: true });
    for (let i = 0; i < 8; i++) await writeFile(path.join(root, 'shapes', kind, `${i}.png`), await shape(kind, colours[i % 4]!, i));
  }
  await writeFile(path.join(root, 'shapes', 'square', 'broken.png'), Buffer.from('not a png at all'));
  await mkdir(path.join(root, 'tags'), { recursive: true });
  const rows: string[] = [];
  for (let i = 0; i < 16; i++) {
    const kind = (['circle', 'square'] as const)[i % 2]!;
    const red = i % 4 < 2;
    await writeFile(path.join(root, 'tags', `${i}.png`), await shape(kind, red ? '#d22' : '#22d', i));
    rows.push(JSON.stringify({ image: `${i}.png`, labels: [kind, red ? 'red' : 'blue'] }));
  }
  await writeFile(path.join(root, 'tags', 'tags.jsonl'), rows.join('\n'));
});

/**
 * Products in the Grocery Store layout (the adapter that carries product ids, which ArcFace
 * trains on): each a shape in a colour, with a catalog image and photos of it moved and
 * resized, 3 per product to train on and 2 held out. Returns the number of products.
 */
async function writeProducts(dir: string): Promise<number> {
  await mkdir(path.join(dir, 'img'), { recursive: true });
  const classes = ['fine,fine_id,coarse,coarse_id,iconic,description'];
  const trainLines: string[] = [];
  const valLines: string[] = [];
  const kinds = ['circle', 'square', 'stripes'] as const;
  let id = 0;
  for (const [k, kind] of kinds.entries()) {
    for (const colour of ['#d22', '#22d']) {
      const name = `${kind}-${id}`;
      await writeFile(path.join(dir, 'img', `${name}-catalog.png`), await shape(kind, colour, id));
      await writeFile(path.join(dir, 'img', `${name}.txt`), name);
      classes.push(`${name},${id},${kind},${k},img/${name}-catalog.png,img/${name}.txt`);
      for (let i = 1; i <= 5; i++) {
        await writeFile(path.join(dir, 'img', `${name}-${i}.png`), await shape(kind, colour, id + 3 * i));
        (i <= 3 ? trainLines : valLines).push(`img/${name}-${i}.png,${id},${k}`);
      }
      id++;
    }
  }
  await writeFile(path.join(dir, 'classes.csv'), classes.join('\n'));
  await writeFile(path.join(dir, 'train.txt'), trainLines.join('\n'));
  await writeFile(path.join(dir, 'val.txt'), valLines.join('\n'));
  return id;
}

test('train: three datasets, softmax + multi-label + ArcFace + contrastive, exported and loadable', async () => {
  const productCount = await writeProducts(path.join(root, 'products'));
  const config = parseTrainConfig({
    name: 'test-model',
    datasets: [
      { name: 'shapes', adapter: 'folder', path: path.join(root, 'shapes'), head: 'shape', views: 1, valFraction: 0.25 },
      { name: 'tags', adapter: 'jsonl', path: path.join(root, 'tags', 'tags.jsonl'), head: 'tags', views: 0, valFraction: 0.25 },
      { name: 'products', adapter: 'grocery', path: path.join(root, 'products'), views: 0 },
    ],
    tasks: [
      { head: 'shape', loss: 'softmax', dataset: 'shapes', title: 'Shape' },
      { head: 'tags', loss: 'bce', dataset: 'tags' },
      { head: 'embedding', loss: 'arcface', weight: 1, scale: 24, margin: 0.3 },
      { head: 'embedding', loss: 'contrastive' },
    ],
    model: { shared: [64], embeddingDim: 32, codeBits: 32 },
    optimizer: { epochs: 4, batchSize: 16, learningRate: 0.005 },
  });
  const out = path.join(root, 'model');
  const lines: string[] = [];
  const outcome = await train(config, { out, log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /failed to decode/.test(l) && l.includes('broken.png')), 'the broken image is counted and skipped');
  assert.ok(lines.some((l) => /^epoch 4\/4/.test(l)));
  const report = outcome.evaluation.report;
  // Tiny and 4 epochs: the shape and tag heads sit near chance here, so only their numbers are checked (NaN is a number).
  const shapeAcc = report.shape!.accuracy as number;
  assert.ok(Number.isFinite(shapeAcc) && shapeAcc >= 0 && shapeAcc <= 1, `shape accuracy ${shapeAcc}`);
  const mAP = report.tags!.mAP as number;
  assert.ok(Number.isFinite(mAP) && mAP >= 0 && mAP <= 1, `tags mAP ${mAP}`);
  assert.ok(report.augmented_view_retrieval, 'augmented-view retrieval is measured');

  // ArcFace's per-epoch loss, as the trainer logs it ("epoch 2/4 (0 s): shape 0.8, arcface 6.3, ...").
  const arcface = lines.filter((l) => /^epoch \d+\//.test(l)).map((l) => Number(/\barcface ([^,]+)/.exec(l)?.[1]));
  assert.equal(arcface.length, 4, `ArcFace trained every epoch: ${lines.join(' | ')}`);
  assert.ok(arcface.every(Number.isFinite), `finite ArcFace losses: ${arcface.join(', ')}`);
  // An untrained embedding has cosines near 0 to every centre, where the margin (+0.3) puts the target
  // logit at -scale*sin(m): a loss of log(1 + 5 e^7.1) = 8.7, far above log(6) = 1.8, uniform guessing's
  // (10.6 over epoch 1 measured). A loss that returns 0, or a margin with the wrong sign (the target
  // logit raised: 1.2 measured), starts below log(6).
  assert.ok(arcface[0]! > Math.log(productCount), `ArcFace's first-epoch loss ${arcface[0]} should exceed log(${productCount}) = ${Math.log(productCount).toFixed(2)}`);
  // ...and training pulls each product's photos to its centre (10.6 -> 2.1 measured; 10.8 -> 10.9 when
  // the loss is logged but reaches no gradient).
  assert.ok(arcface.at(-1)! < arcface[0]! / 2, `ArcFace's loss should fall to under half: ${arcface.join(', ')}`);
  // Held-out photos find their product's catalog image: 0.67 measured, where a random embedding gets 1/6
  // (6 of 12 by chance: p < 1%). The backbone features and the contrastive loss get there without
  // ArcFace too (0.75 measured with it zeroed), so the two checks above are what guard ArcFace.
  const toCatalog = report.photo_to_catalog!;
  assert.equal(toCatalog.queries, 12);
  assert.equal(toCatalog.gallery, productCount);
  assert.ok((toCatalog.recall_at_1 as number) >= 0.5, `photo -> catalog recall@1 ${toCatalog.recall_at_1}`);
  assert.match(await readFile(path.join(out, 'EVAL.md'), 'utf8'), /## shape/);

  const analyzer = await ModelAnalyzer.open(out);
  // A task's title is what model.json calls its head; a head without one has none.
  assert.deepEqual(analyzer.headTitles, { shape: 'Shape' });
  const [result] = await analyzer.analyzeBuffers([await shape('circle', '#d22', 3)]);
  assert.ok(result && !(result instanceof GroknetError));
  assert.deepEqual(Object.keys(result.heads).sort(), ['colour', 'shape', 'tags'], 'learned heads plus the measured colour');
  assert.equal(result.embedding.length, 32);
  assert.match(result.code, /^[0-9a-f]{8}$/);
  await analyzer.close();
});

/** Trains on the shapes with block 16 + Conv_1 (and block 15 with `layers` 'block_15') fine-tuned; checks what the variants share. */
async function trainUpperTrunk(learnGemP: boolean, gemP: number, name: string, fused = false, layers: 'block_16' | 'block_15' = 'block_16') {
  const { prepareTraining, trainPrepared } = await import('../../src/train/train.ts');
  const { upperTrunkInputNode } = await import('../../src/model/upper-trunk/block16.ts');
  const { block15InputNode } = await import('../../src/model/upper-trunk/block15.ts');
  const config = parseTrainConfig({
    name: 'test-upper',
    datasets: [{ name: 'shapes', adapter: 'folder', path: path.join(root, 'shapes'), head: 'shape', views: 1, valFraction: 0.25 }],
    tasks: [
      { head: 'shape', loss: 'softmax', dataset: 'shapes' },
      { head: 'embedding', loss: 'contrastive' },
    ],
    model: {
      gemP,
      shared: [32],
      embeddingDim: 16,
      codeBits: 16,
      upperTrunk: { layers, fromEpoch: 1, learningRate: 1e-3, learnGemP },
      ...(fused ? { backbone: 'fused/mobilenet_v2_mid+centernet', tensors: ['conv_1', 'centernet_extern1'] } : {}),
    },
    optimizer: { epochs: 3, batchSize: 16, learningRate: 0.005 },
  });
  const prepared = await prepareTraining(config, () => {});
  assert.equal(prepared.maps!.length, prepared.rows.rows.length * 7 * 7 * 224, 'trunk-input maps (block 15 or 14: both 224 wide) cached per row and view');
  const out = path.join(root, name);
  let predicted: Float32Array | undefined;
  const valRow = prepared.rows.valRows[0]!;
  let featuresMoved = 0;
  const outcome = await trainPrepared(prepared, {
    out,
    log: () => {},
    onFit: (fit) => {
      predicted = fit.predict(Int32Array.of(valRow)).embedding;
      featuresMoved = fit.features.reduce((m, v, i) => Math.max(m, Math.abs(v - prepared.features[i]!)), 0);
    },
  });
  assert.ok(featuresMoved > 1e-3, 'training the trunk changed the pooled features');
  assert.equal(prepared.dim, fused ? 1792 + 480 : 1792);
  if (layers === 'block_15') assert.equal(outcome.manifest!.backbone.tensors[0], block15InputNode(), 'the backbone is cut at block 14');
  else assert.equal(outcome.manifest!.backbone.tensors[0], upperTrunkInputNode(), 'the backbone is cut at block 15');
  assert.equal(outcome.manifest!.backbone.tensors.length, fused ? 2 : 1);
  assert.match(outcome.manifest!.description ?? '', layers === 'block_15' ? /Fine-tuned blocks 15-16/ : /Fine-tuned block 16/);
  const analyzer = await ModelAnalyzer.open(out);
  const [result] = await analyzer.analyzeBuffers([await readFile(prepared.rows.rows[valRow]!.ref)]);
  await analyzer.close();
  assert.ok(result && !(result instanceof GroknetError));
  // The trainer read float16-cached maps, the exported graph reads the backbone's float32 ones.
  const diff = Array.from(result.embedding).reduce((m, v, i) => Math.max(m, Math.abs(v - predicted![i]!)), 0);
  assert.ok(diff < 1e-2, `exported embedding differs from the trainer's by ${diff}`);
  return outcome.manifest!;
}

test('train with a fine-tuned upper trunk: block 16 + Conv_1 trained, exported over block 15, the ONNX model agrees with the trainer', async () => {
  const manifest = await trainUpperTrunk(false, 1, 'model-upper');
  assert.equal(manifest.training?.gemP, 1, 'average pooling unless GeM is learned');
});

test('train with block 15 fine-tuned too: blocks 15-16 + Conv_1 trained on cached block-14 maps, exported over block 14, the ONNX model agrees with the trainer', async () => {
  const manifest = await trainUpperTrunk(false, 1, 'model-block15', false, 'block_15');
  assert.equal(manifest.training?.gemP, 1);
});

test('train with a learned GeM exponent: the exponent moves from 3, is exported, and the ONNX model still agrees with the trainer', async () => {
  // From p = 3 (the feature cache's other exponent), where it is free to move either way.
  const manifest = await trainUpperTrunk(true, 3, 'model-upper-gem');
  const p = manifest.training?.gemP as number;
  assert.ok(p !== 3 && p >= 1 && p <= 8, `learned exponent ${p}`);
  assert.match(manifest.description ?? '', /GeM \(p learned: /);
});

test('train with a fused backbone: CenterNet pooled features beside the fine-tuned trunk, frozen, exported, agreeing with the trainer', async () => {
  const { withFrozenTail } = await import('../../src/train/trainable-trunk.ts');
  const manifest = await trainUpperTrunk(false, 1, 'model-fused', true);
  assert.equal(manifest.backbone.id, 'fused/mobilenet_v2_mid+centernet');
  assert.match(manifest.backbone.tensors[1]!, /^centernet\//);
  // The frozen tail: the trunk's columns move, the second trunk's are the cached ones, and
  // only the trunk's columns of the gradient go back to it.
  const features = Float32Array.from({ length: 3 * 5 }, (_, i) => i);
  let received: Float32Array | undefined;
  const trunk = {
    fromEpoch: 0,
    learningRate: 1,
    forward: async (rows: readonly number[]) => Float32Array.from(rows.flatMap((r) => [100 + r, 200 + r])),
    backward: async (gradient: Float32Array) => void (received = gradient),
    poolAll: async () => Float32Array.of(100, 200, 101, 201, 102, 202),
    state: () => [],
    restore: () => {},
  };
  const joined = withFrozenTail(trunk, features, 5, 2);
  assert.deepEqual(Array.from(await joined.forward([2, 0])), [102, 202, 12, 13, 14, 100, 200, 2, 3, 4]);
  assert.deepEqual(Array.from(await joined.poolAll()), [100, 200, 2, 3, 4, 101, 201, 7, 8, 9, 102, 202, 12, 13, 14]);
  await joined.backward(Float32Array.from({ length: 10 }, (_, i) => i), 1);
  assert.deepEqual(Array.from(received!), [0, 1, 5, 6]);
  assert.equal(withFrozenTail(trunk, features, 2, 2), trunk, 'nothing to join: the trunk itself');
});

test('train config errors are clear', async () => {
  assert.throws(() => parseTrainConfig({ datasets: [], tasks: [], model: {}, optimizer: {}, surprise: 1 }), isCode('invalid_config'));
  // A head's title names it to people: blank or a paragraph is refused.
  for (const title of ['  ', 'x'.repeat(61)]) {
    assert.throws(() => parseTrainConfig({ datasets: [{ name: 'a', adapter: 'folder', path: '/x', head: 'a' }], tasks: [{ head: 'a', loss: 'softmax', dataset: 'a', title }], model: {}, optimizer: {} }), isCode('invalid_config'));
  }
  assert.throws(
    () => parseTrainConfig({ datasets: [{ name: 'a', adapter: 'folder', path: '/x', head: 'a' }], tasks: [{ head: 'a', loss: 'softmax', dataset: 'b' }], model: {}, optimizer: {} }),
    (e: unknown) => isCode('invalid_config')(e) && /dataset 'b'/.test((e as Error).message),
  );
  assert.throws(() => parseTrainConfig({ datasets: [{ name: 'a', adapter: 'folder', path: '/x', head: 'a' }], tasks: [{ head: 'a', loss: 'softmax', dataset: 'a' }], model: {}, optimizer: { epochs: 0 } }), isCode('invalid_config'));
  // Only the exponents the feature cache pools with, refused when the config is read rather than after the backbone ran.
  assert.throws(
    () => parseTrainConfig({ datasets: [{ name: 'a', adapter: 'folder', path: '/x', head: 'a' }], tasks: [{ head: 'a', loss: 'softmax', dataset: 'a' }], model: { gemP: 2 }, optimizer: {} }),
    (e: unknown) => isCode('invalid_config')(e) && /gemP must be one of 1, 3/.test((e as Error).message),
  );
  // A trainable upper trunk needs MobileNetV2 (alone or fused) and its conv_1 first.
  const upper = (model: Record<string, unknown>) => () =>
    parseTrainConfig({ datasets: [{ name: 'a', adapter: 'folder', path: '/x', head: 'a' }], tasks: [{ head: 'a', loss: 'softmax', dataset: 'a' }], model: { ...model, upperTrunk: { layers: 'block_16' } }, optimizer: {} });
  assert.throws(upper({ backbone: 'human-models/centernet', tensors: ['extern1'] }), (e: unknown) => isCode('invalid_config')(e) && /needs backbone nsfwjs\/mobilenet_v2_mid or fused/.test((e as Error).message));
  assert.throws(upper({ backbone: 'fused/mobilenet_v2_mid+centernet', tensors: ['centernet_extern1', 'conv_1'] }), (e: unknown) => isCode('invalid_config')(e) && /must start with "conv_1"/.test((e as Error).message));
  assert.equal(upper({ backbone: 'fused/mobilenet_v2_mid+centernet', tensors: ['conv_1', 'centernet_extern1'] })().model.tensors.length, 2);
  assert.throws(
    () => parseTrainConfig({ datasets: [{ name: 'a', adapter: 'folder', path: '/x', head: 'a' }], tasks: [{ head: 'a', loss: 'softmax', dataset: 'a' }], model: { tensors: ['conv_1', 'feature_vector'] }, optimizer: {} }),
    (e: unknown) => isCode('invalid_config')(e) && /"feature_vector" is pooled already/.test((e as Error).message),
  );
  // Validation rows from a training file exist only for Fashion-MNIST, and only beside a limit.
  const heldOut = (dataset: Record<string, unknown>) => () =>
    parseTrainConfig({ datasets: [{ name: 'a', path: '/x', head: 'a', ...dataset }], tasks: [{ head: 'a', loss: 'softmax', dataset: 'a' }], model: {}, optimizer: {} });
  assert.equal(heldOut({ adapter: 'fashion-mnist', limit: 100, validation: 20 })().datasets[0]!.validation, 20);
  assert.throws(heldOut({ adapter: 'folder', validation: 20 }), (e: unknown) => isCode('invalid_config')(e) && /adapter folder holds out its own/.test((e as Error).message));
  assert.throws(heldOut({ adapter: 'fashion-mnist', validation: 20 }), (e: unknown) => isCode('invalid_config')(e) && /"validation" needs "limit"/.test((e as Error).message));
  assert.throws(heldOut({ adapter: 'fashion-mnist', limit: 100, validation: 0 }), isCode('invalid_config'));
  const file = path.join(root, 'bad.json');
  await writeFile(file, '{ not json');
  await assert.rejects(readTrainConfig(file), isCode('invalid_config'));
  await assert.rejects(readTrainConfig(path.join(root, 'missing.json')), isCode('file_not_found'));
});

test('dataset adapters refuse missing folders, single classes, unknown labels, escaping paths', async () => {
  await assert.rejects(loadFolderDataset(path.join(root, 'nowhere'), { name: 'x', head: 'x', valFraction: 0.2 }), isCode('file_not_found'));
  await mkdir(path.join(root, 'one', 'only'), { recursive: true });
  await writeFile(path.join(root, 'one', 'only', 'a.png'), await shape('circle', '#d22', 1));
  await assert.rejects(loadFolderDataset(path.join(root, 'one'), { name: 'one', head: 'x', valFraction: 0.2 }), (e: unknown) => isCode('invalid_labels')(e) && /single class/.test((e as Error).message));
  await mkdir(path.join(root, 'clothing'), { recursive: true });
  await writeFile(path.join(root, 'clothing', 'labels.csv'), 'image,label,kids,sender_id\nimages/a.jpg,Spaceship,False,1\n');
  await assert.rejects(loadClothing(path.join(root, 'clothing')), (e: unknown) => isCode('invalid_labels')(e) && /Spaceship/.test((e as Error).message));
  await writeFile(path.join(root, 'tags', 'escape.csv'), 'image,label\n../../etc/passwd,a\nx.png,b\n');
  await assert.rejects(loadListingDataset(path.join(root, 'tags', 'escape.csv'), 'csv', { name: 'e', head: 'e', valFraction: 0.2 }), isCode('path_outside_root'));
  await writeFile(path.join(root, 'tags', 'empty.csv'), 'image,label\n');
  await assert.rejects(loadListingDataset(path.join(root, 'tags', 'empty.csv'), 'csv', { name: 'e', head: 'e', valFraction: 0.2 }), isCode('invalid_labels'));
});

test('IDX parsing checks magic and length', () => {
  const good = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 5, 6, 7]);
  assert.deepEqual(Array.from(parseIdx(good, 'x').data), [5, 6, 7]);
  assert.throws(() => parseIdx(Uint8Array.from([1, 2, 3, 4]), 'x'), isCode('invalid_labels'));
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 9, 1]), 'x'), isCode('truncated'));
});

test('the feature cache extracts only the images it lacks and survives a half-written shard', async () => {
  const { extractPooledFeatures } = await import('../../src/train/extract-features.ts');
  const { readdir, rm } = await import('node:fs/promises');
  const refs = ['circle', 'square'].flatMap((k) => [0, 1, 2].map((i) => path.join(root, 'shapes', k, `${i}.png`)));
  const first = await extractPooledFeatures(refs.slice(0, 3), { backboneId: 'nsfwjs/mobilenet_v2_mid', tensors: ['conv_1'], pValues: [1], shardSize: 2 });
  assert.equal(first.rowOf.size, 3);
  const dir = path.join(process.env.GROKNET_CACHE!, 'features');
  const shardDir = path.join(dir, (await readdir(dir)).find((d) => d.startsWith('nsfwjs'))!);
  const shardsBefore = (await readdir(shardDir)).filter((n) => n.endsWith('.json')).length;
  // A shard whose data file is gone (a killed run, a full disk) is not trusted: its images come back.
  const victim = (await readdir(shardDir)).find((n) => n.endsWith('.p1.f32'))!;
  await rm(path.join(shardDir, victim));
  const second = await extractPooledFeatures(refs, { backboneId: 'nsfwjs/mobilenet_v2_mid', tensors: ['conv_1'], pValues: [1, 3] });
  assert.equal(second.rowOf.size, 6);
  const a = first.byP.get(1)!.subarray(0, 1792);
  const b = second.byP.get(1)!.subarray(second.rowOf.get(refs[0]!)! * 1792, second.rowOf.get(refs[0]!)! * 1792 + 1792);
  assert.ok(a.every((v, i) => Math.abs(v - b[i]!) < 1e-5), 'cached features equal freshly computed ones');
  assert.ok((await readdir(shardDir)).filter((n) => n.endsWith('.json')).length >= shardsBefore);
  await assert.rejects(extractPooledFeatures(refs, { backboneId: 'nsfwjs/mobilenet_v2_mid', tensors: ['conv_1'], pValues: [2] }), isCode('invalid_config'));
});

test('a disk that fills while features are cached: disk_full, no partial shard kept or used, the next run completes', async () => {
  const { extractPooledFeatures } = await import('../../src/train/extract-features.ts');
  // The module object itself (not the frozen ESM namespace), so the mock reaches cache.ts's
  // named import once syncBuiltinESMExports() has run.
  const fsp = (await import('node:fs/promises')).default;
  const { syncBuiltinESMExports } = await import('node:module');
  // Images of its own: the training tests before it cache every shape photo, and a run that
  // finds all its images cached writes nothing and so cannot meet a full disk.
  await mkdir(path.join(root, 'disk-full'), { recursive: true });
  const refs: string[] = [];
  for (const i of [0, 1, 2, 3]) {
    refs.push(path.join(root, 'disk-full', `${i}.png`));
    await writeFile(refs[i]!, await shape('circle', '#8a4', 40 + i));
  }
  const options = { backboneId: 'nsfwjs/mobilenet_v2_mid', tensors: ['conv_1'], pValues: [1], shardSize: 2 };
  const dir = path.join(process.env.GROKNET_CACHE!, 'features');
  // The file system answers ENOSPC once the first shard (2 data files + its index) is written,
  // i.e. in the middle of the second shard.
  const realOpen = fsp.open;
  let cacheWrites = 0;
  const full = test.mock.method(fsp, 'open', async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realOpen(...args);
    if (String(args[0]).startsWith(dir) && String(args[0]).includes('.tmp-') && ++cacheWrites > 3) {
      handle.writeFile = async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
      };
    }
    return handle;
  });
  syncBuiltinESMExports();
  // Every file under the cache, each backbone key's folder included (the trainer's fine-tuned
  // runs keep theirs next to this one); the test above leaves a shard it damaged on purpose,
  // so judge only what this run writes.
  const cacheFiles = async () => (await fsp.readdir(dir, { recursive: true }).catch(() => [])).map(String);
  const before = new Set(await cacheFiles());
  try {
    await assert.rejects(extractPooledFeatures(refs, options), isCode('disk_full'));
  } finally {
    full.mock.restore();
    syncBuiltinESMExports();
  }
  const names = (await cacheFiles()).filter((n) => !before.has(n));
  assert.deepEqual(names.filter((n) => n.includes('.tmp-')), [], 'no temp file is left behind');
  assert.ok(names.some((n) => n.endsWith('.json')), 'the shard written before the disk filled is kept');
  // Every index this run wrote names data files that exist: a shard is whole or absent.
  for (const index of names.filter((n) => n.endsWith('.json'))) {
    assert.ok(names.includes(index.replace('.json', '.p1.f32')), `${index} has its data`);
  }
  // With space again, the run extracts only what is missing and ends with every image.
  const again = await extractPooledFeatures(refs, options);
  assert.equal(again.rowOf.size, 4);
});
