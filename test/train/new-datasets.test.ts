// The fashion-products and furniture adapters (issue #25): labels merged as documented,
// split by title, bad files refused; and the vertical task that labels every dataset's rows.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildRows } from '../../src/train/build-rows.ts';
import { parseTrainConfig, type DatasetConfig } from '../../src/train/config.ts';
import type { LabelledDataset } from '../../src/train/datasets/types.ts';
import { loadFashionProducts } from '../../src/train/datasets/fashion-products.ts';
import { loadFurniture } from '../../src/train/datasets/furniture.ts';
import { tasksFromConfig } from '../../src/train/tasks.ts';
import { GroknetError } from '../../src/errors.ts';


const makeTmpDir = (prefix: string) => mkdtemp(path.join(os.tmpdir(), prefix));
const HEADER = 'file,id,gender,masterCategory,subCategory,articleType,baseColour,season,usage,title';

async function fashionFolder(lines: string[]): Promise<string> {
  const dir = await makeTmpDir('fp-');
  await writeFile(path.join(dir, 'labels.csv'), [HEADER, ...lines].join('\n'));
  return dir;
}

function fpLine(id: number, article: string, colour: string, title = `Product ${id}`, gender = 'Men', usage = 'Casual'): string {
  return `images/${id}.jpg,${id},${gender},Apparel,Topwear,${article},${colour},Summer,${usage},${title}`;
}

test('fashion-products: articles merged and cut below 25 images, colours named by the palette, kids merged', async () => {
  const lines: string[] = [];
  let id = 1;
  for (let i = 0; i < 30; i++) lines.push(fpLine(id++, 'Tshirts', 'Navy Blue'));
  for (let i = 0; i < 20; i++) lines.push(fpLine(id++, 'Kurtas', 'Off White'));
  for (let i = 0; i < 6; i++) lines.push(fpLine(id++, 'Kurtis', 'Multi', `Kurti ${i}`, 'Girls'));
  for (let i = 0; i < 3; i++) lines.push(fpLine(id++, 'Sarees', 'Steel', `Saree ${i}`, 'Women', 'NA'));
  const data = await loadFashionProducts(await fashionFolder(lines));
  // Kurtis join Kurtas (26 >= 25); Sarees (3) are left unlabelled for this head.
  assert.deepEqual(data.tasks.fashion_article, ['Tshirts', 'Kurtas']);
  const saree = data.samples.find((s) => s.path.endsWith('57.jpg'))!;
  assert.equal(saree.single.fashion_article, undefined);
  assert.equal(data.tasks.colour![saree.single.colour!], 'silver');
  assert.equal(saree.single.usage, undefined, 'usage NA is unlabelled');
  const kurti = data.samples.find((s) => s.path.endsWith('51.jpg'))!;
  assert.equal(data.tasks.fashion_article![kurti.single.fashion_article!], 'Kurtas');
  assert.equal(kurti.single.colour, undefined, '"Multi" is not a colour');
  assert.equal(data.tasks.gender![kurti.single.gender!], 'Kids');
  assert.equal(data.tasks.colour![data.samples[0]!.single.colour!], 'navy');
  for (const label of data.tasks.colour!) assert.match(label, /^[a-z ]+$/);
});

test('fashion-products: listings with the same title land on one side of the split', async () => {
  const lines = Array.from({ length: 400 }, (_, i) => fpLine(i + 1, 'Tshirts', 'Black', `Title ${Math.floor(i / 2)}`));
  const data = await loadFashionProducts(await fashionFolder(lines));
  for (let i = 0; i < 400; i += 2) assert.equal(data.samples[i]!.split, data.samples[i + 1]!.split);
  const val = data.samples.filter((s) => s.split === 'val').length;
  assert.ok(val > 20 && val < 100, `${val} of 400 held out`);
});

test('fashion-products: a missing column, a short row, a quoted field and a path outside the folder are refused', async () => {
  const dir = await makeTmpDir('fp-bad-');
  await writeFile(path.join(dir, 'labels.csv'), 'file,id,gender\nimages/1.jpg,1,Men\n');
  await assert.rejects(loadFashionProducts(dir), (e: GroknetError) => e.code === 'invalid_labels' && /missing column\(s\) articleType, baseColour, usage, title/.test(e.message));
  await assert.rejects(loadFashionProducts(await fashionFolder(['images/1.jpg,1,Men'])), /1 columns?, the header has 10|3 columns/);
  await assert.rejects(loadFashionProducts(await fashionFolder([`${fpLine(1, 'Tshirts', 'Black').replace('Product 1', '"A, B"')}`])), /quoted fields/);
  await assert.rejects(loadFashionProducts(await fashionFolder([fpLine(1, 'Tshirts', 'Black').replace('images/1.jpg', '../../etc/passwd')])), (e: GroknetError) => e.code === 'path_outside_root');
  await assert.rejects(loadFashionProducts(path.join(dir, 'nope')), (e: GroknetError) => e.code === 'file_not_found');
});

