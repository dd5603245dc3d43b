// Pixel accuracy and intersection-over-union from a confusion matrix over label indices,
// accumulated over a whole split (IoU per label over all its pixels, as the segmentation
// benchmarks count it, not averaged per image).

export class Confusion {
  /** counts[truth * size + predicted] */
  readonly counts: Float64Array;

  constructor(readonly size: number) {
    this.counts = new Float64Array(size * size);
  }

  add(predicted: Uint8Array, truth: Uint8Array): void {
    if (predicted.length !== truth.length) throw new Error(`prediction has ${predicted.length} pixels, truth ${truth.length}`);
    const n = this.size;
    for (let i = 0; i < truth.length; i++) {
      const t = truth[i]!;
      const p = predicted[i]!;
      if (t < n && p < n) this.counts[t * n + p]! += 1;
    }
  }

  get total(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  pixelAccuracy(): number {
    let correct = 0;
    for (let i = 0; i < this.size; i++) correct += this.counts[i * this.size + i]!;
    return correct / Math.max(1, this.total);
  }

  /** Per label: its ground-truth pixels and IoU (undefined when neither truth nor prediction has it). */
  perLabel(): Array<{ label: number; pixels: number; predicted: number; iou: number | undefined }> {
    const n = this.size;
    return Array.from({ length: n }, (_, label) => {
      let pixels = 0;
      let predicted = 0;
      for (let j = 0; j < n; j++) {
        pixels += this.counts[label * n + j]!;
        predicted += this.counts[j * n + label]!;
      }
      const hit = this.counts[label * n + label]!;
      const union = pixels + predicted - hit;
      return { label, pixels, predicted, iou: union > 0 ? hit / union : undefined };
    });
  }

  /** Mean IoU over the labels present in the ground truth. */
  meanIoU(): number {
    const present = this.perLabel().filter((l) => l.pixels > 0);
    return present.reduce((sum, l) => sum + (l.iou ?? 0), 0) / Math.max(1, present.length);
  }
}
