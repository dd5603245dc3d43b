// The end of a publishing run: `groknet index` once its listings are done (or it was
// stopped), a queue worker once it has gone idle or closes. The same two steps for both:
// the products linked before the run's last batch are linked again (link.ts), then the
// catalog folds the run's small commits into its indexes.
import type { CatalogStore } from '../catalog/types.ts';
import type { LinkProgressOptions, RunLinks, SeenTogetherLinker } from './link.ts';

export interface RunEndOptions extends LinkProgressOptions {
  catalog: CatalogStore;
  seenTogether?: SeenTogetherLinker;
  /** Build missing indexes and compact (default true). */
  optimize?: boolean;
  /** Whether the run wrote anything. */
  wrote: boolean;
}

export interface RunEnd {
  /** Undefined without a linker. */
  links: RunLinks | undefined;
  optimized: boolean;
}

/**
 * Links again, then optimizes when the run wrote, or when the catalog still lacks its text
 * index (a run killed before this step left it so; the next run's end builds it).
 */
export async function endRun({ catalog, seenTogether, optimize = true, wrote, ...progress }: RunEndOptions): Promise<RunEnd> {
  const links = seenTogether ? await seenTogether.finishRun(progress) : undefined;
  const optimized = optimize && (wrote || !(await catalog.hasTextIndex()));
  if (optimized) await catalog.optimize();
  return { links, optimized };
}
