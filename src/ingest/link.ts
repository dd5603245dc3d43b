// Seen together, linked in one place with one rule for every way of publishing:
//  - right after a batch is written, the photos of its products are searched for catalog
//    products (pipelines/seen-together.ts) and the links recorded, so whatever is written
//    is linked, also when a run stops early (Ctrl-C during `groknet index`);
//  - when a run ends (the end of `groknet index`, a queue worker going idle or closing; a
//    request to POST /v1/products is a run of one batch), the products linked before its
//    last batch are searched again: their photos may show products written after them.
// Links are evidence rows keyed per photo (catalog/cooccurrence.ts), so linking a product
// twice never counts a photo twice. Linking never fails a publish: what is written stays
// written, and a product or photo that could not be linked is reported with its reason.
//
// Photos are read back from where the catalog keeps them: the photo linked is the photo
// stored (an upload's copy without its metadata, a file indexed in place), for a batch just
// written and for a run's second look alike.
import { readImageFile } from '../catalog/image-file.ts';
import type { FailedItem } from '../catalog/sources.ts';
import type { CatalogStore } from '../catalog/types.ts';
import type { Detector } from '../detect/detector.ts';
import { GroknetError, toGroknetError } from '../errors.ts';
import type { Analyzer } from '../model/types.ts';
import { recordSeenTogether, type Photo } from '../pipelines/seen-together.ts';

/** A detector, or how to open one when linking first needs it (a run that writes nothing never opens it). */
export type DetectorSource = Detector | (() => Promise<Detector>);

export interface LinkerOptions {
  catalog: CatalogStore;
  /** Analyses the crops; must be the catalog's model, or embeddings cannot be compared. */
  analyzer: Analyzer;
  detector: DetectorSource;
  /**
   * Products a run remembers for its second look (default: all of them). A run that never
   * ends (a queue that never runs dry) keeps the most recent; older ones keep their first links.
   */
  remember?: number;
}

/** What linking one product did. */
export type ProductLinking =
  | {
      status: 'linked';
      /** Other catalog products found in its photos. */
      found: string[];
      /** Photos searched. */
      photos: number;
      /** Pieces of evidence written: product pairs per photo. */
      pairs: number;
      /** Photos that could not be read or searched; the others are linked. */
      failed: FailedItem[];
    }
  | { status: 'failed'; failure: FailedItem }
  /** Deleted before it could be linked. */
  | { status: 'gone' };

/** Linking totals, as `groknet index` prints them (`seenTogether`). */
export interface LinkSummary {
  products: number;
  photos: number;
  pairs: number;
  failed: FailedItem[];
}

export interface RunLinks {
  /** The run's products, each as its latest linking left it. */
  run: LinkSummary;
  /** The second look at the products linked before the run's last batch. */
  relinked: LinkSummary;
  /** Products the second look did not reach, stopped by its signal. */
  notRelinked: number;
}

