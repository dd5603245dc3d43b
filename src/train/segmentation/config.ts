// The segmentation trainer's settings (JSON: `train-main.ts --config`, and the record in the
// artifact's model.json), validated with Zod like the unified trainer's config: defaults for
// what is left out, unknown fields are errors (a misspelt setting would otherwise train the
// defaults), and settings that cannot work together are refused before any photo is read.
import { z } from 'zod';
import { GroknetError } from '../../errors.ts';
import { SEGMENT_INPUT, SEGMENT_TAPS } from '../../segment/taps.ts';

/** An input side the taps divide exactly: each tap is then exactly twice the next. */
const isInputSide = (n: number): boolean => Number.isInteger(n) && n >= 64 && n <= 1024 && n % 32 === 0;
const share = z.number().gt(0).max(1);
const frozenOrRate = z.number().min(0, 'must be 0 (frozen) or positive');

export const segmentTrainConfigSchema = z
  .strictObject({
    epochs: z.number().int().min(1).default(24),
    batchSize: z.number().int().min(1).default(16),
    learningRate: z.number().positive().default(3e-3),
    /** Decoupled decay per step: kernel *= 1 - lr * weightDecay. */
    weightDecay: z.number().min(0).default(0.05),
    /** Channels per level, coarse to fine: one per tap. */
    widths: z.array(z.number().int().min(1)).length(SEGMENT_TAPS.length, `one width per decoder level (${SEGMENT_TAPS.length})`).default(() => [128, 128, 64]),
    /** A 3x3 conv after each level's sum (levels left out have none). */
    mix: z.array(z.boolean()).max(SEGMENT_TAPS.length).default(() => [true, false, false]),
    /** Image-level context (the global mean of the coarsest map) added on the coarsest level. */
    context: z.boolean().default(true),
    dropout: z.number().min(0).lt(1).default(0.1),
    flip: z.boolean().default(true),
    /**
     * Cropped views per training photo (cached like the others): a random region of
     * `cropScale` of its width and height, mirrored for every other crop. Each epoch
     * still sees every photo once, as a crop with probability `cropProbability`.
     */
    cropViews: z.number().int().min(0).default(0),
    cropScale: z
      .tuple([share, share])
      .refine(([low, high]) => low <= high, 'must be [smallest, largest] share')
      .default((): [number, number] => [0.55, 0.85]),
    cropProbability: z.number().min(0).max(1).default(0.5),
    /** label -> label it is trained as (and written as). */
    merge: z.record(z.string(), z.string()).default(() => ({})),
    /** Class weight = (prior / largest prior) ^ -power, capped: 0 is plain cross-entropy. */
    classWeightPower: z.number().min(0).default(0.3),
    classWeightCap: z.number().min(1).default(20),
    /**
     * Weight of a soft Dice term added to the cross-entropy: 1 - the mean over classes of
     * 2|P∩T| / (|P| + |T|) on the batch's softmax outputs. Dice weighs every class alike,
     * as mIoU does, where the cross-entropy is dominated by the background.
     */
    diceWeight: z.number().min(0).default(0),
    /**
     * Fine-tune block 16 + Conv_1 (from upperTrunkFrom, else the packaged ones) with the
     * decoder at this peak learning rate (same warm-up and cosine); 0 keeps them frozen.
     */
    upperTrunkLearningRate: frozenOrRate.default(0),
    /**
     * Fine-tune block 15 too (from the packaged backbone) at this peak learning rate; 0 keeps
     * it frozen. Needs upperTrunkLearningRate > 0.
     */
    block15LearningRate: frozenOrRate.default(0),
    /**
     * Letterboxed input [height, width], multiples of 32 so that each tap is exactly twice the
     * next: larger inputs show small garments (belts, scarves, jewellery) over more cells.
     */
    inputSize: z
      .tuple([z.number(), z.number()])
      .refine((size) => size.every(isInputSide), 'must be [height, width], each a multiple of 32 from 64 to 1024')
      .default((): [number, number] => [SEGMENT_INPUT.size[0], SEGMENT_INPUT.size[1]]),
    seed: z.number().int().min(0).default(17),
    /** Validate every this many epochs (and after the last). */
    evalEvery: z.number().int().min(1).default(4),
    /**
     * 'val': train on the whole train split, validate on the held-out photos (the shipped
     * model). 'dev': hold a part of the train split out and validate on it, for choosing
     * settings without looking at the held-out photos.
     */
    validateOn: z.enum(['val', 'dev']).default('val'),
    /**
     * A product model directory (written by the unified trainer with a fine-tuned upper
     * trunk) whose block 16 + Conv_1 replace the packaged ones under the decoder; absent:
     * the packaged trunk throughout.
     */
    upperTrunkFrom: z.string().min(1).optional(),
    /** Use only this many photos of each split (smoke runs). */
    maxPhotos: z.number().int().min(1).optional(),
    /** Folder holding clothing-parsing/. */
    datasets: z.string().min(1),
    /** Where the artifact (decoder.onnx + model.json) is written. */
    out: z.string().min(1),
  })
  .refine((config) => config.block15LearningRate === 0 || config.upperTrunkLearningRate > 0, {
    path: ['block15LearningRate'],
    message: 'needs upperTrunkLearningRate > 0: block 15 is trained under a trained block 16',
  });

/** The settings a run trains with, defaults filled in. */
export type SegmentTrainConfig = z.output<typeof segmentTrainConfigSchema>;
/** The settings as given: `datasets` and `out`, and whatever differs from the defaults. */
export type SegmentTrainSettings = z.input<typeof segmentTrainConfigSchema>;

/** The settings checked, defaults filled in; invalid_config naming each problem otherwise. */
export function parseSegmentTrainConfig(value: unknown, where = 'segmentation config'): SegmentTrainConfig {
  const parsed = segmentTrainConfigSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 6).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new GroknetError('invalid_config', `${where}: ${problems}`);
  }
  return parsed.data;
}
