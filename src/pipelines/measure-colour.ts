// The `colour` attribute: the model's learned colour head where it answers (it learned colour
// from fashion catalogue labels only), otherwise measured from the model's own input tensor (no second decode):
// pixels are recovered from the normalised tensor and named by the palette, background
// left out. Abstains when no colour covers a clear share of the product.
import { dominantColours } from '../image/colour-names.ts';
import { tensorToRgb } from '../image/tensor.ts';
import type { PreprocessSpec } from '../model/manifest.ts';
import type { HeadResult } from '../model/types.ts';

export const COLOUR_ABSTAIN_BELOW = 0.35;

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
 * Where the model carries a colour-histogram classifier for the head (`withPixels`), the two
 * are blended (src/model/heads/pixel-colour.ts), still `source: 'model'`: both were learned.
 */
export function chooseColour(learned: HeadResult | undefined, measure: () => HeadResult, withPixels?: (headTop: HeadResult & { kind: 'single' }) => HeadResult): HeadResult {
  if (learned && learned.kind === 'single' && !learned.outOfVertical) return withPixels ? withPixels(learned) : { ...learned, source: 'model' };
  return measure();
}