export interface LinkProgressOptions {
  /** Stops between products: each product's links are one write, so none is left half-linked. */
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export class SeenTogetherLinker {
  private readonly options: LinkerOptions;
  private readonly remember: number;
  /** This run's products, least recently linked first, with their latest linking. */
  private run = new Map<string, ProductLinking>();
  private lastBatch = new Set<string>();
  private detector: Promise<Detector> | undefined;

  constructor(options: LinkerOptions) {
    this.options = options;
    this.remember = options.remember ?? Number.POSITIVE_INFINITY;
  }

  /** Links the products of a batch just written; never throws (failures are in the results). */
  async linkWritten(ids: readonly string[]): Promise<Map<string, ProductLinking>> {
    const results = await this.linkEach(ids);
    for (const [id, linking] of results) {
      this.run.delete(id); // to the end: linked just now
      this.run.set(id, linking);
    }
    for (const id of this.run.keys()) {
      if (this.run.size <= this.remember) break;
      this.run.delete(id);
    }
    this.lastBatch = new Set(ids);
    return results;
  }

  /**
   * Ends the run: links again the products linked before its last batch, then starts a new
   * run. What to look at again is decided at the call, so batches written meanwhile belong
   * to the next run.
   */
  finishRun(options: LinkProgressOptions = {}): Promise<RunLinks> {
    const run = this.run;
    const earlier = [...run.keys()].filter((id) => !this.lastBatch.has(id));
    this.run = new Map();
    this.lastBatch = new Set();
    return this.lookAgain(run, earlier, options);
  }

  private async lookAgain(run: Map<string, ProductLinking>, earlier: readonly string[], options: LinkProgressOptions): Promise<RunLinks> {
    const relinked = await this.linkEach(earlier, options);
    for (const [id, linking] of relinked) run.set(id, linking);
    return { run: summarize(run), relinked: summarize(relinked), notRelinked: earlier.length - relinked.size };
  }

  private async linkEach(ids: readonly string[], { signal, onProgress }: LinkProgressOptions = {}): Promise<Map<string, ProductLinking>> {
    const results = new Map<string, ProductLinking>();
    for (const [n, id] of ids.entries()) {
      if (signal?.aborted) break;
      try {
        results.set(id, await this.linkOne(id));
      } catch (error) {
        const e = toGroknetError(error);
        results.set(id, { status: 'failed', failure: { item: id, code: e.code, message: e.message } });
      }
      onProgress?.(n + 1, ids.length);
    }
    return results;
  }

  private async linkOne(id: string): Promise<ProductLinking> {
    const { catalog, analyzer } = this.options;
    const product = await catalog.getProduct(id);
    if (!product) return { status: 'gone' };
    const failed: FailedItem[] = [];
    const photos: Photo[] = [];
    for (const image of product.images) {
      try {
        photos.push(await storedPhoto(image.path, image.contentHash));
      } catch (error) {
        const e = toGroknetError(error);
        failed.push({ item: `${id}: ${image.path}`, code: e.code, message: e.message });
      }
    }
    const recorded = await recordSeenTogether(id, photos, { catalog, analyzer, detector: await this.openDetector() });
    for (const { photo, error } of recorded.failed) failed.push({ item: `${id}: photo ${photo.slice(0, 12)}`, code: error.code, message: error.message });
    return { status: 'linked', found: [...new Set(recorded.found.map((f) => f.productId))], photos: recorded.sightings.length, pairs: recorded.pairs, failed };
  }

  /** Opened once per linker: a detector that cannot be opened fails each product's linking, not the publish. */
  private openDetector(): Promise<Detector> {
    const { detector } = this.options;
    this.detector ??= typeof detector === 'function' ? detector() : Promise.resolve(detector);
    return this.detector;
  }
}

/** A stored photo's bytes, as they were when indexed: bytes that changed since are not the photo the listing was analysed from. */
async function storedPhoto(path: string, contentHash: string): Promise<Photo> {
  const read = await readImageFile(path);
  if (read.contentHash !== contentHash) throw new GroknetError('invalid_argument', `${path} changed since it was indexed`);
  return { bytes: read.bytes, contentHash };
}

export function summarize(linkings: ReadonlyMap<string, ProductLinking>): LinkSummary {
  const summary: LinkSummary = { products: 0, photos: 0, pairs: 0, failed: [] };
  for (const linking of linkings.values()) {
    if (linking.status === 'failed') summary.failed.push(linking.failure);
    if (linking.status !== 'linked') continue;
    summary.products++;
    summary.photos += linking.photos;
    summary.pairs += linking.pairs;
    summary.failed.push(...linking.failed);
  }
  return summary;
}

/** Totals of two linkings (a call's batches). */
export function addLinks(a: LinkSummary | undefined, b: LinkSummary): LinkSummary {
  if (!a) return b;
  return { products: a.products + b.products, photos: a.photos + b.photos, pairs: a.pairs + b.pairs, failed: [...a.failed, ...b.failed] };
}
