// A queue worker for the crash harness: the same code as `groknet worker` (startWorker over
// a ModelAnalyzer and the catalog), with a short lock so a killed worker's job is retried in
// seconds rather than `groknet worker`'s 30 s, and an optional delay per analysis that widens
// the window in which a SIGKILL lands mid-job.
// Usage: worker-child.ts REDIS_URL QUEUE DATA MODEL_DIR DELAY_MS LOCK_MS
// Prints "ready", "active <id>", "completed <id>", "failed <id> <reason>"; exits on SIGTERM.
import { openCatalog } from '../../../src/catalog/open.ts';
import type { Analyzer } from '../../../src/model/types.ts';
import { ModelAnalyzer } from '../../../src/pipelines/analyze.ts';
import { startWorker } from '../../../src/queue/worker.ts';

const [redisUrl, queueName, data, modelDir, delay, lock] = process.argv.slice(2);
const model = await ModelAnalyzer.open(modelDir!, { batchSize: 8 });
const delayMs = Number(delay);
const analyzer: Analyzer = {
  modelVersion: model.modelVersion,
  exactMatchThreshold: model.exactMatchThreshold,
  embeddingDim: model.embeddingDim,
  analyzeBuffers: async (images) => {
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    return model.analyzeBuffers(images);
  },
  close: () => model.close(),
};
const catalog = await openCatalog(data!, { embeddingDim: analyzer.embeddingDim });
const { worker, close } = await startWorker({
  redisUrl: redisUrl!,
  queueName: queueName!,
  catalog,
  analyzer,
  concurrency: 2,
  lockDuration: Number(lock),
  stalledInterval: Math.max(500, Math.floor(Number(lock) / 2)),
  onError: (error) => process.stderr.write(`worker error: ${error.message}\n`),
});
worker.on('active', (job) => process.stdout.write(`active ${job.id}\n`));
worker.on('completed', (job) => process.stdout.write(`completed ${job.id}\n`));
worker.on('failed', (job, error) => process.stdout.write(`failed ${job?.id} ${error.message.replace(/\s+/g, ' ').slice(0, 200)}\n`));
process.on('SIGTERM', () => {
  void close()
    .then(() => catalog.close())
    .then(() => analyzer.close())
    .then(() => process.exit(0));
});
process.stdout.write('ready\n');