test('furniture: five classes, a stable split, unknown labels and escaping paths refused', async () => {
  const dir = await makeTmpDir('furn-');
  const lines = ['file,label'];
  for (const label of ['bed', 'chair', 'sofa', 'swivelchair', 'table']) for (let i = 0; i < 20; i++) lines.push(`images/${label}/${i}.jpg,${label}`);
  await writeFile(path.join(dir, 'labels.csv'), lines.join('\n'));
  const data = await loadFurniture(dir);
  assert.deepEqual(data.tasks.furniture, ['bed', 'chair', 'sofa', 'swivelchair', 'table']);
  assert.equal(data.samples.length, 100);
  assert.equal(data.samples[40]!.single.furniture, 2);
  assert.deepEqual((await loadFurniture(dir)).samples.map((s) => s.split), data.samples.map((s) => s.split));
  await writeFile(path.join(dir, 'labels.csv'), 'file,label\nimages/x.jpg,lamp\n');
  await assert.rejects(loadFurniture(dir), /unknown label 'lamp' \(expected one of bed, chair, sofa, swivelchair, table\)/);
  await writeFile(path.join(dir, 'labels.csv'), 'file,label\n../x.jpg,bed\n');
  await assert.rejects(loadFurniture(dir), (e: GroknetError) => e.code === 'path_outside_root');
  await writeFile(path.join(dir, 'labels.csv'), 'image,kind\nx.jpg,bed\n');
  await assert.rejects(loadFurniture(dir), /needs file and label columns/);
});

const base = {
  datasets: [
    { name: 'a', adapter: 'folder', path: '/a', head: 'shirts', vertical: 'fashion' },
    { name: 'b', adapter: 'folder', path: '/b', head: 'fruit', vertical: 'grocery' },
  ],
  tasks: [
    { head: 'vertical', loss: 'softmax', dataset: '*', field: 'vertical' },
    { head: 'shirts', loss: 'softmax', dataset: 'a' },
  ],
  model: {},
  optimizer: {},
};

test('the vertical task reads every dataset that names a vertical and needs two verticals', () => {
  assert.equal(parseTrainConfig(base).tasks[0]!.head, 'vertical');
  const unnamed = { ...base, datasets: [base.datasets[0], { ...base.datasets[1], vertical: undefined }] };
  assert.throws(() => parseTrainConfig(unnamed), /needs datasets of at least two verticals/);
  const one = { ...base, datasets: [base.datasets[0], { ...base.datasets[1], vertical: 'fashion' }] };
  assert.throws(() => parseTrainConfig(one), /at least two verticals/);
  const wrongField = { ...base, tasks: [{ head: 'vertical', loss: 'softmax', dataset: '*', field: 'label' }] };
  assert.throws(() => parseTrainConfig(wrongField), /only a softmax task with "field": "vertical"/);
  const multi = { ...base, tasks: [{ head: 'vertical', loss: 'bce', dataset: '*' }] };
  assert.throws(() => parseTrainConfig(multi), /only a softmax task/);
  assert.throws(() => parseTrainConfig({ ...base, datasets: [{ ...base.datasets[0], vertical: 'Home Goods' }, base.datasets[1]] }), /lower_snake_case/);
});

test('the vertical task labels each row with its dataset vertical; other heads stay masked', () => {
  const config = parseTrainConfig(base);
  const sample = (dataset: string, head: string, i: number) => ({ path: `/${dataset}/${i}.png`, dataset, single: { [head]: i % 2 }, split: 'train' as const });
  const datasets: Array<{ config: DatasetConfig; data: LabelledDataset }> = [
    { config: config.datasets[0]!, data: { name: 'a', tasks: { shirts: ['x', 'y'] }, samples: [0, 1, 2].map((i) => sample('a', 'shirts', i)) } },
    { config: config.datasets[1]!, data: { name: 'b', tasks: { fruit: ['p', 'q'] }, samples: [0, 1].map((i) => sample('b', 'fruit', i)) } },
  ];
  const rows = buildRows(datasets);
  const plan = tasksFromConfig({ config, datasets, rows });
  const vertical = plan.tasks.find((t) => t.name === 'vertical')!;
  assert.deepEqual(vertical.labels, ['fashion', 'grocery']);
  assert.deepEqual(Array.from(vertical.targets), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
  const shirts = plan.tasks.find((t) => t.name === 'shirts')!;
  assert.deepEqual(Array.from(shirts.targets).slice(6), [-1, -1, -1, -1]);
  // A third dataset without a vertical is masked for the vertical head.
  const config3 = parseTrainConfig({ ...base, datasets: [...base.datasets, { name: 'c', adapter: 'folder', path: '/c', head: 'mnist' }] });
  const datasets3: Array<{ config: DatasetConfig; data: LabelledDataset }> = [...datasets.map((d, i) => ({ ...d, config: config3.datasets[i]! })), { config: config3.datasets[2]!, data: { name: 'c', tasks: { mnist: ['m', 'n'] }, samples: [0].map((i) => sample('c', 'mnist', i)) } }];
  const plan3 = tasksFromConfig({ config: config3, datasets: datasets3, rows: buildRows(datasets3) });
  assert.deepEqual(Array.from(plan3.tasks.find((t) => t.name === 'vertical')!.targets).slice(10), [-1, -1]);
});
