// Constant folding on the host for nodes whose inputs are all constants. Exported graphs
// (notably onnx-tf ones like nanodet) compute Reshape shapes with SparseToDense/Add chains on
// constants; evaluating them here keeps the ONNX graph static and those ops unneeded at run time.
import { attrInt, attrInts, attrType, type TfNodeDef } from '../tfjs/model-json.ts';
import type { HostDtype, HostTensor } from '../tfjs/weights.ts';
import { fail } from './context.ts';
import { normAxis, transposeData } from './layout.ts';

export type Folder = (node: TfNodeDef, inputs: HostTensor[]) => HostTensor[];

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function make(dtype: HostDtype, shape: number[], values: ArrayLike<number>): HostTensor {
  return { dtype, shape, data: dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values, (v) => Math.trunc(v)) };
}

/** Elementwise op with NumPy broadcasting. */
function broadcast(f: (a: number, b: number) => number, resultDtype?: HostDtype): Folder {
  return (node, [a, b]) => {
    if (!a || !b) throw fail(node, 'expected 2 inputs');
    const rank = Math.max(a.shape.length, b.shape.length);
    const pad = (s: number[]) => [...new Array<number>(rank - s.length).fill(1), ...s];
    const [sa, sb] = [pad(a.shape), pad(b.shape)];
    const shape = sa.map((d, i) => (d === 1 ? (sb[i] as number) : d));
    const strides = (s: number[]) => {
      const out = new Array<number>(rank).fill(0);
      let acc = 1;
      for (let i = rank - 1; i >= 0; i--) {
        out[i] = s[i] === 1 ? 0 : acc;
        acc *= s[i] as number;
      }
      return out;
    };
    const [ta, tb] = [strides(sa), strides(sb)];
    const values = new Array<number>(size(shape));
    for (let flat = 0; flat < values.length; flat++) {
      let rest = flat;
      let ia = 0;
      let ib = 0;
      for (let axis = rank - 1; axis >= 0; axis--) {
        const dim = shape[axis] as number;
        const idx = rest % dim;
        rest = Math.floor(rest / dim);
        ia += idx * (ta[axis] as number);
        ib += idx * (tb[axis] as number);
      }
      values[flat] = f(a.data[ia] as number, b.data[ib] as number);
    }
    return [make(resultDtype ?? a.dtype, shape, values)];
  };
}

const sparseToDense: Folder = (node, [indices, outputShape, values, fallback]) => {
  if (!indices || !outputShape || !values || !fallback) throw fail(node, 'expected 4 inputs');
  const shape = Array.from(outputShape.data);
  const dense = new Array<number>(size(shape)).fill(fallback.data[0] as number);
  const rows = indices.shape.length === 0 ? 1 : (indices.shape[0] as number);
  const width = indices.shape.length === 2 ? (indices.shape[1] as number) : 1;
  for (let r = 0; r < rows; r++) {
    let flat = 0;
    for (let c = 0; c < width; c++) flat = flat * (shape[c] as number) + (indices.data[r * width + c] as number);
    dense[flat] = values.data[values.data.length === 1 ? 0 : r] as number;
  }
  return [make(values.dtype, shape, dense)];
};

const reshape: Folder = (node, [x, target]) => {
  if (!x || !target) throw fail(node, 'expected 2 inputs');
  const dims = Array.from(target.data);
  const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  return [{ ...x, shape: dims.map((d) => (d === -1 ? x.data.length / known : d)) }];
};

const cast: Folder = (node, [x]) => {
  if (!x) throw fail(node, 'missing input');
  const to = attrType(node, 'DstT');
  if (to === 'DT_FLOAT') return [make('float32', x.shape, x.data)];
  if (to === 'DT_BOOL') return [{ dtype: 'bool', shape: x.shape, data: Int32Array.from(x.data, (v) => (v ? 1 : 0)) }];
  return [make('int32', x.shape, x.data)];
};

const expandDims: Folder = (node, [x, dim]) => {
  if (!x || !dim) throw fail(node, 'expected 2 inputs');
  const shape = [...x.shape];
  shape.splice(normAxis(dim.data[0] as number, shape.length + 1), 0, 1);
  return [{ ...x, shape }];
};

const squeeze: Folder = (node, [x]) => {
  if (!x) throw fail(node, 'missing input');
  const axes = attrInts(node, 'squeeze_dims').map((a) => normAxis(a, x.shape.length));
  return [{ ...x, shape: x.shape.filter((d, i) => (axes.length > 0 ? !axes.includes(i) : d !== 1)) }];
};

const transpose: Folder = (node, [x, perm]) => {
  if (!x || !perm) throw fail(node, 'expected 2 inputs');
  const p = Array.from(perm.data);
  return [{ ...x, shape: p.map((i) => x.shape[i] as number), data: transposeData(x.data, x.shape, p) }];
};

/** Concatenation along any axis: interleave blocks of each input. */
function concatHost(node: TfNodeDef, parts: HostTensor[], axisValue: number): HostTensor {
  const first = parts[0];
  if (!first) throw fail(node, 'nothing to concatenate');
  const axis = normAxis(axisValue, first.shape.length);
  const outer = size(first.shape.slice(0, axis));
  const values: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const block = size(p.shape.slice(axis));
      for (let i = 0; i < block; i++) values.push(p.data[o * block + i] as number);
    }
  }
  const shape = [...first.shape];
  shape[axis] = parts.reduce((n, p) => n + (p.shape[axis] as number), 0);
  return make(first.dtype, shape, values);
}

const concatV2: Folder = (node, inputs) => [concatHost(node, inputs.slice(0, -1), inputs[inputs.length - 1]?.data[0] ?? 0)];

const pack: Folder = (node, inputs) => {
  const axis = attrInt(node, 'axis', 0);
  const expanded = inputs.map((t) => {
    const shape = [...t.shape];
    shape.splice(normAxis(axis, shape.length + 1), 0, 1);
    return { ...t, shape };
  });
  return [concatHost(node, expanded, axis)];
};

const floorMod = (a: number, b: number) => a - Math.floor(a / b) * b;

export const folders: Readonly<Record<string, Folder>> = {
  Identity: (_node, inputs) => inputs.slice(0, 1),
  Cast: cast,
  Add: broadcast((a, b) => a + b),
  AddV2: broadcast((a, b) => a + b),
  Sub: broadcast((a, b) => a - b),
  Mul: broadcast((a, b) => a * b),
  RealDiv: broadcast((a, b) => a / b),
  FloorDiv: broadcast((a, b) => Math.floor(a / b)),
  FloorMod: broadcast(floorMod),
  Maximum: broadcast(Math.max),
  Minimum: broadcast(Math.min),
  SparseToDense: sparseToDense,
  Reshape: reshape,
  ExpandDims: expandDims,
  Squeeze: squeeze,
  Transpose: transpose,
  ConcatV2: concatV2,
  Pack: pack,
};
