// An analyzer that runs images its own way (through a queue, from answers in hand) while its
// model's facts (version, threshold, calibration heads, dimension) are read from another, at
// each use: one place to forward them, so a fact added to Analyzer reaches every view.
import type { Analyzer } from './types.ts';

export function analyzerView(model: () => Analyzer, run: Pick<Analyzer, 'analyzeBuffers' | 'close'>): Analyzer {
  return {
    get modelVersion() {
      return model().modelVersion;
    },
    get exactMatchThreshold() {
      return model().exactMatchThreshold;
    },
    get exactMatchHeads() {
      return model().exactMatchHeads;
    },
    get headVerticals() {
      return model().headVerticals;
    },
    get headTitles() {
      return model().headTitles;
    },
    get embeddingDim() {
      return model().embeddingDim;
    },
    analyzeBuffers: (images) => run.analyzeBuffers(images),
    close: () => run.close(),
  };
}
