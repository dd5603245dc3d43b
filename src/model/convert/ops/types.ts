// What every op family exports: converters from one TF node to ONNX nodes, plus the
// small shape helpers they share.
import type { TfNodeDef } from '../../tfjs/model-json.ts';
import type { ConversionContext, SymDim, Value } from '../context.ts';

/** Converts one TF node; `inputs` are its data inputs (control inputs dropped), in order. */
export type OpConverter = (node: TfNodeDef, inputs: Value[], ctx: ConversionContext) => Value[];

export type OpTable = Readonly<Record<string, OpConverter>>;

/** NumPy/TF broadcasting of two shapes (trailing axes aligned). */
export function broadcastShapes(a: readonly SymDim[], b: readonly SymDim[]): SymDim[] {
  const rank = Math.max(a.length, b.length);
  const out: SymDim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)] : 1;
    const y = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)] : 1;
    if (x === 1) out.push(y ?? null);
    else if (y === 1) out.push(x ?? null);
    else if (typeof x === 'number') out.push(x);
    else if (typeof y === 'number') out.push(y);
    else out.push(x ?? y ?? null);
  }
  return out;
}

/** Number of elements, or null when a dimension is not a known number. */
export function knownSize(shape: readonly SymDim[]): number | null {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return null;
    n *= d;
  }
  return n;
}
