// The analyze pipeline: encoded images -> preprocessing -> one batched run of the
// unified graph -> heads, embedding and binary code per image. Decoding the next batch
// overlaps with inference of the current one; a bad image fails alone.
import { GroknetError, toGroknetError } from '../errors.ts';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from '../image/limits.ts';
import { loadForModel } from '../image/preprocess.ts';
import type { SessionOptions } from '../model/backend/onnxruntime.ts';
import { signsToHex } from '../model/binary-code.ts';
import { loadModel, type LoadedModel } from '../model/load-model.ts';
import type { HeadSpec } from '../model/manifest.ts';
import { rankLabels, roundScore, TOP_LABELS } from '../model/heads/rank-labels.ts';
import type { Analysis, Analyzer, HeadResult } from '../model/types.ts';
import { chooseColour, measureColour } from './measure-colour.ts';
import { gateByVertical } from './vertical-gate.ts';

export interface AnalyzeOptions extends SessionOptions {
  /** Images per ONNX Runtime run. */
  batchSize?: number;
  limits?: Partial<ImageLimits>;
  /** Heads as the graph gives them: no vertical gate, no measured colour (benchmarks compare against these). */
  rawHeads?: boolean;
}

export const MAX_BATCH_SIZE = 256;

export class ModelAnalyzer implements Analyzer {
  private readonly batchSize: number;
  private readonly limits: ImageLimits;
  private readonly rawHeads: boolean;

  private constructor(
    readonly model: LoadedModel,
    options: AnalyzeOptions,
  ) {
    this.batchSize = options.batchSize ?? 16;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1 || this.batchSize > MAX_BATCH_SIZE) {
      throw new GroknetError('invalid_argument', `batch size must be an integer from 1 to ${MAX_BATCH_SIZE}`);
    }
    this.limits = { ...DEFAULT_IMAGE_LIMITS, ...options.limits };
    this.rawHeads = options.rawHeads ?? false;
  }

  static async open(modelDir?: string, options: AnalyzeOptions = {}): Promise<ModelAnalyzer> {
    const model = await loadModel(modelDir, options);
    return new ModelAnalyzer(model, options);
  }

  get modelVersion(): string {
    return `${this.model.manifest.name}@${this.model.manifest.version}`;
  }

  get exactMatchHeads(): readonly string[] | undefined {
    return this.model.manifest.embedding.exactMatchHeads;
  }

  get headVerticals(): Readonly<Record<string, string>> {
    return Object.fromEntries(this.model.manifest.heads.flatMap((head) => (head.vertical ? [[head.name, head.vertical]] : [])));
  }

  get headTitles(): Readonly<Record<string, string>> {
    return Object.fromEntries(this.model.manifest.heads.flatMap((head) => (head.title ? [[head.name, head.title]] : [])));
  }

  get exactMatchThreshold(): number {
    return this.model.manifest.embedding.exactMatchThreshold;
  }

  get embeddingDim(): number {
    return this.model.manifest.embedding.dim;
  }

  async analyzeBuffers(images: readonly Buffer[]): Promise<Array<Analysis | GroknetError>> {
    const results: Array<Analysis | GroknetError> = [];
    const batches: Buffer[][] = [];
    for (let i = 0; i < images.length; i += this.batchSize) batches.push(images.slice(i, i + this.batchSize));
    let prepared = batches.length > 0 ? this.prepare(batches[0]!) : undefined;
    for (let b = 0; b < batches.length; b++) {
      const current = await prepared!;
      // Start decoding the next batch while this one runs in ONNX Runtime.
      prepared = b + 1 < batches.length ? this.prepare(batches[b + 1]!) : undefined;
      results.push(...(await this.infer(current)));
    }
    return results;
  }

  private async prepare(batch: readonly Buffer[]): Promise<Array<Float32Array | GroknetError>> {
    const spec = this.model.manifest.input;
    const one = async (bytes: Buffer): Promise<Float32Array | GroknetError> => {
      try {
        return (await loadForModel(bytes, spec, this.limits)).tensor;
      } catch (error) {
        return toGroknetError(error);
      }
    };
    const prepared = await Promise.all(batch.map(one));
    // libvips keeps one error buffer for all threads: images that fail together can swap or
    // lose their reasons (and so their error codes). Decoder failures are decoded again, one
    // at a time, so an image gets the same answer in any batch.
    const decoderFailures = prepared.flatMap((item, i) => (item instanceof GroknetError && item.cause !== undefined ? [i] : []));
    if (decoderFailures.length > 1) for (const i of decoderFailures) prepared[i] = await one(batch[i]!);
    return prepared;
  }

  private async infer(prepared: Array<Float32Array | GroknetError>): Promise<Array<Analysis | GroknetError>> {
    const ok = prepared.filter((p): p is Float32Array => p instanceof Float32Array);
    if (ok.length === 0) return prepared as GroknetError[];
    const { manifest, session } = this.model;
    const [h, w] = manifest.input.size;
    const perImage = ok[0]!.length;
    const batch = new Float32Array(perImage * ok.length);
    ok.forEach((t, i) => batch.set(t, i * perImage));
    const dims = manifest.input.layout === 'NHWC' ? [ok.length, h, w, 3] : [ok.length, 3, h, w];
    const outputs = await session.run(session.inputNames[0]!, batch, dims, [
      ...manifest.heads.map((head) => head.output),
      manifest.embedding.output,
      manifest.embedding.codeOutput,
    ]);

    let row = 0;
    return prepared.map((item) => {
      if (!(item instanceof Float32Array)) return item;
      const i = row++;
      const heads: Record<string, HeadResult> = {};
      for (const head of manifest.heads) {
        const out = outputs[head.output]!;
        heads[head.name] = readHead(head, out.data.subarray(i * head.labels.length, (i + 1) * head.labels.length));
      }
      const gated = this.rawHeads ? heads : gateByVertical(manifest.heads, heads);
      if (!this.rawHeads) {
        const pixels = this.model.pixelHeads.get('colour');
        gated.colour = chooseColour(gated.colour, () => measureColour(item, manifest.input), pixels && ((learned) => pixels.blend(pixels.probabilities(pixels.features(item, manifest.input)), learned.top)));
      }
      const dim = manifest.embedding.dim;
      const bits = manifest.embedding.codeBits;
      return {
        heads: gated,
        embedding: outputs[manifest.embedding.output]!.data.slice(i * dim, (i + 1) * dim),
        code: signsToHex(outputs[manifest.embedding.codeOutput]!.data, i * bits, bits),
        modelVersion: this.modelVersion,
      };
    });
  }

  async close(): Promise<void> {
    await this.model.session.close();
  }
}

export function readHead(head: HeadSpec, scores: Float32Array): HeadResult {
  if (head.kind === 'single') {
    const top = rankLabels(scores, head.labels, TOP_LABELS);
    return { kind: 'single', top, abstain: (top[0]?.score ?? 0) < head.abstainBelow };
  }
  const ranked = Array.from(scores, (score, index) => ({ label: head.labels[index]!, score })).sort((a, b) => b.score - a.score);
  const thresholdOf = (label: string): number => {
    const t = head.thresholds;
    return typeof t === 'number' ? t : (t[head.labels.indexOf(label)] ?? 0.5);
  };
  // Thresholds compare the unrounded scores; only what is shown is rounded.
  return { kind: 'multi', labels: ranked.filter((r) => r.score >= thresholdOf(r.label)).map((r) => ({ label: r.label, score: roundScore(r.score) })) };
}
