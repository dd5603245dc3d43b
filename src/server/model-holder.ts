// The one place the server holds its model. Every request takes a lease on the model
// serving when it starts (reference counting) and runs on it to the end, so a switch to a
// new version never changes a model under a request: the old one is closed only when its
// last lease is released. A switch loads and warms the new model fully before it serves,
// and refuses one whose embedding differs from the served one (the catalog's stored
// vectors and codes would no longer compare with what it computes).
import { AsyncLocalStorage } from 'node:async_hooks';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError, toGroknetError } from '../errors.ts';
import { rgbPixelsToPng } from '../image/encode.ts';
import { analyzerView } from '../model/analyzer-view.ts';
import type { Analysis, Analyzer } from '../model/types.ts';

/** Opens the model in a directory (ModelAnalyzer.open in `groknet serve`). */
export type ModelLoader = (dir: string) => Promise<Analyzer>;

/** A reference to one model version, held for as long as a request (or a reindex) uses it. */
export interface ModelLease {
  readonly analyzer: Analyzer;
  /** Idempotent: the last release of a retired model closes it. */
  release(): void;
}

/** What /readyz and the admin endpoint report about the model served. */
export interface ServedModel {
  modelVersion: string;
  /** The directory it was loaded from; null when it was handed over ready without one. */
  path: string | null;
  /** Switches since the server started. */
  switches: number;
}

/** An analyzer that stands for "the model of the running request": the queue pins it to a real one at submission. */
export interface AnalyzerView extends Analyzer {
  pinned(): Analyzer;
}

export function isAnalyzerView(analyzer: Analyzer): analyzer is AnalyzerView {
  return typeof (analyzer as Partial<AnalyzerView>).pinned === 'function';
}

interface Entry {
  analyzer: Analyzer;
  path: string | null;
  /** The holder's own reference plus one per lease. */
  refs: number;
  /** Whether the holder closes it when it is no longer referenced (a model handed over ready stays its owner's). */
  owned: boolean;
  closed?: Promise<void>;
}

export interface ModelHolderOptions {
  /** Opens a model directory; without one, switching answers 503. */
  load?: ModelLoader;
  /** The directory the first model came from (SIGHUP reloads it). */
  path?: string;
  /** Close the first model once it is retired (true when the holder's owner hands it over for good). */
  ownsInitial?: boolean;
  /** Embedding dimension the catalog's stored vectors have, read at switch time. */
  storedEmbeddingDim?: () => Promise<number | undefined>;
  onRetiredCloseError?: (error: unknown) => void;
}

// Cosine above which two embeddings of one image count as the same vector: float noise only.
const SAME_VECTOR = 0.9999;

export class ModelHolder {
  private currentEntry: Entry;
  private switching: Promise<unknown> | undefined;
  private switchCount = 0;
  private closedHolder = false;
  private readonly scope = new AsyncLocalStorage<ModelLease>();
  /** An analyzer whose every use goes to the model of the running request (or the current one outside requests). */
  readonly view: AnalyzerView;

  constructor(initial: Analyzer, private readonly options: ModelHolderOptions = {}) {
    this.currentEntry = { analyzer: initial, path: options.path ?? null, refs: 1, owned: options.ownsInitial ?? false };
    const pinned = (): Analyzer => this.analyzer;
    // The view owns nothing: the holder closes the models.
    this.view = Object.assign(analyzerView(pinned, { analyzeBuffers: (images) => pinned().analyzeBuffers(images), close: async () => {} }), { pinned });
  }

  /** The model of the running request (its lease), else the one serving now. */
  get analyzer(): Analyzer {
    return this.scope.getStore()?.analyzer ?? this.currentEntry.analyzer;
  }

  get served(): ServedModel {
    return { modelVersion: this.currentEntry.analyzer.modelVersion, path: this.currentEntry.path, switches: this.switchCount };
  }

  get canSwitch(): boolean {
    return this.options.load !== undefined;
  }

  /** A reference to the model serving now; release it when done. */
  acquire(): ModelLease {
    const entry = this.currentEntry;
    entry.refs++;
    let released = false;
    return {
      analyzer: entry.analyzer,
      release: () => {
        if (released) return;
        released = true;
        this.unref(entry);
      },
    };
  }

  /** Runs `fn` (and everything it starts) on `lease`: `analyzer` and the view answer with its model. */
  runWith<T>(lease: ModelLease, fn: () => T): T {
    return this.scope.run(lease, fn);
  }

