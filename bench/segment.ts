// Clothing segmentation, end to end through ONNX Runtime: the shipped artifact
// (models/groknet-segment: converted trunk + trained decoder) on the held-out masked
// Clothing Co-Parsing photos, photo bytes in, a mask the size of the photo out, scored
// against the dataset's masks at full resolution. Writes models/groknet-segment/EVAL.md,
// the `segment` section of BENCHMARKS.md, and the figures into the artifact's model.json.
// Run: node --import tsx bench/segment.ts [--datasets ../shared/datasets] [--model DIR]
//   [--tta none|flip] [--tta-average logits|probs] [--tta-align interpolate|nearest] [--dry-run]
// Without --tta the Segmenter's default is scored. --dry-run prints the figures and writes nothing.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GroknetError } from '../src/errors.ts';
import { garmentsFromSegmentation } from '../src/pipelines/garments.ts';
import { Segmenter, type SegmentOptions } from '../src/pipelines/segment.ts';
import { mergeMask } from '../src/segment/classes.ts';
import { loadMaskedPhotos, readMask } from '../src/train/segmentation/dataset.ts';
import { DEFAULT_SEGMENT_MODEL_DIR } from '../src/segment/load.ts';
import { Confusion } from '../src/segment/metrics.ts';
import { figures, type ValidationFigures } from '../src/train/segmentation/validate.ts';
import { machine, peakRssMiB, writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    datasets: { type: 'string', default: '../shared/datasets' },
    model: { type: 'string', default: DEFAULT_SEGMENT_MODEL_DIR },
    tta: { type: 'string' },
    'tta-average': { type: 'string' },
    'tta-align': { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
  },
});
const modelDir = path.resolve(values.model!);
const dataset = await loadMaskedPhotos(path.join(path.resolve(values.datasets!), 'clothing-parsing'));
const val = dataset.photos.filter((p) => p.split === 'val');

const segmenter = await Segmenter.open(modelDir, {
  batchSize: 1,
  tta: values.tta as SegmentOptions['tta'],
  ttaAverage: values['tta-average'] as SegmentOptions['ttaAverage'],
  ttaAlign: values['tta-align'] as SegmentOptions['ttaAlign'],
});
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

const strictFigures: ValidationFigures = figures(strict, manifest.labels, val.length - failures);
const groupFigures: ValidationFigures | undefined = merged ? figures(mergedConfusion, manifest.labels, val.length - failures) : undefined;
// The model's own label set is the primary score: it is what the model can answer.
const result = groupFigures ?? strictFigures;
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)] ?? 0;
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const ttaFlags = [
  ...(values.tta ? [`--tta ${values.tta}`] : []),
  ...(values['tta-average'] ? [`--tta-average ${values['tta-average']}`] : []),
  ...(values['tta-align'] ? [`--tta-align ${values['tta-align']}`] : []),
];
const command = `node --import tsx bench/segment.ts${values.datasets === '../shared/datasets' ? '' : ` --datasets ${values.datasets}`}${ttaFlags.map((f) => ` ${f}`).join('')}`;
const ttaText =
  segmenter.tta === 'flip'
    ? `with test-time mirroring: the input and its mirror in one batch, the mirror's logits brought back onto the grid (${segmenter.ttaAlign === 'nearest' ? 'nearest cell' : 'interpolated between cells'}) and averaged as ${segmenter.ttaAverage === 'probs' ? 'softmax probabilities' : 'logits'}`
    : 'one run, no test-time augmentation';
const goal = (v: number, g: number): string => (v >= g ? 'met' : 'not met');
const training = manifest.training as { trainImages?: number; seconds?: number } | undefined;
const groups = new Map<string, string[]>();
for (const [from, to] of Object.entries(manifest.merged)) groups.set(to, [...(groups.get(to) ?? []), from]);
const row = (what: string, f: ValidationFigures): string =>
  `| ${what} | ${f.perLabel.length} | ${f.pixelAccuracy.toFixed(4)} | ${f.meanIoU.toFixed(4)} | ${goal(f.pixelAccuracy, 0.85)} | ${goal(f.meanIoU, 0.35)} |`;

