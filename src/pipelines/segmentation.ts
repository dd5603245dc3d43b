// What a segmentation is, apart from the model that makes it: a label per pixel of the
// photo. Its own module because both sides use it: the segmenter makes it (segment.ts) and
// the garment finder reads it (garments.ts), which the segmenter runs in turn.

export interface Segmentation {
  width: number;
  height: number;
  /** Label index per pixel, row-major (0 = background). */
  mask: Uint8Array;
  /** The label list the mask values index. */
  labels: readonly string[];
}
