// `groknet index SOURCE [--data DIR] [--model DIR] [--batch N] [--detector NAME | --no-detect] [--garments [--segment-model DIR]] [--queue redis://HOST:PORT]`
// Ingests a folder of images or a CSV/JSONL of listings into the catalog, or enqueues
// the listings for `groknet worker` processes when --queue is given. After a local
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
import { createProgress } from '../progress.ts';

const USAGE = `usage: groknet index SOURCE [--data DIR] [--model DIR] [--batch N] [--detector ${DETECTOR_NAMES.join('|')} | --no-detect] ${GARMENT_USAGE} [--queue redis://HOST:PORT]\n`;

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
  });
  if (positionals.length !== 1) {
    process.stderr.write(USAGE);
    return 2;
  }
  const detectorName = values.detector;
  if (!isDetectorName(detectorName)) throw new GroknetError('invalid_argument', `--detector must be one of ${DETECTOR_NAMES.join(', ')}, got '${detectorName}'`);
  const garments = garmentChoice(values);
  // Enqueueing reads no photo: the workers that ingest the jobs segment them.
  if (values.queue && garments) throw new GroknetError('invalid_argument', '--garments is for the processes that ingest: with --queue, give it to `groknet worker`');
  const source = path.resolve(positionals[0]!);
  if (values.queue) {
    const summary = await enqueueIngest(source, { redisUrl: values.queue, ...(values['queue-name'] ? { queueName: values['queue-name'] } : {}) });
    process.stdout.write(`${JSON.stringify({ total: summary.total, enqueued: summary.enqueued, duplicates: summary.duplicates, retried: summary.retried, failed: summary.failed })}\n`);
    return summary.failed.length > 0 ? 1 : 0;
  }
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
      ...(segmenter ? { segmenter } : {}),
    });
    progress?.finish();
    const links = values['no-detect'] || written.size === 0 ? undefined : await linkWritten([...written], catalog, analyzer, detectorName);
    const failed = [...summary.failed, ...(links?.failed ?? [])];
    process.stdout.write(
      `${JSON.stringify({
        total: summary.total,
        indexed: summary.indexed,
        unchanged: summary.unchanged,
        failed: summary.failed,
        ...(segmenter ? { segmented: summary.segmented } : {}),
        ...(links ? { seenTogether: links } : {}),
        seconds: Math.round(summary.elapsedMs / 100) / 10,
      })}\n`,
    );
    return failed.length > 0 ? 1 : 0;
  } finally {
    await catalog.close();
    await segmenter?.close();
    await analyzer.close();
  }
}

/** Detects products in the photos of the listings just written and records what is seen together. */
async function linkWritten(ids: string[], catalog: CatalogStore, analyzer: Analyzer, detectorName: DetectorName): Promise<LinkSummary> {
  const detector = await openDetector(detectorName);
  const progress = createProgress('seen-together', ids.length);
  try {
    return await linkStoredProducts(ids, { catalog, detector, analyzer, onProgress: (done) => progress.tick(done) });
  } finally {
    progress.finish();
    await detector.close();
  }
}
