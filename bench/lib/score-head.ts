// How a model's single-label head does on labelled photos: accuracy over all of them, the share
// it answers (does not abstain) and its precision where it answers. Shared by the benches that
// compare heads taught in different ways (catalog-head, catalog-vs-unified).
import { readFile } from 'node:fs/promises';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { round } from '../../scripts/reliability/lib/common.ts';

export interface HeadScore {
  version: string;
  accuracy: number;
  answered: number;
  precisionAnswered: number;
}

export async function scoreHead(modelDir: string, head: string, photos: ReadonlyArray<{ file: string; label: string }>): Promise<HeadScore> {
  const analyzer = await ModelAnalyzer.open(modelDir);
  try {
    let right = 0;
    let answered = 0;
    let answeredRight = 0;
    for (let i = 0; i < photos.length; i += 32) {
      const batch = photos.slice(i, i + 32);
      const analyses = await analyzer.analyzeBuffers(await Promise.all(batch.map((p) => readFile(p.file))));
      analyses.forEach((a, j) => {
        if (a instanceof Error) return;
        const result = a.heads[head];
        if (result?.kind !== 'single') throw new Error(`${modelDir} has no single-label ${head} head`);
        const ok = result.top[0]?.label === batch[j]!.label;
        if (ok) right++;
        if (!result.abstain) {
          answered++;
          if (ok) answeredRight++;
        }
      });
    }
    return { version: analyzer.modelVersion, accuracy: round(right / photos.length, 3), answered: round(answered / photos.length, 3), precisionAnswered: round(answeredRight / Math.max(1, answered), 3) };
  } finally {
    await analyzer.close();
  }
}
