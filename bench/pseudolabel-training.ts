// Does training on pseudo-labels help? GrokNet's weak supervision, measured in feature
// space without leakage: the grocery training photos are split by a fixed hash into L
// (labelled) and U (treated as unlabelled). Model A trains the grocery heads and the
// embedding on L (+ the 81 catalog images); A's embedding then labels each U photo with its
// nearest catalog product, kept when the cosine similarity reaches A's calibrated
// exact-match threshold. Model B trains on L + the kept pseudo-labelled U photos, model C
// (upper bound) on L + U with their true labels. All are scored on grocery val.txt by the
// trainer's own evaluation. Same config, features, optimiser and seed within a seed's row.
// Run: node --import tsx bench/pseudolabel-training.ts [configs/default.json] [--seeds 7,8,9] [--labelled 0.25] [--epochs N] [--threshold T] [--all]
import { createHash } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createProgress } from '../src/cli/progress.ts';
import { buildRows } from '../src/train/build-rows.ts';
import { readTrainConfig, type TrainConfig } from '../src/train/config.ts';
import type { Sample } from '../src/train/datasets/types.ts';
import type { FitResult } from '../src/train/fit-heads.ts';
import { prepareTraining, trainPrepared, type Prepared, type TrainOutcome } from '../src/train/train.ts';
import { machine, writeSection } from './report.ts';

