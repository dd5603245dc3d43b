// `groknet index SOURCE|IMAGE... [--files-from LIST [-0]] [--data DIR] [--model DIR] [--batch N] [--detector NAME | --no-detect] [--garments [--segment-model DIR]] [--queue redis://HOST:PORT]`
// Ingests folders of images, CSV/JSONL files of listings and single images (one product
// each) into the catalog (src/ingest/ingest.ts: the publish pipeline with the local
// policy, skip and report), or enqueues the listings for `groknet worker` processes when
// --queue is given. The products in the photos of each batch written are detected and
// matched to the catalog, and products found in one photo are linked as seen together;
// at the end, the listings written before the last batch are looked at again. With
// --garments, each photo's garments (label, colour) are stored for the `garment` and
// `garment_colour` filters.
import path from 'node:path';
import { DEFAULT_DATA_DIR, openCatalog } from '../../catalog/index.ts';
import { DEFAULT_DETECTOR, DETECTOR_NAMES, isDetectorName, openDetector, type DetectorName } from '../../detect/index.ts';
import { GroknetError } from '../../errors.ts';
import { ingest, type IngestSummary } from '../../ingest/ingest.ts';
import { ModelAnalyzer } from '../../pipelines/analyze.ts';
import { enqueueIngest } from '../../queue/index.ts';
import { intOption, parse } from '../args.ts';
import { GARMENT_OPTIONS, GARMENT_USAGE, garmentChoice, openGarmentSegmenter, type GarmentChoice } from '../garment-options.ts';
import { watchInterrupts, type Interrupt } from '../interrupt.ts';
import { hasInputs, inputHelp, INPUT_OPTIONS, INPUT_USAGE, listInputs } from '../inputs.ts';
import { createProgress } from '../progress.ts';
import type { FsPath } from '../../util/file-names.ts';
import type { Progress } from '../../util/progress.ts';

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
  if (values.queue) return enqueue(source, values.queue, values['queue-name']);
  return indexLocally(source, {
    model: values.model,
    data: values.data,
    batchSize: intOption(values.batch, 'batch', 1, 256, 32),
    detector: values['no-detect'] ? undefined : detectorName,
    garments,
  });
}

/** `--queue`: one job per listing for `groknet worker` processes. */
async function enqueue(source: FsPath[], redisUrl: string, queueName: string | undefined): Promise<number> {
  const summary = await enqueueIngest(source, { redisUrl, ...(queueName ? { queueName } : {}) });
  process.stdout.write(`${JSON.stringify({ total: summary.total, enqueued: summary.enqueued, duplicates: summary.duplicates, retried: summary.retried, failed: summary.failed })}\n`);
  return summary.failed.length > 0 ? 1 : 0;
}

interface LocalSettings {
  model: string | undefined;
  data: string | undefined;
  batchSize: number;
  /** Undefined: --no-detect. */
  detector: DetectorName | undefined;
  garments: GarmentChoice | undefined;
}

/** Ingests into the catalog in this process, prints the summary line, answers the exit status. */
async function indexLocally(source: FsPath[], settings: LocalSettings): Promise<number> {
  // A first SIGINT/SIGTERM stops between batches (and between products while linking again), a second exits at once.
  const interrupt = watchInterrupts('index', 'no new batch starts, what is written stays written');
  const analyzer = await ModelAnalyzer.open(settings.model ? path.resolve(settings.model) : undefined);
  const segmenter = await openGarmentSegmenter(settings.garments).catch(async (error: unknown) => {
    await analyzer.close();
    throw error;
  });
  const catalog = await openCatalog(path.resolve(settings.data ?? DEFAULT_DATA_DIR), { embeddingDim: analyzer.embeddingDim });
  const progress = new Bars();
  try {
    const { detector } = settings;
    const summary = await ingest(source, {
      catalog,
      analyzer,
      batchSize: settings.batchSize,
      onProgress: (p) => progress.tick('index', p.done, p.total),
      onLinkProgress: (done, total) => progress.tick('seen-together', done, total),
      signal: interrupt.signal,
      // Opened when the first batch is written: a run with nothing new never converts it.
      ...(detector ? { detector: () => openDetector(detector) } : {}),
      ...(segmenter ? { segmenter } : {}),
    });
    progress.finish();
    process.stdout.write(`${JSON.stringify(summaryLine(summary, Boolean(segmenter), interrupt))}\n`);
    if (interrupt.received) {
      process.stderr.write(`groknet index: interrupted by ${interrupt.received}; to resume, run the same command again: listings already indexed are skipped as unchanged${relinkNote(summary)}\n`);
      return interrupt.exitCode;
    }
    return summary.failed.length > 0 || (summary.seenTogether?.failed.length ?? 0) > 0 ? 1 : 0;
  } finally {
    await catalog.close();
    await segmenter?.close();
    await analyzer.close();
    interrupt.dispose();
  }
}

/** A terminal bar per phase (indexing, then the second look at the links), started when the phase reports first. */
class Bars {
  private readonly bars = new Map<string, Progress>();

  tick(label: string, done: number, total: number): void {
    let bar = this.bars.get(label);
    if (!bar) this.bars.set(label, (bar = createProgress(label, total)));
    bar.tick(done);
  }

  finish(): void {
    for (const bar of this.bars.values()) bar.finish();
  }
}

/** The JSON line `groknet index` prints. */
function summaryLine(summary: IngestSummary, segmenting: boolean, interrupt: Interrupt) {
  return {
    total: summary.total,
    indexed: summary.indexed,
    unchanged: summary.unchanged,
    failed: summary.failed,
    ...(segmenting ? { segmented: summary.segmented } : {}),
    ...(summary.seenTogether ? { seenTogether: summary.seenTogether } : {}),
    ...(interrupt.received ? { interrupted: interrupt.received } : {}),
    seconds: Math.round(summary.elapsedMs / 100) / 10,
  };
}

/**
 * Every listing written is linked, also in a stopped run; only the second look, for products
 * written after a listing's photos were searched, is cut short, and a rerun skips those
 * listings as unchanged.
 */
function relinkNote(summary: IngestSummary): string {
  if (summary.notRelinked === 0) return '';
  return `; the photos of ${summary.notRelinked} listings written before the last batch were not searched again for products written after them (a rerun skips them as unchanged)`;
}
