// model.json: what a model artifact declares about its graph, validated with Zod so a
// wrong or hand-edited manifest fails with a clear message instead of wrong answers.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { GroknetError, zodIssuesText } from '../errors.ts';
import { PreprocessSpecSchema } from '../image/spec.ts';

export const MANIFEST_FORMAT_VERSION = 1;

const headTitle = z.string().trim().min(1).max(60).optional();

const headSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/),
    kind: z.literal('single'),
    output: z.string().min(1),
    labels: z.array(z.string().min(1)).min(2),
    /** Below this top score the head abstains (the listing leaves the field for the seller). */
    abstainBelow: z.number().min(0).max(1).default(0),
    trainedOn: z.string().optional(),
    /** A classifier of the photo's colour histograms blended with this head (src/model/heads/pixel-colour.ts): its file, relative to the manifest. */
    pixels: z.strictObject({ file: z.string().min(1) }).optional(),
    /** The kind of product this head describes: shown only where the model's `vertical` head says the photo is of it (or is not sure). */
    vertical: z.string().min(1).optional(),
    /** What a person calls this head's field ("Grocery item"): menus and reasons say it instead of the head's name. */
    title: headTitle,
  }),
  z.strictObject({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/),
    kind: z.literal('multi'),
    output: z.string().min(1),
    labels: z.array(z.string().min(1)).min(1),
    /** Per-label score thresholds (calibrated); one value for all when a single number. */
    thresholds: z.union([z.number().min(0).max(1), z.array(z.number().min(0).max(1))]),
    trainedOn: z.string().optional(),
    /** The kind of product this head describes: shown only where the model's `vertical` head says the photo is of it (or is not sure). */
    vertical: z.string().min(1).optional(),
    /** What a person calls this head's field ("Grocery item"): menus and reasons say it instead of the head's name. */
    title: headTitle,
  }),
]);

const embeddingSchema = z.strictObject({
  output: z.string().min(1),
  dim: z.number().int().min(2).max(4096),
  /** Output holding the projection whose signs are the binary code. */
  codeOutput: z.string().min(1),
  codeBits: z.number().int().min(8).max(4096),
  /** Cosine similarity at or above which two images are the same product. */
  exactMatchThreshold: z.number().min(-1).max(1),
  /**
   * The heads the threshold's same-product pairs were labelled for: a product that every one
   * of them is sure of (labels not abstained) is where the threshold was calibrated; a match
   * elsewhere is never called exact, only similar. Absent: calibrated for every photo.
   */
  exactMatchHeads: z.array(z.string().min(1)).min(1).optional(),
});

export const manifestSchema = z.strictObject({
  formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
  name: z.string().min(1),
  version: z.string().min(1),
  description: z.string().optional(),
  backbone: z.strictObject({
    id: z.string().min(1),
    /** TF.js node names of the backbone whose values feed the trained part. */
    tensors: z.array(z.string().min(1)).min(1),
  }),
  input: PreprocessSpecSchema,
  /** The trained part (pooling + shared layers + heads) as an ONNX graph, relative to the manifest. */
  headsFile: z.string().min(1),
  /** Present when the directory holds the complete graph (backbone included). */
  modelFile: z.string().min(1).optional(),
  heads: z.array(headSchema),
  embedding: embeddingSchema,
  training: z.record(z.string(), z.unknown()).optional(),
  evaluation: z.record(z.string(), z.unknown()).optional(),
});

export type ModelManifest = z.infer<typeof manifestSchema>;
export type HeadSpec = z.infer<typeof headSchema>;
/** Kept for the modules that import it from here: the one schema is src/image/spec.ts. */
export type { PreprocessSpec } from '../image/spec.ts';

export function parseManifest(value: unknown, where = 'model.json'): ModelManifest {
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    throw new GroknetError('model_invalid', `${where}: ${zodIssuesText(parsed.error)}`);
  }
  const names = new Set<string>();
  for (const head of parsed.data.heads) {
    if (names.has(head.name)) throw new GroknetError('model_invalid', `${where}: head '${head.name}' is declared twice`);
    names.add(head.name);
    if (head.kind === 'multi' && Array.isArray(head.thresholds) && head.thresholds.length !== head.labels.length) {
      throw new GroknetError('model_invalid', `${where}: head '${head.name}' has ${head.thresholds.length} thresholds for ${head.labels.length} labels`);
    }
  }
  return parsed.data;
}

/** The JSON of a model.json: model_not_found when it cannot be read, model_invalid when it is not JSON. */
export async function readManifestJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new GroknetError('model_not_found', `no model.json at ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new GroknetError('model_invalid', 'model.json is not valid JSON');
  }
}

export async function readManifest(path: string): Promise<ModelManifest> {
  return parseManifest(await readManifestJson(path));
}
