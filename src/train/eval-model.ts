// `groknet eval`: scores a model artifact end to end (image bytes -> the exported ONNX
// graph) on the held-out rows of the datasets its heads were trained on, so the figures
// describe exactly what users run, not the training-time TF.js copy.
import path from 'node:path';
import { loadForModel } from '../image/preprocess.ts';
import { hexToBytes, signsToHex } from '../model/binary-code.ts';
import { rankLabels, TOP_LABELS } from '../model/heads/rank-labels.ts';
import { VERTICAL_HEAD } from '../model/heads/vertical-head.ts';
import { loadModel, type LoadedModel } from '../model/load-model.ts';
import { silentProgress, type StartProgress } from '../util/progress.ts';
import { loadClothing } from './datasets/clothing.ts';
import { loadClothingParsing } from './datasets/clothing-parsing.ts';
import { FASHION_MNIST_DIR, loadFashionMnist } from './datasets/fashion-mnist.ts';
import { loadFashionProducts } from './datasets/fashion-products.ts';
import { loadFurniture } from './datasets/furniture.ts';
import { loadGrocery } from './datasets/grocery.ts';
import { readSampleBytes } from './datasets/read.ts';
import type { Sample } from './datasets/types.ts';
import { binaryRecall, meanAveragePrecision, microF1, retrievalRecall, topKAccuracy } from './evaluate.ts';

export interface EvalReport {
  model: string;
  heads: Record<string, Record<string, number | string>>;
  retrieval?: Record<string, number | string>;
}

interface Outputs {
  probs: Record<string, Float32Array>;
  /** Per head with a colour-histogram classifier: its probabilities, from the same input tensor. */
  pixelProbs: Record<string, Float32Array>;
  embedding: Float32Array;
  code: Float32Array;
  ok: boolean[];
}

export interface EvalOptions {
  /** Reports the pass of the model over the held-out images ('eval'); silent without one. */
  startProgress?: StartProgress;
}

async function runModel(model: LoadedModel, samples: readonly Sample[], startProgress: StartProgress, batchSize = 16): Promise<Outputs> {
  const { manifest, session } = model;
  const [h, w] = manifest.input.size;
  const n = samples.length;
  const probs: Record<string, Float32Array> = Object.fromEntries(manifest.heads.map((head) => [head.name, new Float32Array(n * head.labels.length)]));
  const embedding = new Float32Array(n * manifest.embedding.dim);
  const code = new Float32Array(n * manifest.embedding.codeBits);
  const ok = new Array<boolean>(n).fill(false);
  const pixelProbs: Record<string, Float32Array> = Object.fromEntries([...model.pixelHeads].map(([name, pixels]) => [name, new Float32Array(n * pixels.file.labels.length)]));
  const progress = startProgress('eval', n);
  for (let start = 0; start < n; start += batchSize) {
    const batch = samples.slice(start, start + batchSize);
    const tensors = await Promise.all(batch.map(async (s) => loadForModel(await readSampleBytes(s.path), manifest.input).then((r) => r.tensor).catch(() => undefined)));
    const good = tensors.map((t, i) => (t ? i : -1)).filter((i) => i >= 0);
    if (good.length === 0) continue;
    const per = tensors[good[0]!]!.length;
    const input = new Float32Array(per * good.length);
    good.forEach((i, k) => input.set(tensors[i]!, k * per));
    const dims = manifest.input.layout === 'NHWC' ? [good.length, h, w, 3] : [good.length, 3, h, w];
    const out = await session.run(session.inputNames[0]!, input, dims);
    good.forEach((i, k) => {
      const row = start + i;
      ok[row] = true;
      for (const [name, pixels] of model.pixelHeads) pixelProbs[name]!.set(pixels.probabilities(pixels.features(tensors[i]!, manifest.input)), row * pixels.file.labels.length);
      for (const head of manifest.heads) {
        const L = head.labels.length;
        probs[head.name]!.set(out[head.output]!.data.subarray(k * L, (k + 1) * L), row * L);
      }
      const d = manifest.embedding.dim;
      embedding.set(out[manifest.embedding.output]!.data.subarray(k * d, (k + 1) * d), row * d);
      const b = manifest.embedding.codeBits;
      code.set(out[manifest.embedding.codeOutput]!.data.subarray(k * b, (k + 1) * b), row * b);
    });
    progress.tick(Math.min(n, start + batchSize));
  }
  progress.finish();
  return { probs, pixelProbs, embedding, code, ok };
}

