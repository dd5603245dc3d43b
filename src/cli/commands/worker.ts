// `groknet worker --queue redis://HOST:PORT [--data DIR] [--model DIR] [--batch N] [--concurrency N] [--detector NAME | --no-detect] [--garments [--segment-model DIR]]`
// Processes ingestion jobs from the BullMQ queue into the catalog until SIGINT/SIGTERM,
// up to --batch listings per analyzer run and catalog commit. Like `groknet index`, it
// then detects the products in the photos of the listings it wrote and links those seen
// together, unless --no-detect, and with --garments stores each photo's garments.
import path from 'node:path';
import { DEFAULT_DATA_DIR, openCatalog } from '../../catalog/index.ts';
import { DEFAULT_DETECTOR, DETECTOR_NAMES, isDetectorName, openDetector, type Detector } from '../../detect/index.ts';
import { GroknetError } from '../../errors.ts';
import { ModelAnalyzer } from '../../pipelines/analyze.ts';
import type { Segmenter } from '../../pipelines/segment.ts';
import { startWorker } from '../../queue/index.ts';
import { DEFAULT_MAX_BATCH } from '../../queue/ingest-batcher.ts';
import { intOption, parse } from '../args.ts';
import { GARMENT_OPTIONS, garmentChoice, openGarmentSegmenter } from '../garment-options.ts';
import { watchInterrupts } from '../interrupt.ts';

export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      queue: { type: 'string' },
      'queue-name': { type: 'string' },
      data: { type: 'string' },
      model: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      detector: { type: 'string', default: DEFAULT_DETECTOR },
      'no-detect': { type: 'boolean', default: false },
      ...GARMENT_OPTIONS,
    },
    false,
  );
  if (!values.queue) throw new GroknetError('invalid_argument', '--queue redis://HOST:PORT is required');
  const detectorName = values.detector;
  if (!isDetectorName(detectorName)) throw new GroknetError('invalid_argument', `--detector must be one of ${DETECTOR_NAMES.join(', ')}, got '${detectorName}'`);
  const batchSize = intOption(values.batch, 'batch', 1, 256, DEFAULT_MAX_BATCH);
  // As many jobs in hand as a batch holds, or batches would never fill.
  const concurrency = intOption(values.concurrency, 'concurrency', 1, 256, batchSize);
  const garments = garmentChoice(values);
  const analyzer = await ModelAnalyzer.open(values.model ? path.resolve(values.model) : undefined);
  let catalog: Awaited<ReturnType<typeof openCatalog>> | undefined;
  let detector: Detector | undefined;
  let segmenter: Segmenter | undefined;
  try {
    // Before the catalog and the queue: a bad model fails the start, not every job.
    segmenter = await openGarmentSegmenter(garments);
    catalog = await openCatalog(path.resolve(values.data ?? DEFAULT_DATA_DIR), { embeddingDim: analyzer.embeddingDim });
    if (!values['no-detect']) detector = await openDetector(detectorName);
    const worker = await startWorker({
      redisUrl: values.queue,
      catalog,
      analyzer,
      batchSize,
      concurrency,
      ...(detector ? { detector } : {}),
      ...(segmenter ? { segmenter } : {}),
      ...(values['queue-name'] ? { queueName: values['queue-name'] } : {}),
    });
    process.stderr.write(`groknet worker: processing ${values.queue}${detector ? `, seen together with ${detector.name}` : ''}${segmenter ? ', garments stored' : ''}; stop with Ctrl-C\n`);
    // The first SIGINT/SIGTERM finishes the jobs in hand; a second exits at once (see cli/interrupt.ts).
    const interrupt = watchInterrupts('worker', 'finishing the jobs in hand');
    await new Promise<void>((resolve) => interrupt.signal.addEventListener('abort', () => resolve(), { once: true }));
    // Finish the jobs in hand (their batch and its links), then close; an unfinished job is retried by another worker.
    await worker.close();
    interrupt.dispose();
    process.stderr.write(`groknet worker: stopped ${JSON.stringify(worker.stats)}\n`);
    return 0;
  } finally {
    await detector?.close();
    await segmenter?.close();
    await catalog?.close();
    await analyzer.close();
  }
}
