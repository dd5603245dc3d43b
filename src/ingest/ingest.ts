// ingest: SOURCE -> catalog, as `groknet index` runs it: the source's listings (folders,
// CSV/JSONL files, image files: catalog/sources.ts) published with the local policy (skip
// and report: policy.ts), in batches, then the run's end (run.ts): seen-together links
// looked at again, the catalog optimized. A stop (signal) ends the run between batches;
// what was written by then is linked and stays written.
// With a segmenter, each photo's garments are stored too (label, colour of its own pixels):
// a photo that cannot be segmented is still indexed, without garments, and reported.

import { readSource, readSources, type FailedItem, type Listing } from '../catalog/sources.ts';
import type { CatalogStore } from '../catalog/types.ts';
import type { Detector } from '../detect/detector.ts';
import type { Analyzer } from '../model/types.ts';
import type { PhotoSegmenter } from '../pipelines/shop-the-look.ts';
import { garmentsBy } from './garments.ts';
import { SeenTogetherLinker, type DetectorSource, type LinkSummary } from './link.ts';
import { LOCAL_POLICY } from './policy.ts';
import { ProgressTracker, type IngestProgress } from './progress.ts';
import { publishTracked } from './publish.ts';
import { endRun } from './run.ts';

export interface IngestOptions {
  catalog: CatalogStore;
  analyzer: Analyzer;
  /** Listings per batch (default 32); each batch is one atomic catalog write. */
  batchSize?: number;
  onProgress?: (progress: IngestProgress) => void;
  /** Stops between batches (and the run's second look at its links between products); what was written stays written. */
  signal?: AbortSignal;
  /** Build indexes and compact at the end (default true). */
  optimize?: boolean;
  /**
   * Segments each photo and stores its garments (filters `garment`, `garment_colour`).
   * A stored listing whose photos have no garments yet is written again, with them;
   * photos segmented before are not segmented again. Off by default: it costs a
   * segmentation per photo.
   */
  segmenter?: PhotoSegmenter;
  /**
   * Finds the catalog products in the photos of what is written, linked as seen together
   * (link.ts). A function is called when linking first needs it and its detector closed
   * at the end; a detector given ready stays the caller's. Off when absent.
   */
  detector?: DetectorSource;
  /** Progress of the run's second look at its links, product by product. */
  onLinkProgress?: (done: number, total: number) => void;
}

export interface IngestSummary {
  total: number;
  indexed: number;
  unchanged: number;
  failed: FailedItem[];
  /** Photos whose garments were measured in this run (with a segmenter). */
  segmented: number;
  /** Non-image files found in a folder source. */
  ignored: number;
  aborted: boolean;
  elapsedMs: number;
  /** With a detector, when the run wrote anything: each written product as its latest linking left it. */
  seenTogether?: LinkSummary;
  /** Products written before the run's last batch that a stop kept from being linked again. */
  notRelinked: number;
}

/** Ingests one SOURCE, or several inputs (folders, listing files, image files: see readSources). */
export async function ingest(source: string | ReadonlyArray<string | Buffer>, options: IngestOptions): Promise<IngestSummary> {
  const started = performance.now();
  const parsed = typeof source === 'string' ? await readSource(source) : await readSources(source);
  const listings: Listing[] = [];
  const unreadable: FailedItem[] = [];
  for (const entry of parsed.entries) {
    if ('listing' in entry) listings.push(entry.listing);
    else unreadable.push(entry.failure);
  }
  const tracker = new ProgressTracker(parsed.entries.length, options.onProgress);
  tracker.done = unreadable.length;
  tracker.failedItems = unreadable.length;
  tracker.report();

  const detector = ownedDetector(options.detector);
  const seenTogether = detector && new SeenTogetherLinker({ catalog: options.catalog, analyzer: options.analyzer, detector: detector.source });
  try {
    const published = await publishTracked(
      listings,
      {
        catalog: options.catalog,
        analyzer: options.analyzer,
        policy: { ...LOCAL_POLICY, batchSize: options.batchSize ?? LOCAL_POLICY.batchSize },
        root: parsed.root,
        ...(options.segmenter ? { garments: garmentsBy(options.segmenter) } : {}),
        ...(seenTogether ? { seenTogether } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      tracker,
    );
    const wrote = published.indexed > 0;
    const end = await endRun({
      catalog: options.catalog,
      wrote,
      ...(seenTogether ? { seenTogether } : {}),
      ...(options.optimize === false ? { optimize: false } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onLinkProgress ? { onProgress: options.onLinkProgress } : {}),
    });
    return {
      total: parsed.entries.length,
      indexed: published.indexed,
      unchanged: published.unchanged,
      failed: [...unreadable, ...published.failed],
      segmented: published.segmented,
      ignored: parsed.ignored,
      aborted: published.aborted,
      elapsedMs: performance.now() - started,
      ...(end.links && wrote ? { seenTogether: end.links.run } : {}),
      notRelinked: end.links?.notRelinked ?? 0,
    };
  } finally {
    await detector?.close();
  }
}

/** The detector to link with, and how to close it: only one this run opened (see IngestOptions.detector). */
function ownedDetector(source: DetectorSource | undefined): { source: DetectorSource; close(): Promise<void> } | undefined {
  if (!source) return undefined;
  if (typeof source !== 'function') return { source, close: async () => undefined };
  let opened: Promise<Detector> | undefined;
  return {
    source: () => (opened ??= source()),
    close: async () => {
      const detector = await opened?.catch(() => undefined);
      await detector?.close();
    },
  };
}