export async function evaluateModel(modelDir: string | undefined, datasetsRoot: string, options: EvalOptions = {}): Promise<EvalReport> {
  const model = await loadModel(modelDir);
  const { manifest } = model;
  const headNames = new Set(manifest.heads.map((h) => h.name));
  const report: EvalReport = { model: `${manifest.name}@${manifest.version}`, heads: {} };
  const val: Sample[] = [];
  let catalog: Sample[] = [];
  // The vertical head is scored on every dataset whose heads name their vertical (model.json).
  const verticalHead = manifest.heads.find((h) => h.name === VERTICAL_HEAD && h.kind === 'single');
  const heldOut = (samples: readonly Sample[], head: string): Sample[] => {
    const vertical = manifest.heads.find((h) => h.name === head)?.vertical;
    const index = verticalHead && vertical ? verticalHead.labels.indexOf(vertical) : -1;
    return samples.filter((s) => s.split === 'val').map((s) => (index < 0 ? s : { ...s, single: { ...s.single, [VERTICAL_HEAD]: index } }));
  };
  if (headNames.has('clothing')) val.push(...heldOut((await loadClothing(path.join(datasetsRoot, 'clothing'))).samples, 'clothing'));
  if (headNames.has('fashion_article')) val.push(...heldOut((await loadFashionProducts(path.join(datasetsRoot, 'fashion-products'))).samples, 'fashion_article'));
  if (headNames.has('furniture')) val.push(...heldOut((await loadFurniture(path.join(datasetsRoot, 'furniture'))).samples, 'furniture'));
  if (headNames.has('grocery_fine') || headNames.has('grocery_coarse')) {
    const grocery = await loadGrocery(path.join(datasetsRoot, 'grocery'));
    val.push(...heldOut(grocery.samples, headNames.has('grocery_fine') ? 'grocery_fine' : 'grocery_coarse'));
    catalog = grocery.samples.filter((s) => s.catalogImage).sort((a, b) => a.single.grocery_fine! - b.single.grocery_fine!);
  }
  // Fashion-MNIST's public test split (10,000 images) from Debian's dataset-fashion-mnist.
  if (headNames.has('fashion_mnist')) val.push(...(await loadFashionMnist(FASHION_MNIST_DIR, { limit: 0 })).samples.filter((s) => s.split === 'val'));
  if (headNames.has('garment_tags')) val.push(...heldOut((await loadClothingParsing(path.join(datasetsRoot, 'clothing-parsing'))).samples, 'garment_tags'));

  const out = await runModel(model, [...val, ...catalog], options.startProgress ?? silentProgress);
  const failed = out.ok.filter((v) => !v).length;
  for (const head of manifest.heads) {
    const L = head.labels.length;
    const rows = val.map((s, i) => ({ s, i })).filter(({ s, i }) => out.ok[i] && (head.kind === 'single' ? s.single[head.name] !== undefined : s.multi?.[head.name] !== undefined));
    const probs = new Float32Array(rows.length * L);
    rows.forEach(({ i }, k) => probs.set(out.probs[head.name]!.subarray(i * L, (i + 1) * L), k * L));
    if (head.kind === 'single') {
      const targets = rows.map(({ s }) => s.single[head.name]!);
      report.heads[head.name] = { images: rows.length, accuracy: round(topKAccuracy(probs, L, targets, 1)), top5: round(topKAccuracy(probs, L, targets, 5)) };
      const pixels = model.pixelHeads.get(head.name);
      if (pixels) {
        // As users get it: the head's top labels (rounded, as the analyzer gives them) blended with the histograms.
        let right = 0;
        rows.forEach(({ i }, k) => {
          const top = rankLabels(probs.subarray(k * L, (k + 1) * L), head.labels, TOP_LABELS);
          const answer = pixels.blend(out.pixelProbs[head.name]!.subarray(i * L, (i + 1) * L), top);
          if (answer.kind === 'single' && answer.top[0]?.label === head.labels[targets[k]!]) right++;
        });
        report.heads[head.name]!.accuracy_with_pixels = round(right / Math.max(rows.length, 1));
      }
    } else {
      const targets = new Float32Array(rows.length * L);
      rows.forEach(({ s }, k) => {
        for (const l of s.multi![head.name]!) targets[k * L + l] = 1;
      });
      const idx = rows.map((_, k) => k);
      const thresholds = typeof head.thresholds === 'number' ? new Array<number>(L).fill(head.thresholds) : head.thresholds;
      report.heads[head.name] = { images: rows.length, mAP: round(meanAveragePrecision(probs, targets, L, idx)), micro_f1_at_shipped_thresholds: round(microF1(probs, targets, L, idx, thresholds)) };
    }
  }
  if (catalog.length > 0) {
    const d = manifest.embedding.dim;
    const bits = manifest.embedding.codeBits;
    const gallery = catalog.map((_, k) => val.length + k);
    const queries = val.map((s, i) => ({ s, i })).filter(({ s, i }) => s.dataset === 'grocery' && out.ok[i]);
    const pick = (src: Float32Array, width: number, rows: number[]): Float32Array => {
      const o = new Float32Array(rows.length * width);
      rows.forEach((r, k) => o.set(src.subarray(r * width, (r + 1) * width), k * width));
      return o;
    };
    const targets = queries.map(({ s }) => s.single.grocery_fine!);
    const float = retrievalRecall(pick(out.embedding, d, queries.map((q) => q.i)), pick(out.embedding, d, gallery), d, targets);
    const codes = (rows: number[]) => rows.map((r) => hexToBytes(signsToHex(out.code, r * bits, bits)));
    const binary = binaryRecall(codes(queries.map((q) => q.i)), codes(gallery), targets);
    const threshold = manifest.embedding.exactMatchThreshold;
    report.retrieval = {
      task: 'grocery val photos -> 81 catalog images',
      queries: queries.length,
      recall_at_1: round(float.recallAt1),
      recall_at_5: round(float.recallAt5),
      binary_recall_at_1: round(binary.recallAt1),
      binary_recall_at_5: round(binary.recallAt5),
      exact_threshold: threshold,
      own_catalog_image_at_or_above_threshold: round(float.positives.filter((p) => p >= threshold).length / float.positives.length),
      other_catalog_image_at_or_above_threshold: round(float.hardestNegatives.filter((n) => n >= threshold).length / float.hardestNegatives.length),
    };
  }
  (report as EvalReport & { failedImages: number }).failedImages = failed;
  await model.session.close();
  return report;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

export function reportMarkdown(report: EvalReport): string {
  const lines = [`# Evaluation of ${report.model}`, ''];
  lines.push('| head | measure | value |', '|---|---|---|');
  for (const [head, figures] of Object.entries(report.heads)) for (const [k, v] of Object.entries(figures)) lines.push(`| ${head} | ${k} | ${v} |`);
  if (report.retrieval) for (const [k, v] of Object.entries(report.retrieval)) lines.push(`| embedding | ${k} | ${v} |`);
  return `${lines.join('\n')}\n`;
}
