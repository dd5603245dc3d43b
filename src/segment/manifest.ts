// model.json of a segmentation artifact (models/groknet-segment): the trunk and the taps
// it reads, the input preparation, the decoder file and output, the output grid, and the
// label list the masks index. Validated with Zod, like the product model's manifest.
import { z } from 'zod';
import { GroknetError, zodIssuesText } from '../errors.ts';
import { PreprocessSpecSchema } from '../image/spec.ts';
import { readManifestJson } from '../model/manifest.ts';

export const SEGMENT_FORMAT_VERSION = 1;

// The trunk is TF's graph, which takes NHWC: a manifest asking for NCHW would feed it transposed pixels.
const segmentInputSchema = PreprocessSpecSchema.extend({ layout: z.literal('NHWC') });

export const segmentManifestSchema = z.strictObject({
  formatVersion: z.literal(SEGMENT_FORMAT_VERSION),
  kind: z.literal('segmentation'),
  name: z.string().min(1),
  version: z.string().min(1),
  description: z.string().optional(),
  backbone: z.strictObject({
    id: z.string().min(1),
    /** TF node names of the trunk tensors the decoder reads, coarse to fine. */
    tensors: z.array(z.string().min(1)).min(1),
  }),
  input: segmentInputSchema,
  /** The decoder as ONNX (inputs: the backbone tensors by name), relative to the manifest. */
  decoderFile: z.string().min(1),
  /** Decoder output: logits [batch, grid.height, grid.width, classes]. */
  output: z.string().min(1),
  grid: z.strictObject({
    height: z.number().int().positive(),
    width: z.number().int().positive(),
    stride: z.number().positive(),
    offset: z.number(),
  }),
  /** The label list mask values index (0 = background). */
  labels: z.array(z.string().min(1)).min(2).max(256),
  /** Label index each decoder class writes, in output-channel order. */
  classLabels: z.array(z.number().int().min(0).max(255)).min(2),
  /** Labels merged into another for training (label -> the label it writes). */
  merged: z.record(z.string(), z.string()).default({}),
  /** Labels never offered as garments (background, skin, hair). */
  notGarments: z.array(z.string()).default(['null', 'skin', 'hair']),
  training: z.record(z.string(), z.unknown()).optional(),
  evaluation: z.record(z.string(), z.unknown()).optional(),
});

export type SegmentManifest = z.infer<typeof segmentManifestSchema>;

export function parseSegmentManifest(value: unknown, where = 'model.json'): SegmentManifest {
  const parsed = segmentManifestSchema.safeParse(value);
  if (!parsed.success) {
    throw new GroknetError('model_invalid', `${where}: ${zodIssuesText(parsed.error)}`);
  }
  const m = parsed.data;
  const bad = m.classLabels.find((i) => i >= m.labels.length);
  if (bad !== undefined) throw new GroknetError('model_invalid', `${where}: class label ${bad} is not in the ${m.labels.length} labels`);
  if (new Set(m.classLabels).size !== m.classLabels.length) throw new GroknetError('model_invalid', `${where}: two classes write the same label`);
  for (const [from, to] of Object.entries(m.merged)) {
    if (!m.labels.includes(from) || !m.labels.includes(to)) throw new GroknetError('model_invalid', `${where}: merged '${from}' -> '${to}' names an unknown label`);
  }
  return m;
}

export async function readSegmentManifest(file: string): Promise<SegmentManifest> {
  return parseSegmentManifest(await readManifestJson(file));
}
