// `groknet duplicates [--data DIR] [--threshold 0.95] [--limit N]`: near-duplicate listing groups.
import { openCatalog } from '../../catalog/index.ts';
import { existingCatalogDir } from '../existing-catalog.ts';
import { GroknetError } from '../../errors.ts';
import { findDuplicates } from '../../search/index.ts';
import { intOption, parse } from '../args.ts';

export async function duplicatesCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { data: { type: 'string' }, threshold: { type: 'string' }, limit: { type: 'string' } }, false);
  const threshold = values.threshold === undefined ? 0.95 : Number(values.threshold);
  if (!Number.isFinite(threshold) || threshold <= 0 || threshold > 1) throw new GroknetError('invalid_argument', '--threshold must be a number in (0, 1]');
  const catalog = await openCatalog(await existingCatalogDir(values.data));
  try {
    const report = await findDuplicates(catalog, { threshold, limit: intOption(values.limit, 'limit', 1, 100000, 100) });
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  } finally {
    await catalog.close();
  }
}