const summary = [
  `Command: \`${command}\` (model: \`${path.relative(process.cwd(), modelDir) || modelDir}\`).`,
  `Machine: ${machine()} (shared with other work while measured: the times are indicative). ONNX Runtime CPU EP, batch 1.`,
  `Model: trained by \`node --import tsx src/train/segmentation/train-main.ts\` (settings and what was tried: \`models/groknet-segment/EVAL.md\`).`,
  `Data: Clothing Co-Parsing, the ${dataset.photos.length} photos with pixel masks, split by a hash of the photo name`,
  `(85/15, the split the garment_tags head uses): ${training?.trainImages ?? '?'} to train the decoder, ${val.length} held out and scored here${failures ? ` (${failures} failed to decode)` : ''}.`,
  `Scored end to end: photo bytes -> letterbox ${manifest.input.size[0]}x${manifest.input.size[1]} -> trunk + decoder (${manifest.grid.height}x${manifest.grid.width} logits; ${ttaText})`,
  `-> bilinear to the photo's size -> argmax, against the full-resolution masks. IoU per label over all held-out pixels;`,
  `mIoU is the mean over the labels present in the held-out masks.`,
  '',
  '| scored against | labels present | pixel accuracy | mIoU | goal pixel acc >= 0.85 | goal mIoU >= 0.35 |',
  '|---|---|---|---|---|---|',
  ...(groupFigures
    ? [row(`the model's ${manifest.classLabels.length} classes (masks with the same label groups applied)`, groupFigures), row(`the ${manifest.labels.length} original labels (grouped-away labels score 0)`, strictFigures)]
    : [row(`the ${manifest.labels.length} original labels`, strictFigures)]),
  '',
  `Median ${median.toFixed(0)} ms per photo end to end (decode, trunk + decoder, upsampling to the photo); ${(garmentCount / Math.max(1, result.images)).toFixed(1)} garments per photo (share >= 0.5%); peak RSS ${peakRssMiB().toFixed(0)} MiB.`,
  ...(groups.size > 0 ? ['', `Label groups (each written into the mask as the label named first): ${[...groups].map(([to, from]) => `${to} (${from.join(', ')})`).join('; ')}.`] : []),
];

const printed = `${JSON.stringify({ images: result.images, tta: segmenter.tta, ttaAverage: segmenter.ttaAverage, ttaAlign: segmenter.ttaAlign, pixelAccuracy: result.pixelAccuracy, meanIoU: result.meanIoU, original: { pixelAccuracy: strictFigures.pixelAccuracy, meanIoU: strictFigures.meanIoU }, medianMs: median })}\n`;
if (values['dry-run']) {
  process.stdout.write(printed);
  process.exit(0);
}

const perLabelRows = (f: ValidationFigures): string[] =>
  [...f.perLabel].sort((a, b) => b.pixelShare - a.pixelShare).map((l) => `| ${l.label} | ${pct(l.pixelShare)} | ${l.iou.toFixed(3)} |`);
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
    ...(groupFigures
      ? ['## IoU per class (held-out masks, label groups applied)', '', '| class | share of held-out pixels | IoU |', '|---|---|---|', ...perLabelRows(groupFigures), '']
      : []),
    '## IoU per original label (held-out masks)',
    '',
    '| label | share of held-out pixels | IoU |',
    '|---|---|---|',
    ...perLabelRows(strictFigures),
    '',
    ...(notes ? [notes.trim(), ''] : []),
  ].join('\n'),
);

const manifestFile = path.join(modelDir, 'model.json');
const json = JSON.parse(await readFile(manifestFile, 'utf8')) as { evaluation?: Record<string, unknown> };
json.evaluation = {
  ...json.evaluation,
  endToEnd: { command, tta: segmenter.tta === 'flip' ? { mode: 'flip', average: segmenter.ttaAverage, align: segmenter.ttaAlign } : 'none', images: result.images, medianMsPerPhoto: Math.round(median), ...(groupFigures ? { classes: groupFigures } : {}), originalLabels: strictFigures },
};
await writeFile(manifestFile, `${JSON.stringify(json, null, 2)}\n`);
process.stdout.write(printed);
