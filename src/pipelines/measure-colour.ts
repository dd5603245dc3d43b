// The `colour` attribute measured from the model's own input tensor (no second decode):
// pixels are recovered from the normalised tensor and named by the palette, background
// left out. Abstains when no colour covers a clear share of the product.
import { dominantColours } from '../image/colour-names.ts';
import type { PreprocessSpec } from '../model/manifest.ts';
import type { HeadResult } from '../model/types.ts';

export const COLOUR_ABSTAIN_BELOW = 0.35;

export function tensorToRgb(tensor: Float32Array, spec: PreprocessSpec): { rgb: Uint8Array; width: number; height: number } {
  const [height, width] = spec.size;
  const rgb = new Uint8Array(width * height * 3);
  const plane = width * height;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      // Tensor channel k holds RGB channel c (BGR order reverses them).
      const k = spec.channelOrder === 'BGR' ? 2 - c : c;
      const value = spec.layout === 'NHWC' ? tensor[p * 3 + k]! : tensor[k * plane + p]!;
      rgb[p * 3 + c] = Math.max(0, Math.min(255, Math.round((value * spec.std[k]! + spec.mean[k]!) / spec.scale)));
    }
  }
  return { rgb, width, height };
}

export function measureColour(tensor: Float32Array, spec: PreprocessSpec): HeadResult {
  const { rgb, width, height } = tensorToRgb(tensor, spec);
  const shares = dominantColours(rgb, width, height).slice(0, 5);
  const top = shares.map((s) => ({ label: s.name, score: Math.round(s.share * 1e4) / 1e4 }));
  return { kind: 'single', top, abstain: (top[0]?.score ?? 0) < COLOUR_ABSTAIN_BELOW, source: 'pixels' };
}
