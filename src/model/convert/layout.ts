// Axis permutations. A converted tensor may be stored in ONNX transposed relative to its TF
// tensor: `onnx = transpose(tf, perm)`, i.e. ONNX axis i holds TF axis perm[i]. Convolutions
// want NHWC data stored as NCHW (perm [0,3,1,2]); tracking perms lets a chain of ops stay
// NCHW and only transpose where a layout-sensitive op or an exposed output needs TF order.

export type Perm = readonly number[];

export const NHWC_AS_NCHW: Perm = [0, 3, 1, 2];

export function identity(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i);
}

export function isIdentity(perm: Perm): boolean {
  return perm.every((p, i) => p === i);
}

export function invert(perm: Perm): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return inv;
}

/** ONNX Transpose perm that turns data stored with `from` into data stored with `to`. */
export function transposeBetween(from: Perm, to: Perm): number[] {
  const inv = invert(from);
  return to.map((t) => inv[t] as number);
}

/** Where TF axis `axis` lives in ONNX storage. */
export function onnxAxis(perm: Perm, axis: number): number {
  return perm.indexOf(axis);
}

/** Normalises a possibly negative TF axis. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Applies a permutation to a list given in TF axis order (shape, pads, strides...). */
export function permute<T>(values: readonly T[], perm: Perm): T[] {
  return perm.map((p) => values[p] as T);
}

/** The perm left after removing TF axes (Squeeze, reductions without keep_dims). */
export function dropAxes(perm: Perm, removed: readonly number[]): number[] {
  const kept = perm.filter((p) => !removed.includes(p));
  return kept.map((p) => p - removed.filter((r) => r < p).length);
}

/**
 * The storage perm of a TF Transpose's output: with input stored as `stored` and TF perm
 * `tfPerm`, the same ONNX data holds the output under perm r, r[i] = inv(tfPerm)[stored[i]].
 */
export function afterTranspose(stored: Perm, tfPerm: Perm): number[] {
  const inv = invert(tfPerm);
  return stored.map((s) => inv[s] as number);
}

/** Transposes row-major data: out dims are shape[perm[i]]. */
export function transposeData<T extends Float32Array | Int32Array>(data: T, shape: readonly number[], perm: Perm): T {
  if (isIdentity(perm)) return data;
  const rank = shape.length;
  const outShape = permute(shape, perm);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i] as number;
  }
  // stride in the input for each output axis
  const strides = perm.map((p) => inStrides[p] as number);
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < data.length; o++) {
    out[o] = data[src] as number;
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis] = (index[axis] as number) + 1;
      src += strides[axis] as number;
      if ((index[axis] as number) < (outShape[axis] as number)) break;
      src -= (strides[axis] as number) * (outShape[axis] as number);
      index[axis] = 0;
    }
  }
  return out;
}
