// The TF.js graph-model format as it appears in model.json: a TensorFlow GraphDef in
// JSON form (attribute strings base64-encoded, integers as strings) plus a weights
// manifest. These types and readers are shared by the loader, the runner and the converter.
import type * as tf from '@tensorflow/tfjs-core';

export type WeightsManifestEntry = tf.io.WeightsManifestEntry;

export interface TfShapeProto {
  dim?: Array<{ size?: string | number }>;
  unknownRank?: boolean;
}

export interface TfAttrList {
  s?: string[];
  i?: Array<string | number>;
  f?: number[];
  b?: boolean[];
  type?: string[];
  shape?: TfShapeProto[];
}

export interface TfAttrValue {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: TfShapeProto;
  list?: TfAttrList;
  tensor?: unknown;
}

export interface TfNodeDef {
  name: string;
  op: string;
  input?: string[];
  device?: string;
  attr?: Record<string, TfAttrValue>;
}

export interface TfjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: { node: TfNodeDef[]; library?: unknown; versions?: unknown };
  weightsManifest: Array<{ paths: string[]; weights: WeightsManifestEntry[] }>;
  signature?: unknown;
  userDefinedMetadata?: Record<string, unknown>;
}

/** A TF.js graph model with its weights in memory: what the converter and runner take. */
export interface TfjsModelArtifacts {
  modelJson: TfjsModelJson;
  weightSpecs: WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

const decodeBase64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

export function attrString(node: TfNodeDef, key: string, fallback: string): string {
  const s = node.attr?.[key]?.s;
  return s === undefined ? fallback : decodeBase64(s);
}

export function attrStrings(node: TfNodeDef, key: string): string[] {
  return (node.attr?.[key]?.list?.s ?? []).map(decodeBase64);
}

export function attrInts(node: TfNodeDef, key: string): number[] {
  return (node.attr?.[key]?.list?.i ?? []).map(Number);
}

export function attrInt(node: TfNodeDef, key: string, fallback: number): number {
  const i = node.attr?.[key]?.i;
  return i === undefined ? fallback : Number(i);
}

export function attrFloat(node: TfNodeDef, key: string, fallback: number): number {
  return node.attr?.[key]?.f ?? fallback;
}

export function attrBool(node: TfNodeDef, key: string, fallback: boolean): boolean {
  return node.attr?.[key]?.b ?? fallback;
}

export function attrType(node: TfNodeDef, key: string): string | undefined {
  return node.attr?.[key]?.type;
}

/** Dimensions of a shape attribute, -1 where unknown; undefined when the rank is unknown. */
export function attrShape(node: TfNodeDef, key: string): number[] | undefined {
  const shape = node.attr?.[key]?.shape;
  if (!shape || shape.unknownRank) return undefined;
  return (shape.dim ?? []).map((d) => Number(d.size ?? -1));
}

/** Graph inputs (Placeholder nodes) in model order. */
export function placeholders(model: TfjsModelJson): TfNodeDef[] {
  return model.modelTopology.node.filter((n) => n.op === 'Placeholder');
}

/**
 * Default output tensor names: the signature's outputs when present, otherwise the
 * nodes no other node consumes.
 */
export function defaultOutputs(model: TfjsModelJson): string[] {
  const signature = (model.signature ?? model.userDefinedMetadata?.['signature']) as
    | { outputs?: Record<string, { name?: string }> }
    | undefined;
  const fromSignature = Object.values(signature?.outputs ?? {})
    .map((o) => o.name?.replace(/:0$/, ''))
    .filter((n): n is string => typeof n === 'string');
  const nodes = model.modelTopology.node;
  const names = new Set(nodes.map((n) => n.name));
  if (fromSignature.length > 0 && fromSignature.every((n) => names.has(n.replace(/:\d+$/, '')))) return fromSignature;
  const consumed = new Set(nodes.flatMap((n) => (n.input ?? []).map((i) => i.replace(/^\^/, '').replace(/:\d+$/, ''))));
  return nodes.filter((n) => n.op !== 'Const' && !consumed.has(n.name)).map((n) => n.name);
}
