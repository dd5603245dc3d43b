// `groknet reindex [--data DIR] [--model DIR] [--force]`: re-analyse the catalog's images with
// the current model into a new table, then swap; readers keep working throughout.
import path from 'node:path';
import { openCatalog } from '../../catalog/index.ts';
import { existingCatalogDir } from '../existing-catalog.ts';
import { ModelAnalyzer } from '../../pipelines/analyze.ts';
import { parse } from '../args.ts';
import { createProgress } from '../progress.ts';

export async function reindexCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { data: { type: 'string' }, model: { type: 'string' }, force: { type: 'boolean', default: false } }, false);
  const analyzer = await ModelAnalyzer.open(values.model ? path.resolve(values.model) : undefined);
  const catalog = await openCatalog(await existingCatalogDir(values.data));
  let progress: ReturnType<typeof createProgress> | undefined;
  try {
    const summary = await catalog.reindex(analyzer, {
      force: values.force,
      onProgress: (done: number, total: number) => {
        progress ??= createProgress('reindex', total);
        progress.tick(done);
      },
    });
    progress?.finish();
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return summary.failed.length > 0 ? 1 : 0;
  } finally {
    await catalog.close();
    await analyzer.close();
  }
}
