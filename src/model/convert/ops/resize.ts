// Image resizing: ResizeBilinear / ResizeNearestNeighbor as ONNX Resize on NCHW storage,
// with TF's align_corners / half_pixel_centers mapped to the matching coordinate transform.
import { attrBool, type TfNodeDef } from '../../tfjs/model-json.ts';
import { type ConversionContext, fail, type SymDim, type Value } from '../context.ts';
import { NHWC_AS_NCHW } from '../layout.ts';
import type { OpConverter, OpTable } from './types.ts';

/** Resize's `sizes` input [N, C, h, w]: N and C come from the input at run time unless known. */
function sizesInput(ctx: ConversionContext, node: TfNodeDef, x: Value, stored: string, size: Value): string {
  const [n, , , c] = x.shape;
  if (size.constant && typeof n === 'number' && typeof c === 'number') {
    return ctx.ints([n, c, ...Array.from(size.constant.data)], `${node.name}/sizes`);
  }
  const shape = ctx.graph.op1('Shape', [stored], {}, `${node.name}/shape`);
  const nc = ctx.graph.op1('Slice', [shape, ctx.ints([0]), ctx.ints([2])], {}, `${node.name}/nc`);
  const hw = size.constant ? ctx.ints(Array.from(size.constant.data)) : ctx.tensor(size);
  return ctx.graph.op1('Concat', [nc, hw], { axis: 0 }, `${node.name}/sizes`);
}

function resize(mode: 'linear' | 'nearest'): OpConverter {
  return (node, [x, size], ctx) => {
    if (!x || !size || x.shape.length !== 4) throw fail(node, 'expected a 4-D image and a size');
    const alignCorners = attrBool(node, 'align_corners', false);
    const halfPixel = attrBool(node, 'half_pixel_centers', false);
    const coordinates = alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric';
    // TF nearest picks floor(x * scale), or floor((x + 0.5) * scale) with half-pixel centers,
    // which is ONNX's half_pixel source (x + 0.5) * scale - 0.5 rounded half up; with
    // align_corners TF rounds half up too.
    const nearestMode = alignCorners || halfPixel ? 'round_prefer_ceil' : 'floor';
    const attrs = { mode, coordinate_transformation_mode: coordinates, ...(mode === 'nearest' ? { nearest_mode: nearestMode } : {}) };
    const stored = ctx.tensor(x, NHWC_AS_NCHW);
    const out = ctx.graph.op1('Resize', [stored, '', '', sizesInput(ctx, node, x, stored, size)], attrs, node.name);
    const [h, w]: SymDim[] = size.constant ? Array.from(size.constant.data) : [null, null];
    return [ctx.runtime(out, x.dtype, [x.shape[0] ?? null, h ?? null, w ?? null, x.shape[3] ?? null], NHWC_AS_NCHW)];
  };
}

export const resizeOps: OpTable = {
  ResizeBilinear: resize('linear'),
  ResizeNearestNeighbor: resize('nearest'),
};
