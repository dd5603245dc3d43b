// `groknet worker --queue redis://HOST:PORT [--data DIR] [--model DIR] [--concurrency N]`
// Processes ingestion jobs from the BullMQ queue into the catalog until SIGINT/SIGTERM.
import path from 'node:path';
import { DEFAULT_DATA_DIR, openCatalog } from '../../catalog/index.ts';
import { GroknetError } from '../../errors.ts';
import { ModelAnalyzer } from '../../pipelines/analyze.ts';
import { startWorker } from '../../queue/index.ts';
import { intOption, parse } from '../args.ts';

export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { queue: { type: 'string' }, 'queue-name': { type: 'string' }, data: { type: 'string' }, model: { type: 'string' }, concurrency: { type: 'string' } }, false);
  if (!values.queue) throw new GroknetError('invalid_argument', '--queue redis://HOST:PORT is required');
  const analyzer = await ModelAnalyzer.open(values.model ? path.resolve(values.model) : undefined);
  const catalog = await openCatalog(path.resolve(values.data ?? DEFAULT_DATA_DIR), { embeddingDim: analyzer.embeddingDim });
  const worker = await startWorker({
    redisUrl: values.queue,
    catalog,
    analyzer,
    concurrency: intOption(values.concurrency, 'concurrency', 1, 64, 2),
    ...(values['queue-name'] ? { queueName: values['queue-name'] } : {}),
  });
  process.stderr.write(`groknet worker: processing ${values.queue}; stop with Ctrl-C\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  // Finish the job in hand, then close; an unfinished job is retried by another worker.
  await worker.close();
  await catalog.close();
  await analyzer.close();
  return 0;
}
