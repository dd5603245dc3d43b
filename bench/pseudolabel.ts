// How right are pseudo-labels? Labelled photos are treated as unlabelled: the 81 Grocery
// Store catalog images (iconic-images-and-descriptions, one product per fine class) are
// indexed into a temporary catalog with the shipped model, then the val photos are
// pseudo-labelled (detector -> crops -> nearest catalog product, kept at similarity >= the
// model's exact-match threshold) and the attached product is compared with the photo's
// true fine class.
//  - crop precision: labelled crops whose product is the photo's class (each val photo shows
//    one product, often several items of it);
//  - photo coverage: photos with at least one labelled crop; photo precision: the best crop
//    of those photos (highest similarity) names the right product;
//  - coarse precision: the right kind (Apple) even when the variety is wrong;
//  - the same at other thresholds (precision against coverage), and a baseline without the
//    detector: the whole photo matched to the catalog.
// Run: node --import tsx bench/pseudolabel.ts [--datasets ../shared/datasets] [--detector centernet] [--limit N]
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openCatalog } from '../src/catalog/index.ts';
import { ingest } from '../src/ingest/ingest.ts';
import { DEFAULT_DETECTOR, isDetectorName, openDetector } from '../src/detect/index.ts';
import { GroknetError } from '../src/errors.ts';
import { ModelAnalyzer } from '../src/pipelines/analyze.ts';
import { pseudolabelPhotos } from '../src/pipelines/pseudolabel.ts';
import { nearestProduct } from '../src/search/nearest.ts';
import { readGroceryClasses, type GroceryClass } from '../src/train/datasets/grocery.ts';
import { machine, peakRssMiB, writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    datasets: { type: 'string', default: '../shared/datasets' },
    detector: { type: 'string', default: DEFAULT_DETECTOR },
    limit: { type: 'string' },
  },
});
const root = path.join(path.resolve(values.datasets!), 'grocery');
const detectorName = values.detector!;
if (!isDetectorName(detectorName)) throw new Error(`unknown detector ${detectorName}`);
const SWEEP = [0.3, 0.35, 0.45, 0.5, 0.6, 0.7];
const CHUNK = 16;

interface Photo {
  file: string;
  truth: GroceryClass;
}

/** One scored guess: a crop (or a whole photo) and the catalog product nearest to it. */
interface Guess {
  product: string;
  similarity: number;
}

async function valPhotos(classes: readonly GroceryClass[]): Promise<Photo[]> {
  const lines = (await readFile(path.join(root, 'val.txt'), 'utf8')).split('\n').filter((l) => l.trim() !== '');
  const photos = lines.map((line) => {
    const [file, fineId] = line.split(',').map((c) => c.trim());
    return { file: path.join(root, file!), truth: classes[Number(fineId)]! };
  });
  return values.limit ? photos.slice(0, Number(values.limit)) : photos;
}

/** The catalog: one listing per fine class, id = class name, its iconic image (copied, so the source is one folder). */
async function indexCatalog(dir: string, classes: readonly GroceryClass[], analyzer: ModelAnalyzer) {
  const images = path.join(dir, 'listings');
  await mkdir(images, { recursive: true });
  const lines: string[] = [];
  for (const c of classes) {
    const name = `${c.fine}${path.extname(c.iconicImage)}`;
    await copyFile(c.iconicImage, path.join(images, name));
    lines.push(JSON.stringify({ id: c.fine, title: c.fine.replace(/-/g, ' '), description: c.coarse, image: name }));
  }
  await writeFile(path.join(images, 'listings.jsonl'), `${lines.join('\n')}\n`);
  const catalog = await openCatalog(path.join(dir, 'data'), { embeddingDim: analyzer.embeddingDim });
  const summary = await ingest(path.join(images, 'listings.jsonl'), { catalog, analyzer });
  if (summary.indexed !== classes.length) throw new Error(`indexed ${summary.indexed} of ${classes.length}: ${JSON.stringify(summary.failed)}`);
  return catalog;
}

const pct = (n: number, d: number): string => (d === 0 ? 'n/a' : `${((100 * n) / d).toFixed(1)}%`);

interface Scores {
  crops: number;
  cropsRight: number;
  cropsCoarseRight: number;
  photos: number;
  photosRight: number;
  photosCoarseRight: number;
}

/** Precision and coverage when guesses at or above `threshold` are kept. */
function score(perPhoto: ReadonlyArray<{ truth: GroceryClass; guesses: Guess[] }>, threshold: number, coarseOf: Map<string, string>): Scores {
  const s: Scores = { crops: 0, cropsRight: 0, cropsCoarseRight: 0, photos: 0, photosRight: 0, photosCoarseRight: 0 };
  for (const { truth, guesses } of perPhoto) {
    const kept = guesses.filter((g) => g.similarity >= threshold);
    s.crops += kept.length;
    s.cropsRight += kept.filter((g) => g.product === truth.fine).length;
    s.cropsCoarseRight += kept.filter((g) => coarseOf.get(g.product) === truth.coarse).length;
    const best = [...kept].sort((a, b) => b.similarity - a.similarity)[0];
    if (!best) continue;
    s.photos++;
    if (best.product === truth.fine) s.photosRight++;
    if (coarseOf.get(best.product) === truth.coarse) s.photosCoarseRight++;
  }
  return s;
}