  /**
   * Loads the model in `dir`, warms it, checks its embedding against the served one and
   * only then serves it. One switch at a time; a failure leaves the served model as it was.
   */
  async switchTo(dir: string): Promise<ServedModel> {
    const load = this.options.load;
    if (!load) throw new GroknetError('unavailable', 'this server was started without a way to load models');
    if (this.closedHolder) throw new GroknetError('unavailable', 'the server is shutting down');
    // Serialised: two switches at once would each compare against a model about to be retired.
    const previous = this.switching ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.doSwitch(load, dir));
    this.switching = run;
    try {
      return await run;
    } finally {
      if (this.switching === run) this.switching = undefined;
    }
  }

  private async doSwitch(load: ModelLoader, dir: string): Promise<ServedModel> {
    const serving = this.currentEntry.analyzer;
    let next: Analyzer;
    try {
      next = await load(dir);
    } catch (error) {
      const e = toGroknetError(error);
      // The directory's name only: the server's own paths stay out of answers.
      throw new GroknetError('invalid_argument', `the model in ${path.basename(dir)} could not be loaded (${e.code}: ${withoutPaths(e.message)}); still serving ${serving.modelVersion}`, { cause: error });
    }
    try {
      await this.assertSameEmbedding(serving, next);
    } catch (error) {
      await next.close().catch(() => undefined);
      throw error;
    }
    const retired = this.currentEntry;
    this.currentEntry = { analyzer: next, path: dir, refs: 1, owned: true };
    this.switchCount++;
    this.unref(retired);
    return this.served;
  }

  /**
   * The new model must compute the vectors the catalog stores: same dimension, and the same
   * embedding and code for the same image as the model serving now (which wrote or reads
   * them). Running the probes also warms the new model before its first request.
   */
  private async assertSameEmbedding(serving: Analyzer, next: Analyzer): Promise<void> {
    const stored = await this.options.storedEmbeddingDim?.();
    const expectedDim = stored ?? serving.embeddingDim;
    if (next.embeddingDim !== expectedDim) {
      throw new GroknetError('model_mismatch', `${next.modelVersion} has ${next.embeddingDim}-d embeddings, the catalog stores ${expectedDim}-d; still serving ${serving.modelVersion}`);
    }
    const probes = await probeImages();
    const [before, after] = await Promise.all([serving.analyzeBuffers(probes), next.analyzeBuffers(probes)]);
    for (let i = 0; i < probes.length; i++) {
      const a = before[i];
      const b = after[i];
      if (b instanceof GroknetError || b === undefined) {
        throw new GroknetError('invalid_argument', `${next.modelVersion} failed on a test image (${b?.message ?? 'no result'}); still serving ${serving.modelVersion}`);
      }
      if (a instanceof GroknetError || a === undefined) throw new GroknetError('internal', `the served model failed on a test image: ${a?.message ?? 'no result'}`);
      const similarity = cosine(a, b);
      if (similarity < SAME_VECTOR || a.code !== b.code) {
        throw new GroknetError(
          'model_mismatch',
          `${next.modelVersion} computes other embeddings than ${serving.modelVersion} (cosine ${similarity.toFixed(4)}${a.code === b.code ? '' : ', other codes'} on a test image): the stored vectors would be invalid; reindex offline with \`groknet reindex --model\` instead`,
        );
      }
    }
  }

  /** Retires the current model too; models still leased close when their last lease ends. */
  async close(): Promise<void> {
    if (this.closedHolder) return;
    this.closedHolder = true;
    await this.switching?.catch(() => undefined);
    const entry = this.currentEntry;
    this.unref(entry);
    await entry.closed;
  }

  private unref(entry: Entry): void {
    entry.refs--;
    if (entry.refs > 0 || !entry.owned || entry.closed) return;
    entry.closed = entry.analyzer.close().catch((error: unknown) => this.options.onRetiredCloseError?.(error));
  }
}

/**
 * Resolves `requested` inside one of `roots` (symbolic links followed, so none leads out).
 * Outside every root: 400 path_outside_root; missing: 404 file_not_found.
 */
export async function resolveAllowedModelDir(requested: string, roots: readonly string[]): Promise<string> {
  if (roots.length === 0) throw new GroknetError('forbidden', 'this server allows no model directories');
  const realRoots = await Promise.all(roots.map((root) => realpath(root).catch(() => path.resolve(root))));
  const candidate = path.isAbsolute(requested) ? requested : path.join(realRoots[0]!, requested);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    if (!realRoots.some((root) => isInside(root, path.resolve(candidate)))) throw outside();
    throw new GroknetError('file_not_found', `no model directory ${path.basename(requested)} in the models folder`);
  }
  if (!realRoots.some((root) => isInside(root, real))) throw outside();
  return real;
}

function withoutPaths(message: string): string {
  return message.replace(/(?:\/[^\s/'"]+)+\/([^\s/'"]+)/g, '$1');
}

function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

function outside(): GroknetError {
  // Which folders are allowed is the operator's (models/ in the data dir, --models-dir); not said to clients.
  return new GroknetError('path_outside_root', 'a model is loaded only from a directory under the server\'s models folder');
}

function cosine(a: Analysis, b: Analysis): number {
  if (a.embedding.length !== b.embedding.length) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.embedding.length; i++) {
    dot += a.embedding[i]! * b.embedding[i]!;
    na += a.embedding[i]! ** 2;
    nb += b.embedding[i]! ** 2;
  }
  return na === 0 || nb === 0 ? (na === nb ? 1 : 0) : dot / Math.sqrt(na * nb);
}

let probeCache: Promise<Buffer[]> | undefined;

/** A few fixed, varied images (gradients in different directions and colours). */
function probeImages(): Promise<Buffer[]> {
  probeCache ??= Promise.all(
    [0, 1, 2].map((variant) => {
      const size = 64;
      const pixels = Buffer.alloc(size * size * 3);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const o = (y * size + x) * 3;
          pixels[o] = (x * 4 + variant * 80) % 256;
          pixels[o + 1] = (y * 4 + variant * 50) % 256;
          pixels[o + 2] = ((x + y) * 2 + variant * 120) % 256;
        }
      }
      return rgbPixelsToPng(pixels, size, size);
    }),
  );
  return probeCache;
}
