// Sliding-window geometry shared by convolutions and pools: reads TF's strides, kernel,
// dilations and padding attributes and turns them into ONNX attributes and output sizes.
import type { AttrValue } from '../../onnx/graph-builder.ts';
import { attrInts, attrString, type TfNodeDef } from '../../tfjs/model-json.ts';
import { fail, type SymDim } from '../context.ts';

export type Pair = [number, number];

export interface Window {
  kernel: Pair;
  strides: Pair;
  dilations: Pair;
  padding: 'SAME' | 'VALID' | 'EXPLICIT';
  /** [top, bottom, left, right], only for EXPLICIT. */
  explicit: [number, number, number, number];
}

/** The H and W entries of a 4-element TF list attribute (NHWC or NCHW order). */
export function spatialPair(node: TfNodeDef, key: string, nhwc: boolean, fallback: number): Pair {
  const list = attrInts(node, key);
  if (list.length === 0) return [fallback, fallback];
  if (list.length !== 4) throw fail(node, `${key} must have 4 entries`);
  return nhwc ? [list[1] as number, list[2] as number] : [list[2] as number, list[3] as number];
}

export function readWindow(node: TfNodeDef, nhwc: boolean, kernel: Pair): Window {
  const padding = attrString(node, 'padding', 'VALID');
  if (padding !== 'SAME' && padding !== 'VALID' && padding !== 'EXPLICIT') throw fail(node, `padding ${padding} is not supported`);
  let explicit: Window['explicit'] = [0, 0, 0, 0];
  if (padding === 'EXPLICIT') {
    const p = attrInts(node, 'explicit_paddings');
    if (p.length !== 8) throw fail(node, 'explicit_paddings must have 8 entries');
    const h = nhwc ? 2 : 4;
    const w = nhwc ? 4 : 6;
    explicit = [p[h] as number, p[h + 1] as number, p[w] as number, p[w + 1] as number];
  }
  return {
    kernel,
    strides: spatialPair(node, 'strides', nhwc, 1),
    dilations: spatialPair(node, 'dilations', nhwc, 1),
    padding,
    explicit,
  };
}

function extent(kernel: number, dilation: number): number {
  return (kernel - 1) * dilation + 1;
}

/** Output size of one spatial axis, or null when the input size is unknown. */
function outSize(input: SymDim, axis: 0 | 1, w: Window): SymDim {
  if (typeof input !== 'number') return null;
  const k = extent(w.kernel[axis], w.dilations[axis]);
  const s = w.strides[axis];
  if (w.padding === 'SAME') return Math.ceil(input / s);
  const padded = w.padding === 'EXPLICIT' ? input + w.explicit[axis * 2]! + w.explicit[axis * 2 + 1]! : input;
  return Math.floor((padded - k) / s) + 1;
}

/**
 * ONNX pads/auto_pad for the window. TF's SAME puts the odd pixel at the end; with known
 * sizes that becomes explicit (possibly asymmetric) pads, otherwise auto_pad SAME_UPPER,
 * which ONNX defines the same way.
 */
export function windowGeometry(
  w: Window,
  inHW: [SymDim, SymDim],
  withDilations: boolean,
): { attrs: Record<string, AttrValue>; outHW: [SymDim, SymDim] } {
  const attrs: Record<string, AttrValue> = { kernel_shape: [...w.kernel], strides: [...w.strides] };
  if (withDilations) attrs['dilations'] = [...w.dilations];
  if (w.padding === 'EXPLICIT') {
    const [t, b, l, r] = w.explicit;
    attrs['pads'] = [t, l, b, r];
  } else if (w.padding === 'SAME') {
    const [h, wd] = inHW;
    if (typeof h === 'number' && typeof wd === 'number') {
      const total = [h, wd].map((size, axis) => {
        const s = w.strides[axis]!;
        const k = extent(w.kernel[axis]!, w.dilations[axis]!);
        return Math.max((Math.ceil(size / s) - 1) * s + k - size, 0);
      }) as Pair;
      const before = total.map((t) => Math.floor(t / 2)) as Pair;
      attrs['pads'] = [before[0], before[1], total[0] - before[0], total[1] - before[1]];
    } else {
      attrs['auto_pad'] = 'SAME_UPPER';
    }
  }
  return { attrs, outHW: [outSize(inHW[0], 0, w), outSize(inHW[1], 1, w)] };
}
