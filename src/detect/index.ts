// Object detection: find the products in a photo. Two COCO detectors from npm packages
// behind one interface; the taxonomy says which classes are products and of what vertical.
import { GroknetError } from '../errors.ts';
import { CenterNetDetector } from './centernet.ts';
import { DETECTOR_NAMES, type Detector, type DetectorName, type DetectorOptions } from './detector.ts';
import { NanoDetDetector } from './nanodet.ts';

export { COCO_CLASSES, cocoClassName, cocoClassId, type CocoClass } from './coco-classes.ts';
export { categorise, classesOf, PRODUCT_VERTICALS, type Category, type ProductVertical } from './taxonomy.ts';
export { area, clipBox, fromXywh, iou, nms, toXywh, type Box, type ScoredBox, type XywhBox } from './nms.ts';
export {
  DEFAULT_DETECT_OPTIONS,
  DETECTOR_NAMES,
  type Detection,
  type DetectOptions,
  type Detector,
  type DetectorName,
  type DetectorOptions,
} from './detector.ts';
export { CenterNetDetector } from './centernet.ts';
export { NanoDetDetector } from './nanodet.ts';

/**
 * The detector used when none is named, chosen from bench/detect.ts (BENCHMARKS.md,
 * section "detect"). On 200 street-fashion photos CenterNet found the photographed
 * person (score >= 0.3, IoU >= 0.5 with the person's mask box) in 98.5% against
 * NanoDet's 82.5% (mean IoU 0.90 vs 0.74); a person box is where garments are looked
 * for, so that weighs most. On fruit photos both had 29/33 top classes right on
 * grocery val (NanoDet better on a train sample, 89% vs 82%). NanoDet is about 10%
 * faster end to end (146 vs 162 ms per photo on 2 shared cores), not enough to make
 * up for missing one person in six.
 */
export const DEFAULT_DETECTOR: DetectorName = 'centernet';

export function isDetectorName(value: string): value is DetectorName {
  return (DETECTOR_NAMES as readonly string[]).includes(value);
}

export async function openDetector(name: string = DEFAULT_DETECTOR, options: DetectorOptions = {}): Promise<Detector> {
  if (!isDetectorName(name)) throw new GroknetError('invalid_argument', `unknown detector '${name}' (known: ${DETECTOR_NAMES.join(', ')})`);
  return name === 'centernet' ? CenterNetDetector.open(options) : NanoDetDetector.open(options);
}
