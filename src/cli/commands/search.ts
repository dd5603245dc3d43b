// `groknet search [--data DIR] (--image FILE | --text "..." | --product ID) [--filter key=value]... [--k N] [--json]`
// Prints one JSON object: {query, results: [{id, score, match, why, title, image}], facets}.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { openCatalog } from '../../catalog/index.ts';
import { existingCatalogDir } from '../existing-catalog.ts';
import { GroknetError } from '../../errors.ts';
import { ModelAnalyzer } from '../../pipelines/analyze.ts';
import { searchByImage, searchText, searchVector, type Filters, type SearchResponse } from '../../search/index.ts';
import { intOption, parse } from '../args.ts';

/** `key=value` -> equality, `key<=n` / `key>=n` -> ranges; several values of one key -> any of them. */
export function parseFilters(items: readonly string[]): Filters {
  const filters: Filters = {};
  for (const item of items) {
    const range = /^([a-z_][a-z0-9_]*)(<=|>=)(-?\d+(?:\.\d+)?)$/i.exec(item);
    if (range) {
      const [, key, op, value] = range;
      const current = (filters[key!] ?? {}) as { gte?: number; lte?: number };
      filters[key!] = { ...current, [op === '<=' ? 'lte' : 'gte']: Number(value) };
      continue;
    }
    const eq = /^([a-z_][a-z0-9_]*)=(.+)$/i.exec(item);
    if (!eq) throw new GroknetError('invalid_argument', `--filter '${item}' must look like key=value, key<=number or key>=number`);
    const [, key, raw] = eq;
    const value: string | number = key === 'price' && /^-?\d+(\.\d+)?$/.test(raw!) ? Number(raw) : raw!;
    const previous = filters[key!];
    if (previous && 'eq' in previous) filters[key!] = { in: [String(previous.eq), String(value)] };
    else if (previous && 'in' in previous) previous.in.push(String(value));
    else filters[key!] = { eq: value };
  }
  return filters;
}

export async function searchCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      data: { type: 'string' },
      model: { type: 'string' },
      image: { type: 'string' },
      text: { type: 'string' },
      product: { type: 'string' },
      filter: { type: 'string', multiple: true },
      k: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    false,
  );
  const modes = [values.image, values.text, values.product].filter((v) => v !== undefined).length;
  if (modes !== 1) throw new GroknetError('invalid_argument', 'give exactly one of --image FILE, --text "...", --product ID');
  const k = intOption(values.k, 'k', 1, 1000, 10);
  const filters = parseFilters(values.filter ?? []);
  const catalog = await openCatalog(await existingCatalogDir(values.data));
  let analyzer: ModelAnalyzer | undefined;
  try {
    let response: SearchResponse;
    if (values.text !== undefined) {
      response = await searchText(catalog, values.text, { limit: k, filters });
    } else {
      analyzer = await ModelAnalyzer.open(values.model ? path.resolve(values.model) : undefined);
      if (values.image !== undefined) {
        const found = await searchByImage(catalog, analyzer, await readFile(values.image).catch(() => {
          throw new GroknetError('file_not_found', path.basename(values.image!));
        }), { limit: k, filters });
        const { analysis: _analysis, ...rest } = found;
        response = rest;
      } else {
        const product = await catalog.getProduct(values.product!, { withEmbeddings: true });
        const embedding = product?.images[0]?.embedding;
        if (!product || !embedding) throw new GroknetError('not_found', `product '${values.product}'`);
        response = await searchVector(catalog, embedding, { limit: k, filters, exactMatchThreshold: analyzer.exactMatchThreshold, excludeIds: [product.id] });
      }
    }
    // Results name their image by its path; the index is what the API's photo URLs use.
    const printed = { ...response, results: response.results.map(({ imageIndex: _index, ...result }) => result) };
    process.stdout.write(values.json ? `${JSON.stringify(printed)}\n` : `${JSON.stringify(printed, null, 2)}\n`);
    return 0;
  } finally {
    await catalog.close();
    await analyzer?.close();
  }
}
