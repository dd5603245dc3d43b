// The state of one conversion: the ONNX graph being written and, for every TF tensor, the
// value that stands for it (an ONNX tensor in some axis order, or a constant still on the host).
import { GroknetError } from '../../errors.ts';
import { GraphBuilder, ONNX_BOOL, ONNX_FLOAT, ONNX_INT64 } from '../onnx/graph-builder.ts';
import type { TfNodeDef } from '../tfjs/model-json.ts';
import type { HostDtype, HostTensor } from '../tfjs/weights.ts';
import { identity, isIdentity, type Perm, permute, transposeBetween, transposeData } from './layout.ts';

/** A dimension: known size, named symbol ('batch'), or unknown (null). */
export type SymDim = number | string | null;

export interface Value {
  dtype: HostDtype;
  /** Shape in TF axis order. */
  shape: SymDim[];
  /** Storage order: ONNX axis i holds TF axis perm[i]. Constants are always identity. */
  perm: number[];
  /** ONNX tensor name; absent for constants not yet written to the graph. */
  onnx?: string;
  /** Host data, when the value is known at conversion time. */
  constant?: HostTensor;
  /** The TF op that produced this value and its inputs, for peephole fusions. */
  producer?: { op: string; inputs: readonly Value[] };
}

/** TF int32/int64 tensors are all stored as ONNX int64, the type ONNX's index ops use. */
export function onnxElemType(dtype: HostDtype): number {
  return dtype === 'float32' ? ONNX_FLOAT : dtype === 'bool' ? ONNX_BOOL : ONNX_INT64;
}

export function fail(node: TfNodeDef, message: string): GroknetError {
  return new GroknetError('conversion_failed', `${node.op} node ${node.name}: ${message}`);
}

/** Splits a TF input reference "name", "name:1" or "^name" into node and output index. */
export function parseRef(ref: string): { node: string; index: number; control: boolean } {
  const control = ref.startsWith('^');
  const bare = control ? ref.slice(1) : ref;
  const m = /^(.*):(\d+)$/.exec(bare);
  return m ? { node: m[1] as string, index: Number(m[2]), control } : { node: bare, index: 0, control };
}

export class ConversionContext {
  readonly graph: GraphBuilder;
  private readonly values = new Map<string, Value[]>();
  private readonly layouts = new WeakMap<Value, Map<string, string>>();
  private readonly scalars = new Map<string, string>();
  /** TF names of constants, so initializers read like the TF graph. */
  private readonly constantNames = new WeakMap<Value, string>();

  constructor(name: string) {
    this.graph = new GraphBuilder(name);
  }

  define(nodeName: string, outputs: Value[]): void {
    this.values.set(nodeName, outputs);
  }

  has(ref: string): boolean {
    const { node, index } = parseRef(ref);
    return this.values.get(node)?.[index] !== undefined;
  }

  value(ref: string): Value {
    const { node, index } = parseRef(ref);
    const v = this.values.get(node)?.[index];
    if (!v) throw new GroknetError('conversion_failed', `tensor ${ref} was used before it was produced`);
    return v;
  }

  runtime(onnx: string, dtype: HostDtype, shape: SymDim[], perm: Perm = identity(shape.length)): Value {
    return { onnx, dtype, shape, perm: [...perm] };
  }

  constant(t: HostTensor, tfName?: string): Value {
    const v: Value = { dtype: t.dtype, shape: [...t.shape], perm: identity(t.shape.length), constant: t };
    if (tfName) this.constantNames.set(v, tfName);
    return v;
  }

  /** The ONNX name of `v` stored in `perm` (default: TF order), transposing at most once per layout. */
  tensor(v: Value, perm: Perm = identity(v.shape.length)): string {
    const key = perm.join(',');
    let cache = this.layouts.get(v);
    if (!cache) {
      cache = new Map();
      this.layouts.set(v, cache);
    }
    const cached = cache.get(key);
    if (cached) return cached;
    let name: string;
    if (v.constant) {
      name = this.initializer(v.constant, perm, this.constantNames.get(v));
    } else {
      if (!v.onnx) throw new GroknetError('conversion_failed', 'runtime value without an ONNX tensor');
      name = isIdentity(transposeBetween(v.perm, perm))
        ? v.onnx
        : this.graph.op1('Transpose', [v.onnx], { perm: transposeBetween(v.perm, perm) }, `${v.onnx}/transposed`);
    }
    cache.set(key, name);
    return name;
  }

  /** The ONNX name of `v` in whatever layout it already has (constants in TF order). */
  stored(v: Value): string {
    return this.tensor(v, v.perm);
  }

  /** Writes a host tensor as an initializer, transposed into `perm`. */
  initializer(t: HostTensor, perm: Perm = identity(t.shape.length), hint = 'const'): string {
    const data = transposeData(t.data, t.shape, perm);
    const dims = permute(t.shape, perm);
    if (t.dtype === 'float32') return this.graph.constFloat(hint, dims, data as Float32Array);
    if (t.dtype === 'bool') return this.graph.constBool(hint, dims, data);
    return this.graph.constInt64(hint, dims, Array.from(data));
  }

  /** A shared rank-0 initializer. */
  scalar(value: number, dtype: HostDtype = 'float32'): string {
    const key = `${dtype}:${value}`;
    let name = this.scalars.get(key);
    if (!name) {
      const data = dtype === 'float32' ? Float32Array.of(value) : Int32Array.of(value);
      name = this.initializer({ dtype, shape: [], data }, [], `scalar_${value}`);
      this.scalars.set(key, name);
    }
    return name;
  }

  /** A 1-D int64 initializer (axes, pads, shapes...). */
  ints(values: readonly number[], hint = 'ints'): string {
    return this.graph.constInt64(hint, [values.length], values);
  }

  /**
   * `v` made ready to broadcast against a tensor of `rank` stored in `perm`: TF aligns
   * trailing axes, so lower-rank operands get leading 1s before being permuted.
   */
  broadcastOperand(v: Value, rank: number, perm: Perm): string {
    const missing = rank - v.shape.length;
    if (v.constant) {
      // one-element constants become shared scalars: rank 0 broadcasts against any layout
      if (v.constant.data.length === 1) return this.scalar(v.constant.data[0] as number, v.constant.dtype);
      if (missing === 0) return this.tensor(v, perm);
      const expanded: HostTensor = { ...v.constant, shape: [...new Array<number>(missing).fill(1), ...v.constant.shape] };
      return this.initializer(expanded, perm);
    }
    if (missing === 0) return this.tensor(v, perm);
    const unsqueezed = this.graph.op1('Unsqueeze', [this.tensor(v), this.ints(identity(missing))], {}, `${v.onnx}/unsqueezed`);
    const full = this.runtime(unsqueezed, v.dtype, [...new Array<number>(missing).fill(1), ...v.shape]);
    return this.tensor(full, perm);
  }

  /** Host data of input `index`, which the conversion needs to know (weights, axes, sizes). */
  requireConst(node: TfNodeDef, inputs: readonly Value[], index: number, what: string): HostTensor {
    const c = inputs[index]?.constant;
    if (!c) throw fail(node, `${what} (input ${index}) must be a constant`);
    return c;
  }
}
