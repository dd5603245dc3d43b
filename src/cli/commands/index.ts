// `groknet index SOURCE|IMAGE... [--files-from LIST [-0]] [--data DIR] [--model DIR] [--batch N] [--detector NAME | --no-detect] [--garments [--segment-model DIR]] [--queue redis://HOST:PORT]`
// Ingests folders of images, CSV/JSONL files of listings and single images (one product
// each) into the catalog, or enqueues the listings for `groknet worker` processes when
// --queue is given. After a local
// ingest, the products in each newly written listing's photos are detected and matched
// to the catalog, and products found in one photo are linked as seen together. With
// --garments, each photo's garments (label, colour) are stored for the `garment` and
// `garment_colour` filters.
import path from 'node:path';
import { DEFAULT_DATA_DIR, ingest, openCatalog } from '../../catalog/index.ts';
import type { CatalogStore } from '../../catalog/types.ts';
import { DEFAULT_DETECTOR, DETECTOR_NAMES, isDetectorName, openDetector, type DetectorName } from '../../detect/index.ts';
import { GroknetError } from '../../errors.ts';
import type { Analyzer } from '../../model/types.ts';
import { ModelAnalyzer } from '../../pipelines/analyze.ts';
import { linkStoredProducts, type LinkSummary } from '../../pipelines/seen-together.ts';
import { enqueueIngest } from '../../queue/index.ts';
import { intOption, parse } from '../args.ts';
import { GARMENT_OPTIONS, GARMENT_USAGE, garmentChoice, openGarmentSegmenter } from '../garment-options.ts';
import { watchInterrupts } from '../interrupt.ts';
import { hasInputs, inputHelp, INPUT_OPTIONS, INPUT_USAGE, listInputs } from '../inputs.ts';
import { createProgress } from '../progress.ts';

const USAGE =
  `usage: groknet index SOURCE|IMAGE... ${INPUT_USAGE} [--data DIR] [--model DIR] [--batch N] [--detector ${DETECTOR_NAMES.join('|')} | --no-detect] ${GARMENT_USAGE} [--queue redis://HOST:PORT]\n` +
  '  A folder: each image at its top is a product, and so is each folder, at any depth, that holds images (id: the folder\'s name,\n' +
  '  or its path in the folder where two share a name; a NAME_Description.txt beside the images is the description).\n' +
  '  A CSV or JSONL file: one listing per row (id, title, description, price, currency, image|images, other columns as attributes).\n' +
  inputHelp('index', false);

export async function indexCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    data: { type: 'string' },
    model: { type: 'string' },
    batch: { type: 'string' },
    detector: { type: 'string', default: DEFAULT_DETECTOR },
    'no-detect': { type: 'boolean', default: false },
    queue: { type: 'string' },
    'queue-name': { type: 'string' },
    ...GARMENT_OPTIONS,
    ...INPUT_OPTIONS,
  });
  if (!hasInputs(positionals, values)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const detectorName = values.detector;
  if (!isDetectorName(detectorName)) throw new GroknetError('invalid_argument', `--detector must be one of ${DETECTOR_NAMES.join(', ')}, got '${detectorName}'`);
  const garments = garmentChoice(values);
  // Enqueueing reads no photo: the workers that ingest the jobs segment them.
  if (values.queue && garments) throw new GroknetError('invalid_argument', '--garments is for the processes that ingest: with --queue, give it to `groknet worker`');
  // Folders, CSV/JSONL files and image files, read together: an id given twice is a failure (see readSources).
  const source = (await listInputs(positionals, values)).map((input) => input.path);
  if (values.queue) {
    const summary = await enqueueIngest(source, { redisUrl: values.queue, ...(values['queue-name'] ? { queueName: values['queue-name'] } : {}) });
    process.stdout.write(`${JSON.stringify({ total: summary.total, enqueued: summary.enqueued, duplicates: summary.duplicates, retried: summary.retried, failed: summary.failed })}\n`);
    return summary.failed.length > 0 ? 1 : 0;
  }
  // A first SIGINT/SIGTERM stops between batches (and between products while linking), a second exits at once.
  const interrupt = watchInterrupts('index', 'no new batch starts, what is written stays written');
  const analyzer = await ModelAnalyzer.open(values.model ? path.resolve(values.model) : undefined);
  const segmenter = await openGarmentSegmenter(garments).catch(async (error: unknown) => {
    await analyzer.close();
    throw error;
  });
  const catalog = await openCatalog(path.resolve(values.data ?? DEFAULT_DATA_DIR), { embeddingDim: analyzer.embeddingDim });
  let progress: ReturnType<typeof createProgress> | undefined;
  try {
    const written = new Set<string>();
    const summary = await ingest(source, {
      catalog,
      analyzer,
      batchSize: intOption(values.batch, 'batch', 1, 256, 32),
      onProgress: (p) => {
        progress ??= createProgress('index', p.total);
        progress.tick(p.done);
      },
      onWritten: (ids) => ids.forEach((id) => written.add(id)),
      signal: interrupt.signal,
      ...(segmenter ? { segmenter } : {}),
    });
    progress?.finish();
    const links = values['no-detect'] || written.size === 0 || interrupt.received ? undefined : await linkWritten([...written], catalog, analyzer, detectorName, interrupt.signal);
    const failed = [...summary.failed, ...(links?.failed ?? [])];
    process.stdout.write(
      `${JSON.stringify({
        total: summary.total,
        indexed: summary.indexed,
        unchanged: summary.unchanged,
        failed: summary.failed,
        ...(segmenter ? { segmented: summary.segmented } : {}),
        ...(links ? { seenTogether: links } : {}),
        ...(interrupt.received ? { interrupted: interrupt.received } : {}),
        seconds: Math.round(summary.elapsedMs / 100) / 10,
      })}\n`,
    );
    if (interrupt.received) {
      // Links are looked for after the ingest, only for the listings it wrote: a rerun finds those unchanged and does not link them.
      const unlinked = values['no-detect'] ? 0 : written.size - (links?.products ?? 0);
      const note = unlinked > 0 ? `; the photos of ${unlinked} listings written in this run were not searched for products seen together` : '';
      process.stderr.write(`groknet index: interrupted by ${interrupt.received}; to resume, run the same command again: listings already indexed are skipped as unchanged${note}\n`);
      return interrupt.exitCode;
    }
    return failed.length > 0 ? 1 : 0;
  } finally {
    await catalog.close();
    await segmenter?.close();
    await analyzer.close();
    interrupt.dispose();
  }
}

/** Detects products in the photos of the listings just written and records what is seen together. */
async function linkWritten(ids: string[], catalog: CatalogStore, analyzer: Analyzer, detectorName: DetectorName, signal: AbortSignal): Promise<LinkSummary> {
  const detector = await openDetector(detectorName);
  const progress = createProgress('seen-together', ids.length);
  try {
    return await linkStoredProducts(ids, { catalog, detector, analyzer, signal, onProgress: (done) => progress.tick(done) });
  } finally {
    progress.finish();
    await detector.close();
  }
}
