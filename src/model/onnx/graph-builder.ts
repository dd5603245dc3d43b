// A small typed helper over onnx-proto's generated protobuf classes: collects nodes,
// initializers, inputs and outputs and serialises an ONNX ModelProto. The converter,
// the head exporter and the model composer all write graphs through it.
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto as unknown as { onnx: typeof import('onnx-proto').onnx };
export type OnnxModel = import('onnx-proto').onnx.ModelProto;
export type OnnxGraph = import('onnx-proto').onnx.IGraphProto;
export type OnnxNode = import('onnx-proto').onnx.INodeProto;
export type OnnxTensor = import('onnx-proto').onnx.ITensorProto;

export const OPSET_VERSION = 17;

export type AttrValue = number | string | number[] | string[] | { float: number } | { floats: number[] } | OnnxTensor;

/** A dimension: a fixed size, or a symbolic name such as 'batch'. */
export type Dim = number | string;

const { AttributeType } = onnx.AttributeProto;
const { DataType } = onnx.TensorProto;

export const ONNX_FLOAT = DataType.FLOAT;
export const ONNX_INT64 = DataType.INT64;
export const ONNX_INT32 = DataType.INT32;
export const ONNX_BOOL = DataType.BOOL;

function attribute(name: string, value: AttrValue): import('onnx-proto').onnx.IAttributeProto {
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { name, type: AttributeType.INT, i: value }
      : { name, type: AttributeType.FLOAT, f: value };
  }
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return { name, type: AttributeType.STRINGS, strings: (value as string[]).map((v) => new TextEncoder().encode(v)) };
    }
    const nums = value as number[];
    return nums.every((v) => Number.isInteger(v))
      ? { name, type: AttributeType.INTS, ints: nums }
      : { name, type: AttributeType.FLOATS, floats: nums };
  }
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  return { name, type: AttributeType.TENSOR, t: value };
}

export function floatTensor(name: string, dims: readonly number[], data: Float32Array | readonly number[]): OnnxTensor {
  const array = data instanceof Float32Array ? data : Float32Array.from(data);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (array.length !== expected) throw new Error(`tensor ${name}: ${array.length} values for dims [${dims.join(',')}]`);
  return {
    name,
    dims: [...dims],
    dataType: DataType.FLOAT,
    rawData: new Uint8Array(array.buffer.slice(array.byteOffset, array.byteOffset + array.byteLength)),
  };
}

export function int64Tensor(name: string, dims: readonly number[], data: readonly number[]): OnnxTensor {
  const array = BigInt64Array.from(data.map((v) => BigInt(v)));
  return { name, dims: [...dims], dataType: DataType.INT64, rawData: new Uint8Array(array.buffer) };
}

export function boolTensor(name: string, dims: readonly number[], data: ArrayLike<number | boolean>): OnnxTensor {
  const bytes = Uint8Array.from(Array.from(data, (v) => (v ? 1 : 0)));
  return { name, dims: [...dims], dataType: DataType.BOOL, rawData: bytes };
}

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  readonly inputs: import('onnx-proto').onnx.IValueInfoProto[] = [];
  readonly outputs: import('onnx-proto').onnx.IValueInfoProto[] = [];
  private counter = 0;
  private readonly used = new Set<string>();

  constructor(readonly name: string) {}

  /** A fresh tensor name that never collides with another in this graph. */
  fresh(hint: string): string {
    let candidate = hint;
    while (this.used.has(candidate)) candidate = `${hint}__${++this.counter}`;
    this.used.add(candidate);
    return candidate;
  }

  reserve(name: string): string {
    this.used.add(name);
    return name;
  }

  input(name: string, dims: readonly Dim[], elemType: number = ONNX_FLOAT): string {
    this.reserve(name);
    this.inputs.push(valueInfo(name, dims, elemType));
    return name;
  }

  output(name: string, dims: readonly Dim[] | undefined, elemType: number = ONNX_FLOAT): void {
    this.outputs.push(valueInfo(name, dims, elemType));
  }

  constFloat(hint: string, dims: readonly number[], data: Float32Array | readonly number[]): string {
    const name = this.fresh(hint);
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  constInt64(hint: string, dims: readonly number[], data: readonly number[]): string {
    const name = this.fresh(hint);
    this.initializers.push(int64Tensor(name, dims, data));
    return name;
  }

  constBool(hint: string, dims: readonly number[], data: ArrayLike<number | boolean>): string {
    const name = this.fresh(hint);
    this.initializers.push(boolTensor(name, dims, data));
    return name;
  }

  /** Adds a node and returns its output names (fresh names derived from `hint`). */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, hint = opType, outputCount = 1): string[] {
    const outputs = Array.from({ length: outputCount }, (_, i) => this.fresh(outputCount === 1 ? hint : `${hint}:${i}`));
    this.opInto(opType, inputs, outputs, attrs);
    return outputs;
  }

  /** Adds a node writing to the given output names. */
  opInto(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, AttrValue> = {}): void {
    for (const o of outputs) this.used.add(o);
    this.nodes.push({
      opType,
      input: [...inputs],
      output: [...outputs],
      name: this.fresh(`node_${opType}_${this.nodes.length}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
  }

  op1(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, hint = opType): string {
    return this.op(opType, inputs, attrs, hint, 1)[0] as string;
  }

  /**
   * Drops nodes none of whose outputs reach a graph output, then initializers nothing reads.
   * Lets writers emit eagerly and fuse afterwards (a fused pattern leaves its pieces unused).
   * Assumes nodes were added after the nodes producing their inputs, as writers do.
   */
  removeUnused(): void {
    const live = new Set(this.outputs.map((o) => o.name as string));
    const kept: OnnxNode[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i] as OnnxNode;
      if (!(node.output ?? []).some((o) => live.has(o))) continue;
      kept.push(node);
      for (const input of node.input ?? []) if (input) live.add(input);
    }
    this.nodes.splice(0, this.nodes.length, ...kept.reverse());
    const usedInits = this.initializers.filter((t) => live.has(t.name as string));
    this.initializers.splice(0, this.initializers.length, ...usedInits);
  }

  graph(): OnnxGraph {
    return {
      name: this.name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
  }

  toModel(producer = 'groknet'): Uint8Array {
    return serializeModel(this.graph(), producer);
  }
}

export function valueInfo(name: string, dims: readonly Dim[] | undefined, elemType: number = ONNX_FLOAT): import('onnx-proto').onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        ...(dims
          ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } }
          : {}),
      },
    },
  };
}

export function serializeModel(graph: OnnxGraph, producer = 'groknet'): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: producer,
    opsetImport: [{ domain: '', version: OPSET_VERSION }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

export function parseModel(bytes: Uint8Array): OnnxModel {
  return onnx.ModelProto.decode(bytes);
}
