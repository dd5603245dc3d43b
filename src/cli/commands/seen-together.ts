// `groknet seen-together --product ID [--data DIR] [--k N] [--json]`
// The products photographed together with one product, most photos first: the links
// `groknet index` and `POST /v1/products` record when they find catalog products in a
// listing's photos.
import { DEFAULT_SEEN_TOGETHER_LIMIT, openCatalog } from '../../catalog/index.ts';
import { existingCatalogDir } from '../existing-catalog.ts';
import type { CatalogStore } from '../../catalog/types.ts';
import { GroknetError } from '../../errors.ts';
import { intOption, parse } from '../args.ts';

export interface SeenTogetherLine {
  id: string;
  title: string;
  count: number;
  lastSeen: string;
}

export async function seenTogetherCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      product: { type: 'string' },
      data: { type: 'string' },
      k: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    false,
  );
  if (!values.product) throw new GroknetError('invalid_argument', 'usage: groknet seen-together --product ID [--data DIR] [--k N] [--json]');
  const k = intOption(values.k, 'k', 1, 1000, DEFAULT_SEEN_TOGETHER_LIMIT);
  const catalog = await openCatalog(await existingCatalogDir(values.data));
  try {
    const product = await catalog.getProduct(values.product);
    if (!product) throw new GroknetError('not_found', `product '${values.product}'`);
    const results = await seenTogether(catalog, product.id, k);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ productId: product.id, results })}\n`);
    } else if (results.length === 0) {
      process.stdout.write(`nothing seen together with ${product.id} (${product.title}) yet\n`);
    } else {
      const lines = results.map((r) => `  ${String(r.count).padStart(4)}  ${r.id}  ${r.title}`);
      process.stdout.write(`seen together with ${product.id} (${product.title}), photos first:\n${lines.join('\n')}\n`);
    }
    return 0;
  } finally {
    await catalog.close();
  }
}

async function seenTogether(catalog: CatalogStore, id: string, k: number): Promise<SeenTogetherLine[]> {
  const links = await catalog.seenTogether(id, { limit: k });
  const products = await Promise.all(links.map((link) => catalog.getProduct(link.id)));
  // A product deleted by another process between the two reads is left out.
  return links.flatMap((link, i) => {
    const other = products[i];
    return other ? [{ id: other.id, title: other.title, count: link.count, lastSeen: new Date(link.updated).toISOString() }] : [];
  });
}