const { values, positionals } = parseArgs({
  options: {
    seeds: { type: 'string', default: '7,8,9' },
    labelled: { type: 'string', default: '0.25' },
    epochs: { type: 'string' },
    threshold: { type: 'string' },
    all: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const configFile = path.resolve(positionals[0] ?? 'configs/default.json');
const base = await readTrainConfig(configFile);
const seeds = values.seeds.split(',').map(Number);
const labelledFraction = Number(values.labelled);
const log = (line: string) => process.stderr.write(`${line}\n`);
const quiet = (line: string) => {
  if (!line.startsWith('epoch ')) log(line);
};

// Grocery only: the grocery heads plus the embedding losses (what the single-task grocery run trains).
const heads = ['grocery_fine', 'grocery_coarse', 'embedding'];
const config: TrainConfig = {
  ...base,
  name: 'pseudolabel-training',
  datasets: base.datasets.filter((d) => d.adapter === 'grocery'),
  tasks: base.tasks.filter((t) => heads.includes(t.head)),
  optimizer: { ...base.optimizer, ...(values.epochs ? { epochs: Number(values.epochs) } : {}) },
};
if (config.datasets.length !== 1) throw new Error('the config needs exactly one grocery dataset');
const started = Date.now();
const full = await prepareTraining(config, log, { startProgress: createProgress });
const grocery = full.datasets[0]!;
const root = grocery.config.path;

// Features by reference, so any relabelled subset of the samples can be rebuilt into rows.
const featureRowOf = new Map(full.rows.rows.map((row, r) => [row.ref, r]));
const dim = full.dim;
function preparedWith(samples: Sample[], seed: number): Prepared {
  const datasets = [{ config: grocery.config, data: { ...grocery.data, samples } }];
  const rows = buildRows(datasets, (ref) => featureRowOf.has(ref));
  const features = new Float32Array(rows.rows.length * dim);
  rows.rows.forEach((row, r) => {
    const from = featureRowOf.get(row.ref)!;
    features.set(full.features.subarray(from * dim, (from + 1) * dim), r * dim);
  });
  return { config: { ...config, seed }, datasets, rows, features, dim, featureSeconds: full.featureSeconds };
}

// L / U: a fixed hash of the photo's path relative to the dataset root.
const inU = (s: Sample): boolean => {
  const key = path.relative(root, s.path);
  return createHash('sha1').update(`pseudolabel-training:${key}`).digest().readUInt32BE(0) / 0x100000000 >= labelledFraction;
};
const samples = grocery.data.samples;
const trainPhotos = samples.filter((s) => s.split === 'train' && !s.catalogImage);
const U = trainPhotos.filter(inU);
const uSet = new Set(U);
const withoutU = samples.filter((s) => !uSet.has(s));
const classes = (grocery.data as typeof grocery.data & { classes: Array<{ fineId: number; coarseId: number }> }).classes;
const coarseOfFine = new Map(classes.map((c) => [c.fineId, c.coarseId]));
const catalog = samples.filter((s) => s.catalogImage);
log(`grocery: ${trainPhotos.length} train photos -> L ${trainPhotos.length - U.length}, U ${U.length}; ${catalog.length} catalog images; ${samples.filter((s) => s.split === 'val').length} val photos`);

/** The exported graph's embedding, on a raw feature vector (standardise, shared ReLU layers, dense, L2). */
function embedFeatures(fit: FitResult, refs: string[]): Float32Array {
  const out = new Float32Array(refs.length * fit.embedding.outDim);
  refs.forEach((ref, i) => {
    const r = featureRowOf.get(ref);
    if (r === undefined) throw new Error(`no features for ${ref}`);
    let h: Float32Array = new Float32Array(dim);
    for (let j = 0; j < dim; j++) h[j] = (full.features[r * dim + j]! - fit.featureMean[j]!) / fit.featureStd[j]!;
    const dense = (x: Float32Array, w: FitResult['embedding'], relu: boolean): Float32Array => {
      const y = Float32Array.from(w.bias);
      for (let j = 0; j < w.inDim; j++) {
        const xj = x[j]!;
        if (xj === 0) continue;
        for (let k = 0; k < w.outDim; k++) y[k]! += xj * w.kernel[j * w.outDim + k]!;
      }
      if (relu) for (let k = 0; k < y.length; k++) y[k] = Math.max(0, y[k]!);
      return y;
    };
    for (const layer of fit.shared) h = dense(h, layer, true);
    const e = dense(h, fit.embedding, false);
    const norm = Math.hypot(...e) + 1e-12;
    for (let k = 0; k < e.length; k++) out[i * e.length + k] = e[k]! / norm;
  });
  return out;
}

interface Pseudo {
  sample: Sample;
  fine: number;
  similarity: number;
}
const fmt = (v: unknown): string => (typeof v === 'number' ? (v * 100).toFixed(1) : '-');
const scores = (o: TrainOutcome) => ({
  fine: o.evaluation.report.grocery_fine?.accuracy as number,
  coarse: o.evaluation.report.grocery_coarse?.accuracy as number,
  r1: o.evaluation.report.photo_to_catalog?.recall_at_1 as number,
});
type Scores = ReturnType<typeof scores>;

const results: Array<{ seed: number; model: string; rows: number; s: Scores; fitSeconds: number }> = [];
const labelStats: Array<{ seed: number; threshold: number; kept: number; fine: number; coarse: number; allFine: number; allCoarse: number; sweep: string[] }> = [];
for (const seed of seeds) {
  log(`== seed ${seed}: model A (L only)`);
  let pseudo: Pseudo[] = [];
  let threshold = 0;
  const preparedA = preparedWith(withoutU, seed);
  const a = await trainPrepared(preparedA, {
    out: '',
    dryRun: true,
    onlyHeads: heads,
    log: quiet,
    onFit: (fit, evaluation) => {
      // Check the hand-written forward pass against the trainer's predict on the catalog rows.
      const catalogRows = preparedA.rows.rows.map((row, r) => (row.sample.catalogImage && !row.view ? r : -1)).filter((r) => r >= 0);
      const viaTrainer = fit.predict(Int32Array.from(catalogRows)).embedding;
      const gallery = embedFeatures(fit, catalogRows.map((r) => preparedA.rows.rows[r]!.ref));
      const maxDiff = viaTrainer.reduce((m, v, i) => Math.max(m, Math.abs(v - gallery[i]!)), 0);
      if (maxDiff > 1e-3) throw new Error(`embedding forward pass differs from the trainer's by ${maxDiff}`);
      const galleryFine = catalogRows.map((r) => preparedA.rows.rows[r]!.sample.single.grocery_fine!);
      threshold = values.threshold !== undefined ? Number(values.threshold) : (evaluation.exactMatchThreshold ?? 0);
      const q = embedFeatures(fit, U.map((s) => s.path));
      const d = fit.embedding.outDim;
      pseudo = U.map((sample, i) => {
        let best = -Infinity;
        let bestG = 0;
        for (let g = 0; g < galleryFine.length; g++) {
          let sim = 0;
          for (let k = 0; k < d; k++) sim += q[i * d + k]! * gallery[g * d + k]!;
          if (sim > best) {
            best = sim;
            bestG = g;
          }
        }
        return { sample, fine: galleryFine[bestG]!, similarity: best };
      });
    },
  });
  results.push({ seed, model: 'A', rows: preparedA.rows.trainRows.length, s: scores(a), fitSeconds: a.seconds.fit });

  const precision = (list: Pseudo[]) => ({
    fine: list.filter((p) => p.fine === p.sample.single.grocery_fine).length / Math.max(1, list.length),
    coarse: list.filter((p) => coarseOfFine.get(p.fine) === p.sample.single.grocery_coarse).length / Math.max(1, list.length),
  });
  const kept = pseudo.filter((p) => p.similarity >= threshold);
  const all = precision(pseudo);
  const sweep = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8].map((t) => {
    const k = pseudo.filter((p) => p.similarity >= t);
    return `${fmt(k.length / pseudo.length)}% / ${fmt(precision(k).fine)}%`;
  });
  labelStats.push({ seed, threshold, kept: kept.length, ...precision(kept), allFine: all.fine, allCoarse: all.coarse, sweep });
  log(`pseudo-labels: threshold ${threshold}, kept ${kept.length}/${U.length}, fine precision ${fmt(precision(kept).fine)}%, coarse ${fmt(precision(kept).coarse)}%; all U: fine ${fmt(all.fine)}%`);

  const relabel = (list: Pseudo[]): Sample[] =>
    list.map((p) => ({ ...p.sample, single: { grocery_fine: p.fine, grocery_coarse: coarseOfFine.get(p.fine)! }, productId: `grocery:${p.fine}` }));
  const variants: Array<{ model: string; samples: Sample[] }> = [{ model: 'B', samples: [...withoutU, ...relabel(kept)] }];
  if (values.all) variants.push({ model: 'B-all', samples: [...withoutU, ...relabel(pseudo)] });
  variants.push({ model: 'C', samples });
  for (const v of variants) {
    log(`== seed ${seed}: model ${v.model}`);
    const prepared = preparedWith(v.samples, seed);
    const o = await trainPrepared(prepared, { out: '', dryRun: true, onlyHeads: heads, log: quiet });
    results.push({ seed, model: v.model, rows: prepared.rows.trainRows.length, s: scores(o), fitSeconds: o.seconds.fit });
    log(`   ${v.model}: fine ${o.evaluation.report.grocery_fine?.accuracy}, coarse ${o.evaluation.report.grocery_coarse?.accuracy}, R@1 ${o.evaluation.report.photo_to_catalog?.recall_at_1}`);
  }
}

const models = [...new Set(results.map((r) => r.model))];
const describe: Record<string, string> = {
  A: 'A: L only',
  B: 'B: L + pseudo-labelled U (kept at threshold)',
  'B-all': 'B-all: L + every U photo, nearest product, no threshold',
  C: 'C: L + U, true labels (upper bound)',
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1)));
const cell = (xs: number[]) => `${fmt(mean(xs))}${xs.length > 1 ? ` ± ${fmt(sd(xs))}` : ''}`;
const summary = models.map((m) => {
  const rs = results.filter((r) => r.model === m);
  return `| ${describe[m] ?? m} | ${rs[0]!.rows} | ${cell(rs.map((r) => r.s.fine))} | ${cell(rs.map((r) => r.s.coarse))} | ${cell(rs.map((r) => r.s.r1))} |`;
});
const perSeed = results.map((r) => `| ${r.seed} | ${r.model} | ${r.rows} | ${fmt(r.s.fine)} | ${fmt(r.s.coarse)} | ${fmt(r.s.r1)} | ${r.fitSeconds.toFixed(0)} |`);
const labelRows = labelStats.map(
  (l) => `| ${l.seed} | ${l.threshold} | ${l.kept} / ${U.length} (${fmt(l.kept / U.length)}%) | ${fmt(l.fine)}% | ${fmt(l.coarse)}% | ${fmt(l.allFine)}% | ${fmt(l.allCoarse)}% |`,
);
const sweepRows = labelStats.map((l) => `| ${l.seed} | ${l.sweep.join(' | ')} |`);
const command = `node --import tsx bench/pseudolabel-training.ts ${path.relative(process.cwd(), configFile)} --seeds ${values.seeds} --labelled ${values.labelled}${values.epochs ? ` --epochs ${values.epochs}` : ''}${values.threshold ? ` --threshold ${values.threshold}` : ''}${values.all ? ' --all' : ''}`;
const markdown = `## Training on pseudo-labels (grocery, feature space)

Command: \`${command}\`. Machine: ${machine()}. Total ${((Date.now() - started) / 1000).toFixed(0)} s.

Method: grocery only (heads ${heads.join(', ')} — the embedding trained by the config's ArcFace and contrastive losses), on the cached frozen-backbone features of ${path.basename(configFile)} (${config.model.backbone}, ${config.model.tensors.join('+')}, GeM p=${config.model.gemP}), ${config.optimizer.epochs} epochs, batch ${config.optimizer.batchSize}, 1 augmented view per training photo.
The ${trainPhotos.length} photos of train.txt are split by a fixed hash of their path into L (${trainPhotos.length - U.length}, ${fmt(1 - U.length / trainPhotos.length)}%) and U (${U.length}); the 81 catalog images train every model.
**A** trains on L. A's embedding (the exported graph's computation, checked against the trainer's) labels every U photo with its nearest catalog image (cosine), kept when the similarity is at least ${values.threshold ? `the chosen threshold ${values.threshold}` : "A's exact-match threshold (calibrated by the trainer on val photos against the catalog)"}; a kept photo gets that product's fine and coarse class and product id (so it also feeds ArcFace and the photo/catalog contrastive pair).
**B** trains on L + the kept pseudo-labelled U photos${values.all ? ', **B-all** on L + every U photo with its nearest product (no threshold)' : ''}, **C** on L + U with their true labels (the ordinary grocery run). Same config and seed per row; a model with fewer rows takes fewer steps (same epochs).
All scored on the ${samples.filter((s) => s.split === 'val').length} val.txt photos by the trainer's evaluation (src/train/evaluate-fit.ts): fine and coarse top-1 accuracy, photo -> catalog recall@1 (81 catalog images). U's true labels are used only to score the pseudo-labels and for C.

Pseudo-labels on U (from each seed's model A):

| seed | threshold | kept (coverage) | precision fine | precision coarse | no threshold: precision fine | no threshold: precision coarse |
|---|---|---|---|---|---|---|
${labelRows.join('\n')}

Coverage / fine precision of U pseudo-labels at other thresholds:

| seed | 0.3 | 0.4 | 0.5 | 0.6 | 0.7 | 0.8 |
|---|---|---|---|---|---|---|
${sweepRows.join('\n')}

Val scores, mean ± sd over seeds ${seeds.join(', ')} (%):

| model | training rows (photos + views + catalog) | fine accuracy | coarse accuracy | photo -> catalog R@1 |
|---|---|---|---|---|
${summary.join('\n')}

Per seed:

| seed | model | training rows | fine acc % | coarse acc % | R@1 % | fit s |
|---|---|---|---|---|---|---|
${perSeed.join('\n')}`;
if (!values['no-write']) await writeSection('pseudolabel-training', markdown);
console.log(markdown);
