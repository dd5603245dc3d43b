// Fine-tunes the upper trunk (block 16 + Conv_1), and optionally block 15 below it, under
// the segmentation decoder. The feature cache then holds the map below the lowest trained
// block (block 15's, or block 14's) instead of Conv_1's; each step runs the trained blocks
// forward in ONNX Runtime (the unified trainer's TrunkStack, with a gradient per map position
// instead of per pooled feature), TF.js trains the decoder and hands back the gradient with
// respect to the Conv_1 map, and AdamW moves the blocks' weights.
import type { Block15Weights } from '../../model/upper-trunk/block15.ts';
import type { UpperTrunkWeights } from '../../model/upper-trunk/block16.ts';
import { Block15Graphs } from '../block15.ts';
import { TrunkStack, UpperTrunkGraphs, type StackForward } from '../upper-trunk.ts';
import { unpackHalf } from '../../util/float16.ts';

export class SegmentTrunkTraining {
  private pending: StackForward | undefined;

  private constructor(private readonly stack: TrunkStack) {}

  /**
   * For cached maps of `size` ([height, width]) at the start of every cached view: block
   * 15's output, or with `block15` (its starting weights, trained too) block 14's.
   */
  static async create(size: readonly [number, number], initial: UpperTrunkWeights, weightDecay: number, block15?: Block15Weights): Promise<SegmentTrunkTraining> {
    const stage = block15 ? { graphs: await Block15Graphs.create(size[0], size[1]), initial: block15 } : undefined;
    return new SegmentTrunkTraining(new TrunkStack(await UpperTrunkGraphs.create(size[0], size[1], 'map', stage !== undefined), initial, weightDecay, stage));
  }

  get weights(): UpperTrunkWeights {
    return this.stack.upper.weights;
  }

  /** Block 15's weights where it is trained here. */
  get block15Weights(): Block15Weights | undefined {
    return this.stack.block15?.weights;
  }

  private gather(views: readonly Uint16Array[]): Float32Array {
    const per = this.stack.graphs.valuesPerImage;
    const out = new Float32Array(views.length * per);
    views.forEach((v, i) => unpackHalf(v.subarray(0, per), out, i * per));
    return out;
  }

  /** Conv_1 maps (NHWC, float32) of the views with the current weights; no gradient kept. */
  async maps(views: readonly Uint16Array[]): Promise<Float32Array> {
    return (await this.stack.forward(this.gather(views), undefined, { gradients: false })).upper.map;
  }

  /** Conv_1 maps of a training batch; the next backward() applies to this batch. */
  async forward(views: readonly Uint16Array[]): Promise<Float32Array> {
    this.pending = await this.stack.forward(this.gather(views));
    return this.pending.upper.map;
  }

  /**
   * One AdamW step from the loss's gradient with respect to the Conv_1 maps of the last
   * forward(); block 15, where trained, steps at `block15LearningRate`.
   */
  async backward(gradient: Float32Array, learningRate: number, block15LearningRate = learningRate): Promise<void> {
    if (!this.pending) throw new Error('segmentation trunk: backward without a forward pass');
    const pending = this.pending;
    if (gradient.length !== pending.upper.map.length) throw new Error(`segmentation trunk: ${gradient.length} gradient values for a map of ${pending.upper.map.length}`);
    this.pending = undefined;
    await this.stack.step(pending, gradient, learningRate, block15LearningRate);
  }

  async close(): Promise<void> {
    await this.stack.close();
  }
}
