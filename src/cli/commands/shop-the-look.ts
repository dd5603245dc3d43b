// `groknet shop-the-look FILE [--data DIR] [--model DIR] [--segment-model DIR] [--k N]
//   [--max-garments N] [--min-share S] [--no-colour] [--json]`
// Shop the look from the command line: the photo's clothing is segmented, and each
// garment (largest first) is searched for in the catalog by its box, only among products
// of its colour unless --no-colour. The same steps as POST /v1/shop-the-look
// (src/pipelines/shop-the-look-catalog.ts); --json prints its answer's shape, with each
// result's image the catalog's path for it instead of a URL. The photo, the options and
// the catalog's presence are checked before any model loads.
import path from 'node:path';
import { DEFAULT_DATA_DIR, openCatalog } from '../../catalog/index.ts';
import { assertCompatible } from '../../catalog/compatible.ts';
import type { CatalogStore } from '../../catalog/types.ts';
import { GroknetError, toGroknetError } from '../../errors.ts';
import { decodeImage, readLimitedFile } from '../../image/decode.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../image/limits.ts';
import type { Analyzer } from '../../model/types.ts';
import { ModelAnalyzer } from '../../pipelines/analyze.ts';
import { DEFAULT_MIN_GARMENT_SHARE } from '../../pipelines/garments.ts';
import { Segmenter } from '../../pipelines/segment.ts';
import { catalogColourField, lookJson, shopTheLookInCatalog } from '../../pipelines/shop-the-look-catalog.ts';
import { DEFAULT_LOOK_K, DEFAULT_MAX_GARMENTS, findGarments, MAX_GARMENTS_LIMIT, MAX_LOOK_K } from '../../pipelines/shop-the-look.ts';
import type { SearchResult } from '../../search/types.ts';
import { searchCatalog, searchTarget } from '../../search/search.ts';
import { hitShape } from '../../server/views.ts';
import { intOption, numberOption, parse } from '../args.ts';
import { reportPhotoError } from './segment.ts';
import { existingCatalogDir } from '../existing-catalog.ts';

const USAGE =
  `usage: groknet shop-the-look FILE [--data DIR] [--model DIR] [--segment-model DIR] [--k ${DEFAULT_LOOK_K}] ` +
  `[--max-garments ${DEFAULT_MAX_GARMENTS}] [--min-share ${DEFAULT_MIN_GARMENT_SHARE}] [--no-colour] [--json]\n`;

type Look = ReturnType<typeof lookJson<HitJson>>;
type HitJson = ReturnType<typeof hitShape>;

export async function shopTheLookCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    data: { type: 'string' },
    model: { type: 'string' },
    'segment-model': { type: 'string' },
    k: { type: 'string' },
    'max-garments': { type: 'string' },
    'min-share': { type: 'string' },
    'no-colour': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length !== 1) {
    process.stderr.write(USAGE);
    return 2;
  }
  const [file] = positionals as [string];
  const k = intOption(values.k, 'k', 1, MAX_LOOK_K, DEFAULT_LOOK_K);
  const maxGarments = intOption(values['max-garments'], 'max-garments', 1, MAX_GARMENTS_LIMIT, DEFAULT_MAX_GARMENTS);
  const minShare = numberOption(values['min-share'], 'min-share', 0, 1, DEFAULT_MIN_GARMENT_SHARE);
  const matchColour = !values['no-colour'];
  const dataDir = path.resolve(values.data ?? DEFAULT_DATA_DIR);

  let photo: Buffer;
  try {
    photo = await readLimitedFile(file, DEFAULT_IMAGE_LIMITS.maxInputBytes);
    await decodeImage(photo, DEFAULT_IMAGE_LIMITS);
  } catch (error) {
    return reportPhotoError(file, toGroknetError(error), values.json);
  }
  await existingCatalogDir(values.data);

  const { analyzer, segmenter, catalog } = await openAll(values.model, values['segment-model'], dataDir);
  try {
    // Embeddings of another model than the catalog's cannot be compared with it.
    await assertCompatible(catalog, analyzer);
    const target = searchTarget(catalog, analyzer);
    const look = await shopTheLookInCatalog(
      photo,
      {
        garments: (bytes, bounds) => findGarments(bytes, { segmenter, minShare, limits: DEFAULT_IMAGE_LIMITS, ...bounds }),
        embed: embedder(analyzer),
        search: async (embedding, filters, limit) => (await searchCatalog(target, { embedding, filters, limit })).results,
        colourField: () => catalogColourField(catalog, 'colour matching (turn it off with --no-colour)'),
        limits: DEFAULT_IMAGE_LIMITS,
      },
      { k, maxGarments, matchColour },
    );
    const body = lookJson(look, hitJson);
    process.stdout.write(values.json ? `${JSON.stringify(body)}\n` : textLines(file, body));
    return 0;
  } finally {
    await Promise.all([catalog.close(), analyzer.close(), segmenter.close()]);
  }
}

