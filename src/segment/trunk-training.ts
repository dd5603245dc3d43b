// Fine-tunes the upper trunk (block 16 + Conv_1) under the segmentation decoder. The
// feature cache then holds block 15's map instead of Conv_1's; each step runs the upper
// trunk forward in ONNX Runtime (the unified trainer's graphs, with a gradient per map
// position instead of per pooled feature), TF.js trains the decoder and hands back the
// gradient with respect to the Conv_1 map, and AdamW moves the trunk's weights.
import type { UpperTrunkWeights } from '../model/upper-trunk/block16.ts';
import { UpperTrunkAdamW, UpperTrunkGraphs, type UpperTrunkGradients } from '../train/upper-trunk.ts';
import { unpackHalf } from '../util/float16.ts';

export class SegmentTrunkTraining {
  private readonly optimiser: UpperTrunkAdamW;
  private pending: UpperTrunkGradients | undefined;

  private constructor(
    private readonly graphs: UpperTrunkGraphs,
    initial: UpperTrunkWeights,
    weightDecay: number,
  ) {
    this.optimiser = new UpperTrunkAdamW(initial, weightDecay);
  }

  /** For block-15 maps of `size` ([height, width]) at the start of every cached view. */
  static async create(size: readonly [number, number], initial: UpperTrunkWeights, weightDecay: number): Promise<SegmentTrunkTraining> {
    return new SegmentTrunkTraining(await UpperTrunkGraphs.create(size[0], size[1], 'map'), initial, weightDecay);
  }

  get weights(): UpperTrunkWeights {
    return this.optimiser.weights;
  }

  private get block15Values(): number {
    return this.graphs.valuesPerImage;
  }

  private gather(views: readonly Uint16Array[]): Float32Array {
    const per = this.block15Values;
    const out = new Float32Array(views.length * per);
    views.forEach((v, i) => unpackHalf(v.subarray(0, per), out, i * per));
    return out;
  }

  /** Conv_1 maps (NHWC, float32) of the views with the current weights; no gradient kept. */
  async maps(views: readonly Uint16Array[]): Promise<Float32Array> {
    return (await this.graphs.forward(this.gather(views), this.weights)).map;
  }

  /** Conv_1 maps of a training batch; the next backward() applies to this batch. */
  async forward(views: readonly Uint16Array[]): Promise<Float32Array> {
    this.pending = await this.graphs.forward(this.gather(views), this.weights);
    return this.pending.map;
  }

  /** One AdamW step from the loss's gradient with respect to the Conv_1 maps of the last forward(). */
  async backward(gradient: Float32Array, learningRate: number): Promise<void> {
    if (!this.pending) throw new Error('segmentation trunk: backward without a forward pass');
    if (gradient.length !== this.pending.map.length) throw new Error(`segmentation trunk: ${gradient.length} gradient values for a map of ${this.pending.map.length}`);
    const grads = await this.pending.gradients(gradient);
    this.pending = undefined;
    this.optimiser.step(grads, learningRate);
  }

  async close(): Promise<void> {
    await this.graphs.close();
  }
}
