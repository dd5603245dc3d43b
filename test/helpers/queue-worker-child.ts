// A queue worker in its own process, for the multi-worker and killed-worker tests.
// Usage: queue-worker-child.ts REDIS_URL QUEUE DATA DELAY_MS LOCK_MS
// Prints "ready", "active <jobId>" and "completed <jobId>" lines; exits cleanly on SIGTERM.

import { openCatalog } from '../../src/catalog/open.ts';
import { startWorker } from '../../src/queue/worker.ts';
import { createColourAnalyzer } from './colour-analyzer.ts';

const [redisUrl, queueName, data, delay, lock] = process.argv.slice(2);
const analyzer = createColourAnalyzer({ delayMs: Number(delay) });
const catalog = await openCatalog(data!, { embeddingDim: analyzer.embeddingDim });
const { worker, close } = await startWorker({
  redisUrl: redisUrl!,
  queueName: queueName!,
  catalog,
  analyzer,
  concurrency: 1,
  lockDuration: Number(lock),
  stalledInterval: 500,
});
worker.on('active', (job) => process.stdout.write(`active ${job.id}\n`));
worker.on('completed', (job) => process.stdout.write(`completed ${job.id}\n`));
process.on('SIGTERM', () => {
  void close().then(() => catalog.close()).then(() => process.exit(0));
});
process.stdout.write('ready\n');
