// Box arithmetic and class-aware non-maximum suppression. Boxes are corner boxes
// (x1, y1, x2, y2) in pixels while detectors work; users get [x, y, w, h].
import type { Box, Size } from '../image/geometry.ts';
import { GroknetError } from '../errors.ts';

export type { Box } from '../image/geometry.ts';

/** [x, y, width, height] with (x, y) the top-left corner. */
export type XywhBox = [number, number, number, number];

/** A candidate detection: a corner box, its score and its class id. */
export interface ScoredBox {
  box: Box;
  score: number;
  classId: number;
}

export function area(b: Box): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

/** Intersection over union; 0 when the union is empty (two degenerate boxes never overlap). */
export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** Clips a box to an image of `size` (corners outside are moved onto the border). */
export function clipBox(b: Box, size: Size): Box {
  const cx = (v: number): number => Math.min(size.width, Math.max(0, v));
  const cy = (v: number): number => Math.min(size.height, Math.max(0, v));
  return { x1: cx(b.x1), y1: cy(b.y1), x2: cx(b.x2), y2: cy(b.y2) };
}

export function toXywh(b: Box): XywhBox {
  return [b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1];
}

export function fromXywh([x, y, w, h]: XywhBox): Box {
  return { x1: x, y1: y, x2: x + w, y2: y + h };
}

export interface NmsOptions {
  /** A box is suppressed when its IoU with a kept, higher-scoring box is above this. */
  iouThreshold: number;
  /** Suppress only within a class (default), so a person and the handbag they hold both stay. */
  classAware?: boolean;
  /** Stop after this many kept boxes. */
  maxOutput?: number;
}

/**
 * Greedy NMS: highest score first, ties kept in input order. Candidates whose score is
 * not a finite number are dropped. Returns the kept items themselves, best first.
 */
export function nms<T extends ScoredBox>(items: readonly T[], options: NmsOptions): T[] {
  const { iouThreshold, classAware = true, maxOutput = Number.POSITIVE_INFINITY } = options;
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) throw new GroknetError('invalid_argument', `IoU threshold must be from 0 to 1, got ${iouThreshold}`);
  const order = items
    .map((item, index) => ({ item, index }))
    .filter(({ item }) => Number.isFinite(item.score))
    .sort((a, b) => b.item.score - a.item.score || a.index - b.index)
    .map(({ item }) => item);
  const kept: T[] = [];
  for (const candidate of order) {
    if (kept.length >= maxOutput) break;
    const suppressed = kept.some((k) => (!classAware || k.classId === candidate.classId) && iou(k.box, candidate.box) > iouThreshold);
    if (!suppressed) kept.push(candidate);
  }
  return kept;
}
