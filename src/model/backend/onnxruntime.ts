// The one module that talks to ONNX Runtime: session creation with execution
// providers, thread settings, and running named outputs.
import os from 'node:os';
import './ort-environment.ts'; // before the runtime loads: see that module
import ort from 'onnxruntime-node';
import { GroknetError } from '../../errors.ts';

export type ExecutionProvider = 'cpu' | 'cuda' | 'tensorrt' | 'webgpu';

export interface SessionOptions {
  /** Execution provider; 'cpu' by default. Other providers fail clearly where the runtime lacks them. */
  provider?: ExecutionProvider;
  /** Intra-op threads; defaults to the number of cores. */
  threads?: number;
}

export interface NamedTensor {
  data: Float32Array;
  dims: number[];
}

/** Providers this installed onnxruntime-node can actually run (bundled into its binary). */
export function availableProviders(): ExecutionProvider[] {
  return ort
    .listSupportedBackends()
    .filter((b) => b.bundled)
    .map((b) => b.name as ExecutionProvider);
}

export class OnnxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: ExecutionProvider,
  ) {}

  static async create(model: Uint8Array | string, options: SessionOptions = {}): Promise<OnnxSession> {
    const provider = options.provider ?? 'cpu';
    if (!availableProviders().includes(provider)) {
      throw new GroknetError(
        'provider_unavailable',
        `'${provider}' is not in this onnxruntime-node build (available: ${availableProviders().join(', ')}); install a GPU build of onnxruntime-node to use it`,
      );
    }
    const threads = options.threads ?? Math.max(1, os.availableParallelism());
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new GroknetError('invalid_argument', `threads must be an integer from 1 to 256, got ${threads}`);
    }
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    };
    try {
      const session =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, sessionOptions)
          : await ort.InferenceSession.create(model, sessionOptions);
      return new OnnxSession(session, provider);
    } catch (error) {
      throw new GroknetError('model_invalid', `ONNX Runtime could not load the graph (${shortMessage(error)})`, { cause: error });
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs one float32 input and returns the requested outputs (all by default). */
  async run(inputName: string, data: Float32Array, dims: readonly number[], outputs?: readonly string[]): Promise<Record<string, NamedTensor>> {
    const feeds = { [inputName]: new ort.Tensor('float32', data, dims) };
    const result = outputs ? await this.session.run(feeds, outputs) : await this.session.run(feeds);
    const named: Record<string, NamedTensor> = {};
    for (const [name, tensor] of Object.entries(result)) {
      named[name] = { data: tensor.data as Float32Array, dims: tensor.dims.map(Number) };
    }
    return named;
  }

  /** Runs several float32 inputs (graphs whose weights are fed per call, e.g. a training step's). */
  async runMany(feeds: Record<string, NamedTensor>, outputs?: readonly string[]): Promise<Record<string, NamedTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, feed] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor('float32', feed.data, feed.dims);
    const result = outputs ? await this.session.run(ortFeeds, outputs) : await this.session.run(ortFeeds);
    const named: Record<string, NamedTensor> = {};
    for (const [name, tensor] of Object.entries(result)) named[name] = { data: tensor.data as Float32Array, dims: tensor.dims.map(Number) };
    return named;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

function shortMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 300);
}
