// Where the original image lands inside the model input. Computed here rather than left to
// sharp's fit modes, so the numbers used to map boxes back are exactly the ones the
// pipeline used.

import type { ResizeMode } from './spec.ts';

export interface Size {
  width: number;
  height: number;
}

export interface Rect extends Size {
  left: number;
  top: number;
}

/**
 * Maps original (EXIF-oriented) pixel coordinates to model-input coordinates:
 *   xInput = xOriginal * scaleX + offsetX,  yInput = yOriginal * scaleY + offsetY.
 * Offsets are the padding for letterbox (>= 0) and minus the cropped margin for
 * center-crop (<= 0).
 */
export interface Geometry {
  mode: ResizeMode;
  original: Size;
  input: Size;
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
  /** The part of the input covered by image pixels (the rest is letterbox padding). */
  content: Rect;
}

/** The sharp operations that realise a Geometry, in pipeline order. */
export interface ResizePlan {
  /** Crop of the original before resizing (center-crop of extreme aspect ratios). */
  preCrop?: Rect;
  resize: Size;
  /** Crop of the resized image (ordinary center-crop). */
  postCrop?: Rect;
  /** Letterbox padding. */
  pad?: { left: number; top: number; right: number; bottom: number };
}

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

// Resize-then-crop lets JPEG shrink-on-load do most of the work (about 2.5x faster for
// photos), but for a 20000x2 banner the resized canvas would be millions of pixels wide.
// Beyond this ratio of resized to input area, crop the original first instead.
const MAX_RESIZED_AREA_RATIO = 4;

export function planResize(original: Size, input: Size, mode: ResizeMode): { geometry: Geometry; plan: ResizePlan } {
  const { width: w0, height: h0 } = original;
  const { width: W, height: H } = input;
  const full: Rect = { left: 0, top: 0, width: W, height: H };
  const base = { mode, original: { width: w0, height: h0 }, input: { width: W, height: H } };

  if (mode === 'stretch') {
    return { geometry: { ...base, scaleX: W / w0, scaleY: H / h0, offsetX: 0, offsetY: 0, content: full }, plan: { resize: { width: W, height: H } } };
  }
  if (mode === 'letterbox') {
    const s = Math.min(W / w0, H / h0);
    const rw = clamp(Math.round(w0 * s), 1, W);
    const rh = clamp(Math.round(h0 * s), 1, H);
    const left = Math.floor((W - rw) / 2);
    const top = Math.floor((H - rh) / 2);
    const pad = rw < W || rh < H ? { left, top, right: W - rw - left, bottom: H - rh - top } : undefined;
    return {
      // Scales from the rounded size, so they are exact for the pixels produced.
      geometry: { ...base, scaleX: rw / w0, scaleY: rh / h0, offsetX: left, offsetY: top, content: { left, top, width: rw, height: rh } },
      plan: { resize: { width: rw, height: rh }, ...(pad ? { pad } : {}) },
    };
  }
  // center-crop
  const s = Math.max(W / w0, H / h0);
  const rw = Math.max(W, Math.round(w0 * s));
  const rh = Math.max(H, Math.round(h0 * s));
  if (rw * rh <= MAX_RESIZED_AREA_RATIO * W * H) {
    const left = Math.floor((rw - W) / 2);
    const top = Math.floor((rh - H) / 2);
    const postCrop = rw > W || rh > H ? { left, top, width: W, height: H } : undefined;
    return {
      geometry: { ...base, scaleX: rw / w0, scaleY: rh / h0, offsetX: negate(left), offsetY: negate(top), content: full },
      plan: { resize: { width: rw, height: rh }, ...(postCrop ? { postCrop } : {}) },
    };
  }
  const cw = clamp(Math.round(W / s), 1, w0);
  const ch = clamp(Math.round(H / s), 1, h0);
  const left = Math.floor((w0 - cw) / 2);
  const top = Math.floor((h0 - ch) / 2);
  const scaleX = W / cw;
  const scaleY = H / ch;
  return {
    geometry: { ...base, scaleX, scaleY, offsetX: negate(left * scaleX), offsetY: negate(top * scaleY), content: full },
    plan: { preCrop: { left, top, width: cw, height: ch }, resize: { width: W, height: H } },
  };
}

export function computeGeometry(original: Size, input: Size, mode: ResizeMode): Geometry {
  return planResize(original, input, mode).geometry;
}

/** Maps a box in model-input coordinates back to the original image, clipped to its bounds. */
export function boxToOriginal(box: Box, g: Geometry): Box {
  const x = (v: number): number => clamp((v - g.offsetX) / g.scaleX, 0, g.original.width);
  const y = (v: number): number => clamp((v - g.offsetY) / g.scaleY, 0, g.original.height);
  return { x1: x(box.x1), y1: y(box.y1), x2: x(box.x2), y2: y(box.y2) };
}

// Avoids -0 in offsets, which deepEqual and Object.is tell apart from 0.
function negate(v: number): number {
  return v === 0 ? 0 : -v;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
