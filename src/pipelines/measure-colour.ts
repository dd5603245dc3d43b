// The `colour` attribute: the model's learned colour head where it answers (it learned colour
// from fashion catalogue labels only), otherwise measured from the model's own input tensor (no second decode):
// pixels are recovered from the normalised tensor and named by the palette, background
// left out. Abstains when no colour covers a clear share of the product.
import { dominantColours } from '../image/colour-names.ts';
import type { PreprocessSpec } from '../model/manifest.ts';
import type { HeadResult } from '../model/types.ts';

export const COLOUR_ABSTAIN_BELOW = 0.35;

/** RGB pixels recovered from a model input tensor, keeping every `stride`-th pixel each way. */
export function tensorToRgb(tensor: Float32Array, spec: PreprocessSpec, stride = 1): { rgb: Uint8Array; width: number; height: number } {
  const [fullHeight, fullWidth] = spec.size;
  const width = Math.ceil(fullWidth / stride);
  const height = Math.ceil(fullHeight / stride);
  const rgb = new Uint8Array(width * height * 3);
  const plane = fullWidth * fullHeight;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * stride * fullWidth + x * stride;
      for (let c = 0; c < 3; c++) {
        // Tensor channel k holds RGB channel c (BGR order reverses them).
        const k = spec.channelOrder === 'BGR' ? 2 - c : c;
        const value = spec.layout === 'NHWC' ? tensor[p * 3 + k]! : tensor[k * plane + p]!;
        rgb[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round((value * spec.std[k]! + spec.mean[k]!) / spec.scale)));
      }
    }
  }
  return { rgb, width, height };
}

export function measureColour(tensor: Float32Array, spec: PreprocessSpec): HeadResult {
  // Every 3rd pixel each way (75x75 at 224 px) is plenty for colour shares and costs little.
  const { rgb, width, height } = tensorToRgb(tensor, spec, 3);
  const shares = dominantColours(rgb, width, height).slice(0, 5);
  const top = shares.map((s) => ({ label: s.name, score: Math.round(s.share * 1e4) / 1e4 }));
  return { kind: 'single', top, abstain: (top[0]?.score ?? 0) < COLOUR_ABSTAIN_BELOW, source: 'pixels' };
}

/**
 * The one `colour` answer, so every photo has one colour field and filter and the answer says
 * how it was reached: the learned head's (`source: 'model'`, abstaining where it is not sure)
 * unless the photo is of a vertical it never learned (the gate) or the model has none; then
 * the palette's measurement (`source: 'pixels'`). On 297 held-out catalogue shots the learned
 * head's top colour is right 0.461 of the time, the palette's 0.330, their mean 0.441, and
 * "learned where sure, else palette" 0.397 (measured before the palette's mustard shades) (BENCHMARKS.md, "Accuracy across photo styles").
 */
export function chooseColour(learned: HeadResult | undefined, measure: () => HeadResult): HeadResult {
  if (learned && learned.kind === 'single' && !learned.outOfVertical) return { ...learned, source: 'model' };
  return measure();
}
