// Near-duplicate listings: products whose images are at least `threshold` cosine-similar,
// grouped transitively (A~B and B~C puts A, B, C in one group). Each image asks LanceDB for
// its nearest neighbours, so this uses the vector index on big catalogs.

import { GroknetError } from '../errors.ts';
import type { CatalogStore } from '../catalog/types.ts';
import { COLUMNS } from '../catalog/schema.ts';
import { toFloat32 } from '../catalog/rows.ts';

export interface DuplicateOptions {
  /** Minimum cosine similarity, 0-1. */
  threshold: number;
  /** Neighbours examined per image (default 10). */
  neighbours?: number;
  /** At most this many groups, largest first (default 100). */
  limit?: number;
}

export interface DuplicateGroup {
  products: Array<{ id: string; title: string; image: string }>;
  /** The pairs that tied the group together, most similar first. */
  pairs: Array<{ a: string; b: string; score: number }>;
  maxScore: number;
}

export interface DuplicateReport {
  threshold: number;
  groups: DuplicateGroup[];
}

class UnionFind {
  private parent = new Map<string, string>();
  find(x: string): string {
    let root = x;
    while (this.parent.has(root) && this.parent.get(root) !== root) root = this.parent.get(root)!;
    this.parent.set(x, root);
    return root;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  }
}

export async function findDuplicates(catalog: CatalogStore, options: DuplicateOptions): Promise<DuplicateReport> {
  const { threshold } = options;
  if (!Number.isFinite(threshold) || threshold <= 0 || threshold > 1) {
    throw new GroknetError('query_invalid', 'threshold must be in (0, 1]');
  }
  const neighbours = options.neighbours ?? 10;
  const limit = options.limit ?? 100;
  if (!Number.isInteger(neighbours) || neighbours < 1 || neighbours > 100 || !Number.isInteger(limit) || limit < 1) {
    throw new GroknetError('query_invalid', 'neighbours must be 1-100 and limit positive');
  }
  const table = await catalog.table();
  if (!table) return { threshold, groups: [] };

  const info = new Map<string, { title: string; image: string }>();
  const pairs = new Map<string, { a: string; b: string; score: number }>();
  const sets = new UnionFind();
  const columns = [COLUMNS.productId, COLUMNS.title, COLUMNS.imagePath];

  for await (const batch of table.query().select([...columns, COLUMNS.vector])) {
    for (const row of batch.toArray() as Array<Record<string, unknown>>) {
      const id = String(row[COLUMNS.productId]);
      if (!info.has(id)) info.set(id, { title: String(row[COLUMNS.title]), image: String(row[COLUMNS.imagePath]) });
      const hits = await table
        .vectorSearch(Array.from(toFloat32(row[COLUMNS.vector])))
        .distanceType('cosine')
        .distanceRange(undefined, 1 - threshold + 1e-6)
        .select([COLUMNS.productId, '_distance'])
        .limit(neighbours + 1)
        .toArray();
      for (const hit of hits) {
        const other = String(hit[COLUMNS.productId]);
        const score = 1 - Number(hit._distance);
        if (other === id || score < threshold) continue;
        const [a, b] = id < other ? [id, other] : [other, id];
        const key = `${a}\u0000${b}`;
        if ((pairs.get(key)?.score ?? -1) < score) pairs.set(key, { a, b, score: Math.round(score * 10_000) / 10_000 });
        sets.union(a, b);
      }
    }
  }

  const groups = new Map<string, DuplicateGroup>();
  for (const pair of pairs.values()) {
    const root = sets.find(pair.a);
    const group = groups.get(root) ?? { products: [], pairs: [], maxScore: 0 };
    group.pairs.push(pair);
    group.maxScore = Math.max(group.maxScore, pair.score);
    groups.set(root, group);
  }
  for (const group of groups.values()) {
    const ids = [...new Set(group.pairs.flatMap((p) => [p.a, p.b]))].sort();
    group.products = ids.map((id) => ({ id, ...info.get(id)! }));
    group.pairs.sort((x, y) => y.score - x.score);
  }
  return {
    threshold,
    groups: [...groups.values()]
      .sort((a, b) => b.products.length - a.products.length || b.maxScore - a.maxScore)
      .slice(0, limit),
  };
}
