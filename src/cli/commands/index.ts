// `groknet index SOURCE [--data DIR] [--model DIR] [--batch N] [--queue redis://HOST:PORT]`
// Ingests a folder of images or a CSV/JSONL of listings into the catalog, or enqueues
// the listings for `groknet worker` processes when --queue is given.
import path from 'node:path';
import { DEFAULT_DATA_DIR, ingest, openCatalog } from '../../catalog/index.ts';
import { ModelAnalyzer } from '../../pipelines/analyze.ts';
import { enqueueIngest } from '../../queue/index.ts';
import { intOption, parse } from '../args.ts';
import { createProgress } from '../progress.ts';

export async function indexCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    data: { type: 'string' },
    model: { type: 'string' },
    batch: { type: 'string' },
    queue: { type: 'string' },
    'queue-name': { type: 'string' },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: groknet index SOURCE [--data DIR] [--model DIR] [--batch N] [--queue redis://HOST:PORT]\n');
    return 2;
  }
  const source = path.resolve(positionals[0]!);
  if (values.queue) {
    const summary = await enqueueIngest(source, { redisUrl: values.queue, ...(values['queue-name'] ? { queueName: values['queue-name'] } : {}) });
    process.stdout.write(`${JSON.stringify({ total: summary.total, enqueued: summary.enqueued, duplicates: summary.duplicates, retried: summary.retried, failed: summary.failed })}\n`);
    return summary.failed.length > 0 ? 1 : 0;
  }
  const analyzer = await ModelAnalyzer.open(values.model ? path.resolve(values.model) : undefined);
  const catalog = await openCatalog(path.resolve(values.data ?? DEFAULT_DATA_DIR), { embeddingDim: analyzer.embeddingDim });
  let progress: ReturnType<typeof createProgress> | undefined;
  try {
    const summary = await ingest(source, {
      catalog,
      analyzer,
      batchSize: intOption(values.batch, 'batch', 1, 256, 32),
      onProgress: (p) => {
        progress ??= createProgress('index', p.total);
        progress.tick(p.done);
      },
    });
    progress?.finish();
    process.stdout.write(`${JSON.stringify({ total: summary.total, indexed: summary.indexed, unchanged: summary.unchanged, failed: summary.failed, seconds: Math.round(summary.elapsedMs / 100) / 10 })}\n`);
    return summary.failed.length > 0 ? 1 : 0;
  } finally {
    await catalog.close();
    await analyzer.close();
  }
}