/** The analyzer, the segmenter and the catalog; whatever opened is closed again when one of them fails. */
async function openAll(modelDir: string | undefined, segmentDir: string | undefined, dataDir: string): Promise<{ analyzer: ModelAnalyzer; segmenter: Segmenter; catalog: CatalogStore }> {
  const [analyzer, segmenter] = await Promise.allSettled([
    ModelAnalyzer.open(modelDir ? path.resolve(modelDir) : undefined),
    Segmenter.open(segmentDir ? path.resolve(segmentDir) : undefined),
  ]);
  const opened = [analyzer, segmenter].flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const closeOpened = () => Promise.all(opened.map((o) => o.close().catch(() => undefined)));
  if (analyzer.status === 'rejected' || segmenter.status === 'rejected') {
    await closeOpened();
    throw analyzer.status === 'rejected' ? analyzer.reason : (segmenter as PromiseRejectedResult).reason;
  }
  try {
    const catalog = await openCatalog(dataDir);
    return { analyzer: analyzer.value, segmenter: segmenter.value, catalog };
  } catch (error) {
    await closeOpened();
    throw error;
  }
}

/** The analyzer's embedding of one image (a garment's crop), one run at a time: the runtime already uses every core. */
function embedder(analyzer: Analyzer): (image: Buffer) => Promise<Float32Array> {
  let turn: Promise<unknown> = Promise.resolve();
  return (image) => {
    const run = turn.then(async () => {
      const [result] = await analyzer.analyzeBuffers([image]);
      if (!result || result instanceof GroknetError) throw result ?? new GroknetError('internal', 'the analyzer returned nothing');
      return result.embedding;
    });
    turn = run.catch(() => undefined);
    return run;
  };
}

/** A result in the API's shape, its image the catalog's path rather than a URL of a server. */
function hitJson(result: SearchResult): HitJson {
  return hitShape(result, (imagePath) => imagePath);
}

function textLines(file: string, look: Look): string {
  const count = `${look.garments.length} garment${look.garments.length === 1 ? '' : 's'}`;
  const lines = [`${file}  ${look.width}x${look.height}  (${count}${look.matchColour ? ', each searched among products of its colour' : ''})`];
  for (const g of look.garments) {
    const [x, y, w, h] = g.box;
    const filters = Object.entries(g.filters).map(([field, value]) => `${field}=${value}`);
    lines.push(`  ${g.label.padEnd(12)} ${(g.colour ?? '-').padEnd(11)} ${`${(g.areaShare * 100).toFixed(1)}%`.padStart(6)}  ${x},${y} ${w}x${h}${filters.length > 0 ? `  [${filters.join(', ')}]` : ''}`);
    if (g.results.length === 0) lines.push('      no results');
    for (const r of g.results) lines.push(`      ${r.score.toFixed(4)}  ${r.match.padEnd(7)}  ${r.id}  ${r.title}`);
  }
  if (look.garments.length === 0) lines.push('  no garments found');
  return `${lines.join('\n')}\n`;
}
