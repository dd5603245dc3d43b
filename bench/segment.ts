// Clothing segmentation, end to end through ONNX Runtime: the shipped artifact
// (models/groknet-segment: converted trunk + trained decoder) on the held-out masked
// Clothing Co-Parsing photos, photo bytes in, a mask the size of the photo out, scored
// against the dataset's masks at full resolution. Writes models/groknet-segment/EVAL.md,
// the `segment` section of BENCHMARKS.md, and the figures into the artifact's model.json.
// Run: node --import tsx bench/segment.ts [--datasets ../shared/datasets] [--model DIR]
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GroknetError } from '../src/errors.ts';
import { garmentsFromSegmentation } from '../src/pipelines/garments.ts';
import { Segmenter } from '../src/pipelines/segment.ts';
import { mergeMask } from '../src/segment/classes.ts';
import { loadMaskedPhotos, readMask } from '../src/segment/dataset.ts';
import { DEFAULT_SEGMENT_MODEL_DIR } from '../src/segment/load.ts';
import { Confusion } from '../src/segment/metrics.ts';
import { figures, type ValidationFigures } from '../src/segment/train.ts';
import { machine, peakRssMiB, writeSection } from './report.ts';

const { values } = parseArgs({ options: { datasets: { type: 'string', default: '../shared/datasets' }, model: { type: 'string', default: DEFAULT_SEGMENT_MODEL_DIR } } });
const modelDir = path.resolve(values.model!);
const dataset = await loadMaskedPhotos(path.join(path.resolve(values.datasets!), 'clothing-parsing'));
const val = dataset.photos.filter((p) => p.split === 'val');

const segmenter = await Segmenter.open(modelDir, { batchSize: 1 });
const { manifest, classMap } = segmenter.model;
const merged = Object.keys(manifest.merged).length > 0;
const strict = new Confusion(manifest.labels.length);
const mergedConfusion = new Confusion(manifest.labels.length);
const times: number[] = [];
let garmentCount = 0;
let failures = 0;
for (const photo of val) {
  const bytes = await readFile(photo.photo);
  const start = performance.now();
  const [result] = await segmenter.segmentBuffers([bytes]);
  times.push(performance.now() - start);
  if (!result || result instanceof GroknetError) {
    failures++;
    continue;
  }
  const truth = await readMask(photo.mask);
  const { segmentation } = result;
  if (truth.width !== segmentation.width || truth.height !== segmentation.height) throw new Error(`${photo.name}: mask ${truth.width}x${truth.height}, prediction ${segmentation.width}x${segmentation.height}`);
  strict.add(segmentation.mask, truth.data);
  if (merged) mergedConfusion.add(segmentation.mask, mergeMask(truth.data, classMap));
  garmentCount += garmentsFromSegmentation(segmentation, result.image.data, { notGarments: segmenter.notGarments }).length;
}
await segmenter.close();

const result: ValidationFigures = figures(strict, manifest.labels, val.length - failures, merged ? mergedConfusion : undefined);
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)] ?? 0;
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const command = `node --import tsx bench/segment.ts${values.datasets === '../shared/datasets' ? '' : ` --datasets ${values.datasets}`}`;
const goal = (v: number, g: number): string => (v >= g ? 'met' : 'not met');
const training = manifest.training as { trainImages?: number; seconds?: number; config?: Record<string, unknown> } | undefined;

const summary = [
  `Command: \`${command}\` (model: \`${path.relative(process.cwd(), modelDir) || modelDir}\`).`,
  `Machine: ${machine()}. ONNX Runtime CPU EP, batch 1.`,
  `Data: Clothing Co-Parsing, the ${dataset.photos.length} photos with pixel masks, split by a hash of the photo name`,
  `(85/15, the split the garment_tags head uses): ${training?.trainImages ?? '?'} to train the decoder, ${val.length} held out and scored here${failures ? ` (${failures} failed to decode)` : ''}.`,
  `Scored end to end: photo bytes -> letterbox ${manifest.input.size[0]}x${manifest.input.size[1]} -> trunk + decoder (${manifest.grid.height}x${manifest.grid.width} logits)`,
  `-> bilinear to the photo's size -> argmax, against the full-resolution masks; IoU per label over all held-out pixels,`,
  `mean over the ${result.perLabel.length} labels present in the held-out masks (of ${manifest.labels.length}).`,
  '',
  '| pixel accuracy | mIoU (labels present) | goal pixel acc >= 0.85 | goal mIoU >= 0.35 | median ms / photo | garments per photo | peak RSS |',
  '|---|---|---|---|---|---|---|',
  `| ${result.pixelAccuracy.toFixed(4)} | ${result.meanIoU.toFixed(4)} | ${goal(result.pixelAccuracy, 0.85)} | ${goal(result.meanIoU, 0.35)} | ${median.toFixed(0)} | ${(garmentCount / Math.max(1, result.images)).toFixed(1)} | ${peakRssMiB().toFixed(0)} MiB |`,
  ...(result.merged
    ? [
        '',
        `With the training merges applied to the masks too (${Object.keys(manifest.merged).join(', ')} -> ${[...new Set(Object.values(manifest.merged))].join(', ')}):`,
        `pixel accuracy ${result.merged.pixelAccuracy.toFixed(4)}, mIoU ${result.merged.meanIoU.toFixed(4)} over ${result.merged.labelsPresent} labels present.`,
      ]
    : []),
];

const perLabel = [...result.perLabel]
  .sort((a, b) => b.pixelShare - a.pixelShare)
  .map((l) => `| ${l.label} | ${pct(l.pixelShare)} | ${l.iou.toFixed(3)} |`);
await writeSection('segment', ['## Clothing segmentation (issue: "clothing segmentation", "garments as products")', '', ...summary].join('\n'));

const evalFile = path.join(modelDir, 'EVAL.md');
// Hand-written notes (what was tried) live after this marker and survive a rerun.
const NOTES_MARKER = '<!-- notes: kept by bench/segment.ts -->';
const previous = await readFile(evalFile, 'utf8').catch(() => '');
const notes = previous.includes(NOTES_MARKER) ? previous.slice(previous.indexOf(NOTES_MARKER)) : '';
await writeFile(
  evalFile,
  [
    '# groknet-segment: evaluation',
    '',
    ...summary,
    '',
    '## IoU per label (held-out masks)',
    '',
    '| label | share of held-out pixels | IoU |',
    '|---|---|---|',
    ...perLabel,
    '',
    ...(notes ? [notes.trim(), ''] : []),
  ].join('\n'),
);

const manifestFile = path.join(modelDir, 'model.json');
const json = JSON.parse(await readFile(manifestFile, 'utf8')) as { evaluation?: Record<string, unknown> };
json.evaluation = { ...json.evaluation, endToEnd: { command, ...result, medianMsPerPhoto: Math.round(median) } };
await writeFile(manifestFile, `${JSON.stringify(json, null, 2)}\n`);
process.stdout.write(`${JSON.stringify({ images: result.images, pixelAccuracy: result.pixelAccuracy, meanIoU: result.meanIoU, merged: result.merged, medianMs: median })}\n`);