async function main(): Promise<void> {
  const classes = await readGroceryClasses(root);
  const coarseOf = new Map(classes.map((c) => [c.fine, c.coarse]));
  const photos = await valPhotos(classes);
  const work = await mkdtemp(path.join(os.tmpdir(), 'groknet-bench-pseudolabel-'));
  const analyzer = await ModelAnalyzer.open();
  const threshold = analyzer.exactMatchThreshold;
  const detector = await openDetector(detectorName);
  try {
    const started = performance.now();
    const catalog = await indexCatalog(work, classes, analyzer);
    const indexSeconds = (performance.now() - started) / 1000;

    const detected: Array<{ truth: GroceryClass; guesses: Guess[] }> = [];
    const whole: Array<{ truth: GroceryClass; guesses: Guess[] }> = [];
    let failed = 0;
    let withDetections = 0;
    const classCounts = new Map<string, number>();
    const labelStarted = performance.now();
    for (let start = 0; start < photos.length; start += CHUNK) {
      const slice = photos.slice(start, start + CHUNK);
      const buffers = await Promise.all(slice.map((p) => readFile(p.file)));
      const results = await pseudolabelPhotos(buffers, { catalog, detector, analyzer });
      for (const [i, result] of results.entries()) {
        if (result instanceof GroknetError) {
          failed++;
          continue;
        }
        if (result.crops.length > 0) withDetections++;
        for (const crop of result.crops) classCounts.set(crop.class, (classCounts.get(crop.class) ?? 0) + 1);
        const guesses = result.crops.flatMap((c) => (c.nearest ? [{ product: c.nearest.id, similarity: c.nearest.similarity }] : []));
        detected.push({ truth: slice[i]!.truth, guesses });
      }
      process.stderr.write(`\rpseudolabel: ${Math.min(start + CHUNK, photos.length)}/${photos.length}`);
    }
    const labelSeconds = (performance.now() - labelStarted) / 1000;
    process.stderr.write('\n');

    // Baseline: no detector, the whole photo is the query.
    const analyses = [];
    for (let start = 0; start < photos.length; start += CHUNK) {
      const slice = photos.slice(start, start + CHUNK);
      analyses.push(...(await analyzer.analyzeBuffers(await Promise.all(slice.map((p) => readFile(p.file))))));
    }
    for (const [i, analysis] of analyses.entries()) {
      if (analysis instanceof GroknetError) continue;
      const nearest = await nearestProduct(catalog, analysis.embedding);
      whole.push({ truth: photos[i]!.truth, guesses: nearest ? [{ product: nearest.id, similarity: nearest.similarity }] : [] });
    }
    await catalog.close();

    const totalCrops = detected.reduce((n, p) => n + p.guesses.length, 0);
    const at = score(detected, threshold, coarseOf);
    const base = score(whole, threshold, coarseOf);
    const topClasses = [...classCounts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([c, n]) => `${c} ${n}`).join(', ');
    const row = (label: string, s: Scores, n: number): string =>
      `| ${label} | ${s.crops} | ${pct(s.cropsRight, s.crops)} | ${pct(s.cropsCoarseRight, s.crops)} | ${pct(s.photos, n)} | ${pct(s.photosRight, s.photos)} | ${pct(s.photosCoarseRight, s.photos)} |`;
    const header = '| threshold | labelled crops | crop precision (fine) | crop precision (coarse) | photo coverage | photo precision (fine) | photo precision (coarse) |\n|---|---|---|---|---|---|---|';
    const thresholds = [...new Set([...SWEEP, threshold])].sort((a, b) => a - b);

    const markdown = `## Pseudo-labels (grocery)

\`node --import tsx bench/pseudolabel.ts\` — ${machine()}; model ${analyzer.modelVersion}, detector ${detectorName}.

The 81 Grocery Store catalog images (one listing per fine class) indexed into a temporary
catalog (${indexSeconds.toFixed(1)} s), then the ${photos.length} val photos pseudo-labelled as if
unlabelled: each detected crop gets the id of its nearest catalog product when the cosine
similarity is at least the model's exact-match threshold (${threshold}); compared with the
photo's true fine class. A val photo shows one product (often several items of it), so every
labelled crop of a photo should name that product. ${failed} photos could not be read.

Detection: ${withDetections} of ${detected.length} photos (${pct(withDetections, detected.length)}) had at least one product detected, ${totalCrops} crops in all (${topClasses}).
Pseudo-labelling took ${labelSeconds.toFixed(0)} s (${((1000 * labelSeconds) / Math.max(1, photos.length)).toFixed(0)} ms per photo, detection and crop analysis included); peak RSS ${peakRssMiB().toFixed(0)} MiB.

At the exact-match threshold (${threshold}):

${header}
${row(`${threshold} (crops)`, at, detected.length)}
${row(`${threshold} (whole photo, no detector)`, base, whole.length)}

Crop labels at other thresholds (precision against coverage):

${header}
${thresholds.map((t) => row(String(t), score(detected, t, coarseOf), detected.length)).join('\n')}

Whole photo, no detector, at the same thresholds:

${header}
${thresholds.map((t) => row(String(t), score(whole, t, coarseOf), whole.length)).join('\n')}

Whether training on pseudo-labels helps is measured in the next section ("pseudo-label
training", \`bench/pseudolabel-training.ts\`): whole-photo pseudo-labels of hidden-label grocery
train photos, from a model trained on the rest, added to its training set. The precision
above bounds what can be gained: at crop precision p, a fraction 1 - p of the added labels is wrong.
`;
    await writeSection('pseudolabel', markdown);
    process.stdout.write(markdown);
  } finally {
    await detector.close();
    await analyzer.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
