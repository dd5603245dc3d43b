// `groknet pseudolabel PHOTOS... [--files-from LIST [-0]] --data DIR --out DATASET.jsonl [--detector centernet|nanodet]
//   [--model DIR] [--label product|HEAD] [--threshold S] [--min-score S] [--max-products N]`
// Labels the products in unlabelled photos from the catalog: each detected crop whose
// nearest catalog product clears the exact-match threshold is written as a PNG beside
// DATASET.jsonl, with a row naming the product (or its label from HEAD). The JSONL is what
// the trainer's `jsonl` dataset adapter reads. Prints a JSON summary; exit 1 when a photo
// could not be read.
import path from 'node:path';
import { openCatalog } from '../../catalog/index.ts';
import { existingCatalogDir } from '../existing-catalog.ts';
import { assertCompatible } from '../../catalog/compatible.ts';
import { DEFAULT_DETECTOR, DETECTOR_NAMES, isDetectorName, openDetector } from '../../detect/index.ts';
import { GroknetError } from '../../errors.ts';
import { ModelAnalyzer } from '../../pipelines/analyze.ts';
import { DEFAULT_MAX_PRODUCTS, MAX_PRODUCTS_LIMIT } from '../../pipelines/detect.ts';
import { buildPseudolabelDataset, PseudolabelDataset, type LabelSource, type PseudolabelSummary } from '../../pipelines/pseudolabel-dataset.ts';
import { intOption, numberOption, parse } from '../args.ts';
import { expandInputs, hasInputs, inputHelp, INPUT_OPTIONS, INPUT_USAGE, listInputs, warnOnStderr } from '../inputs.ts';
import { createProgress } from '../progress.ts';

const USAGE = `usage: groknet pseudolabel PHOTOS... ${INPUT_USAGE} --data DIR --out DATASET.jsonl [--detector ${DETECTOR_NAMES.join('|')}] [--model DIR] [--label product|HEAD] [--threshold S] [--min-score S] [--max-products N]\n${inputHelp('pseudolabel')}`;

export async function pseudolabelCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    data: { type: 'string' },
    out: { type: 'string' },
    detector: { type: 'string', default: DEFAULT_DETECTOR },
    model: { type: 'string' },
    label: { type: 'string', default: 'product' },
    threshold: { type: 'string' },
    'min-score': { type: 'string' },
    'max-products': { type: 'string' },
    ...INPUT_OPTIONS,
  });
  if (!hasInputs(positionals, values) || !values.out) {
    process.stderr.write(USAGE);
    return 2;
  }
  const detectorName = values.detector;
  if (!isDetectorName(detectorName)) throw new GroknetError('invalid_argument', `--detector must be one of ${DETECTOR_NAMES.join(', ')}, got '${detectorName}'`);
  const minScore = numberOption(values['min-score'], 'min-score', 0, 1);
  const threshold = numberOption(values.threshold, 'threshold', -1, 1);
  const maxProducts = intOption(values['max-products'], 'max-products', 1, MAX_PRODUCTS_LIMIT, DEFAULT_MAX_PRODUCTS);
  const label: LabelSource = values.label === 'product' ? { kind: 'product' } : { kind: 'head', head: values.label };
  // Paths are checked before any model is loaded: a typo costs nothing.
  const dataDir = await existingCatalogDir(values.data);
  const dataset = await PseudolabelDataset.create(values.out, label);
  const files = await expandInputs(await listInputs(positionals, values), { warn: warnOnStderr('pseudolabel') });

  const analyzer = await ModelAnalyzer.open(values.model ? path.resolve(values.model) : undefined);
  const catalog = await openCatalog(dataDir).catch(async (error: unknown) => {
    await analyzer.close();
    throw error;
  });
  const detector = await openDetector(detectorName).catch(async (error: unknown) => {
    await Promise.all([catalog.close(), analyzer.close()]);
    throw error;
  });
  const progress = createProgress('pseudolabel', files.length);
  let summary: PseudolabelSummary;
  try {
    // Embeddings of another model than the catalog's cannot be compared with it.
    await assertCompatible(catalog, analyzer);
    if ((await catalog.countProducts()) === 0) throw new GroknetError('invalid_argument', `the catalog at '${dataDir}' has no products to take labels from`);
    const heads = Object.keys((await catalog.info()).heads);
    if (label.kind === 'head' && !heads.includes(label.head)) {
      throw new GroknetError('invalid_argument', `--label: the catalog has no single-label head '${label.head}' (known: product, ${heads.join(', ')})`);
    }
    summary = await buildPseudolabelDataset(files, dataset, {
      catalog,
      detector,
      analyzer,
      maxProducts,
      ...(threshold === undefined ? {} : { threshold }),
      ...(minScore === undefined ? {} : { minScore }),
      onProgress: (done) => progress.tick(done),
    });
  } finally {
    progress.finish();
    await Promise.all([detector.close(), catalog.close(), analyzer.close()]);
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (summary.labelled > 0 && summary.classes < 2) {
    process.stderr.write('groknet pseudolabel: every crop got the same label; the trainer needs at least two classes\n');
  }
  return summary.failed.length > 0 ? 1 : 0;
}
