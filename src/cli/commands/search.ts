// `groknet search [--data DIR] (WORDS... | --text "..." | --image FILE | --product ID | --filter key=value) [--filter key=value]... [--k N] [--json]`
// Bare words are the text query (`groknet search red pepper`), as a user types them.
// Prints one JSON object: {query, results: [{id, score, match, why, title, image}], facets}.
// The query is asked of src/search's one entry (searchCatalog), as the API asks it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { openCatalog } from '../../catalog/index.ts';
import { existingCatalogDir } from '../existing-catalog.ts';
import { GroknetError } from '../../errors.ts';
import { ModelAnalyzer } from '../../pipelines/analyze.ts';
import { searchCatalog, searchTarget, sureLabels, type SearchSubject } from '../../search/search.ts';
import type { Filters } from '../../search/types.ts';
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
  const { values, positionals } = parse(
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
  );
  const words = positionals.length > 0 ? positionals.join(' ') : undefined;
  if (words !== undefined && values.text !== undefined) throw new GroknetError('invalid_argument', `give the words once: either --text "..." or bare words, not both ('${words}')`);
  // Filters alone browse by them (`--filter category=Sofas`), as '' with filters does in the API.
  const filtersOnly = values.image === undefined && values.product === undefined && (values.filter?.length ?? 0) > 0;
  const text = values.text ?? words ?? (filtersOnly ? '' : undefined);
  const modes = [values.image, text, values.product].filter((v) => v !== undefined).length;
  if (modes !== 1) throw new GroknetError('invalid_argument', 'give exactly one of: words (or --text "..."), --image FILE, --product ID (or only --filter key=value to browse)');
  const k = intOption(values.k, 'k', 1, 1000, 10);
  const filters = parseFilters(values.filter ?? []);
  const catalog = await openCatalog(await existingCatalogDir(values.data));
  let analyzer: ModelAnalyzer | undefined;
  try {
    let subject: SearchSubject;
    if (text !== undefined) {
      subject = { text }; // words need no model: it is not loaded for them
    } else {
      analyzer = await ModelAnalyzer.open(values.model ? path.resolve(values.model) : undefined);
      subject = values.image !== undefined ? await photoEmbedding(analyzer, values.image) : { productId: values.product! };
    }
    const response = await searchCatalog(searchTarget(catalog, analyzer), { ...subject, filters, limit: k });
    // Results name their image by its path; the index is what the API's photo URLs use.
    const printed = { ...response, results: response.results.map(({ imageIndex: _index, ...result }) => result) };
    process.stdout.write(values.json ? `${JSON.stringify(printed)}\n` : `${JSON.stringify(printed, null, 2)}\n`);
    return 0;
  } finally {
    await catalog.close();
    await analyzer?.close();
  }
}

/** The model's embedding of the photo in `file`, with its sure labels. */
async function photoEmbedding(analyzer: ModelAnalyzer, file: string): Promise<{ embedding: Float32Array; labels: Record<string, string> }> {
  const photo = await readFile(file).catch(() => {
    throw new GroknetError('file_not_found', path.basename(file));
  });
  const [analysis] = await analyzer.analyzeBuffers([photo]);
  if (!analysis || analysis instanceof GroknetError) throw analysis ?? new GroknetError('internal', 'the analyzer returned nothing');
  return { embedding: analysis.embedding, labels: sureLabels(analysis) };
}
