// Child process for the crash test: ingests SOURCE into DATA and gets killed with SIGKILL
// at a random moment by the parent. Usage: ingest-child.ts DATA SOURCE BATCH DELAY_MS

import { ingest } from '../../src/ingest/ingest.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import { createColourAnalyzer } from './colour-analyzer.ts';

const [data, source, batch, delay] = process.argv.slice(2);
const analyzer = createColourAnalyzer({ delayMs: Number(delay) });
const catalog = await openCatalog(data!, { embeddingDim: analyzer.embeddingDim });
process.stdout.write('started\n');
const summary = await ingest(source!, {
  catalog,
  analyzer,
  batchSize: Number(batch),
  onProgress: (p) => process.stdout.write(`progress ${p.done}/${p.total}\n`),
});
process.stdout.write(`done ${JSON.stringify({ indexed: summary.indexed, unchanged: summary.unchanged })}\n`);
await catalog.close();
