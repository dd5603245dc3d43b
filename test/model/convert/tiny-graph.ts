// Test helper: builds small TF.js graph models in memory, then checks the ONNX conversion
// against TF.js itself (same weights, same input) with onnxruntime-node.
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { type ConvertOptions, convertTfjsGraphToOnnx } from '../../../src/model/convert/tfjs-to-onnx.ts';
import type { TfAttrValue, TfjsModelArtifacts, TfNodeDef, WeightsManifestEntry } from '../../../src/model/tfjs/model-json.ts';
import { runTfjsGraph } from '../../../src/model/tfjs/run-tfjs.ts';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** model.json attribute encodings. */
export const attr = {
  s: (v: string): TfAttrValue => ({ s: b64(v) }),
  strs: (v: string[]): TfAttrValue => ({ list: { s: v.map(b64) } }),
  ints: (v: number[]): TfAttrValue => ({ list: { i: v.map(String) } }),
  i: (v: number): TfAttrValue => ({ i: String(v) }),
  f: (v: number): TfAttrValue => ({ f: v }),
  b: (v: boolean): TfAttrValue => ({ b: v }),
  type: (v: string): TfAttrValue => ({ type: v }),
};

/** Deterministic uniform numbers in [-1, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  };
}

export class TinyGraph {
  private readonly nodes: TfNodeDef[] = [];
  private readonly weights: Array<{ spec: WeightsManifestEntry; bytes: Uint8Array }> = [];
  readonly random: () => number;

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  input(name: string, shape: number[]): string {
    this.nodes.push({
      name,
      op: 'Placeholder',
      attr: { dtype: attr.type('DT_FLOAT'), shape: { shape: { dim: shape.map((d) => ({ size: String(d) })) } } },
    });
    return name;
  }

  /** A float32 constant; random values in [-scale, scale) unless given. */
  floats(name: string, shape: number[], values?: number[], scale = 1): string {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = values ? Float32Array.from(values) : Float32Array.from({ length: n }, () => this.random() * scale);
    return this.constant(name, shape, 'float32', new Uint8Array(data.buffer));
  }

  ints(name: string, values: number[], shape: number[] = [values.length]): string {
    return this.constant(name, shape, 'int32', new Uint8Array(Int32Array.from(values).buffer));
  }

  private constant(name: string, shape: number[], dtype: 'float32' | 'int32', bytes: Uint8Array): string {
    const tfType = dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
    this.nodes.push({ name, op: 'Const', attr: { dtype: attr.type(tfType), value: { tensor: { dtype: tfType } } } });
    this.weights.push({ spec: { name, shape, dtype }, bytes });
    return name;
  }

  node(name: string, op: string, inputs: string[], attrs: Record<string, TfAttrValue> = {}): string {
    this.nodes.push({ name, op, input: inputs, attr: { T: attr.type('DT_FLOAT'), ...attrs } });
    return name;
  }

  build(): TfjsModelArtifacts {
    const total = this.weights.reduce((n, w) => n + w.bytes.byteLength, 0);
    const data = new Uint8Array(total);
    let offset = 0;
    for (const w of this.weights) {
      data.set(w.bytes, offset);
      offset += w.bytes.byteLength;
    }
    const weightSpecs = this.weights.map((w) => w.spec);
    return {
      modelJson: {
        format: 'graph-model',
        generatedBy: 'test',
        convertedBy: 'test',
        modelTopology: { node: this.nodes, versions: { producer: 1 } },
        weightsManifest: [{ paths: ['weights.bin'], weights: weightSpecs }],
      },
      weightSpecs,
      weightData: data.buffer,
    };
  }
}

export function randomInput(shape: number[], seed = 7, scale = 1): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() * scale);
}

export interface Comparison {
  maxDiff: number;
  /** Largest |value| in the TF.js output, to judge the diff against. */
  maxAbs: number;
  onnxShape: number[];
  tfjsShape: number[];
}

/** Runs a converted model with onnxruntime-node. */
export async function runOnnx(bytes: Uint8Array, input: Float32Array, shape: number[]): Promise<Record<string, { data: number[]; dims: number[] }>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const result = await session.run({ input: new ort.Tensor('float32', input, shape) });
    const out: Record<string, { data: number[]; dims: number[] }> = {};
    for (const [name, t] of Object.entries(result)) {
      out[name] = { data: Array.from(t.data as ArrayLike<number | bigint>, Number), dims: [...t.dims] };
    }
    return out;
  } finally {
    await session.release();
  }
}

/** Converts, runs both runtimes on the same input, and reports per-output differences. */
export async function compareWithTfjs(
  model: TfjsModelArtifacts,
  input: Float32Array,
  shape: number[],
  outputs: string[],
  options: Omit<ConvertOptions, 'outputs'> = {},
): Promise<Record<string, Comparison>> {
  const bytes = convertTfjsGraphToOnnx(model, { ...options, outputs });
  const [onnx, tfjs] = [await runOnnx(bytes, input, shape), await runTfjsGraph(model, input, shape, outputs)];
  const report: Record<string, Comparison> = {};
  for (const name of outputs) {
    const a = onnx[name];
    const b = tfjs[name];
    if (!a || !b) throw new Error(`output ${name} missing (onnx: ${Boolean(a)}, tfjs: ${Boolean(b)})`);
    let maxDiff = a.data.length === b.data.length ? 0 : Infinity;
    let maxAbs = 0;
    for (let i = 0; i < b.data.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs((a.data[i] as number) - (b.data[i] as number)));
      maxAbs = Math.max(maxAbs, Math.abs(b.data[i] as number));
    }
    if (Number.isNaN(maxDiff)) maxDiff = Infinity;
    report[name] = { maxDiff, maxAbs, onnxShape: a.dims, tfjsShape: b.shape };
  }
  return report;
}

/** Every output has TF.js's shape and lies within `tolerance` of it (scaled by magnitude when `relative`). */
export function assertClose(report: Record<string, Comparison>, tolerance: number, relative = false): void {
  for (const [name, c] of Object.entries(report)) {
    assert.deepEqual(c.onnxShape, c.tfjsShape, `${name}: shape`);
    const limit = relative ? tolerance * Math.max(1, c.maxAbs) : tolerance;
    assert.ok(c.maxDiff < limit, `${name}: max abs diff ${c.maxDiff} >= ${limit}`);
  }
}
