// Regression test for a defect the crash harness found: `groknet train --resume` after a
// SIGKILL ended with a different model than an uninterrupted run (weights off by up to 0.5,
// other evaluation figures) although the step count matched. TF.js's Adam restores its
// bias corrections beta^t with pow() while training keeps them as a running float32
// product; the last-bit difference at some steps was amplified by the hinge-like losses.
// A run stopped at any step and resumed must now end bit-for-bit like an uninterrupted one.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fitHeads } from '../../src/train/fit-heads.ts';
import { fitWeights, smallFitInput } from '../helpers/fit-input.ts';

const base = smallFitInput;
const weights = fitWeights;

test('a run stopped at any step and resumed from its checkpoint ends bit-for-bit like an uninterrupted run', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'groknet-resume-'));
  try {
    const epochs = 12;
    const straight = await fitHeads({ ...base(), epochs });
    const expected = weights(straight);
    const steps = straight.steps;
    straight.dispose();
    const mismatches: string[] = [];
    for (const stop of [5, 13, 21, 30, 37, 46, 59, 70]) {
      const file = path.join(dir, `ckpt-${stop}`);
      const first = await fitHeads({ ...base(), epochs, stopAfterSteps: stop, checkpoint: { file, everySteps: 0, resume: false } });
      first.dispose();
      const resumed = await fitHeads({ ...base(), epochs, checkpoint: { file, everySteps: 0, resume: true } });
      assert.equal(resumed.steps, steps);
      const got = weights(resumed);
      resumed.dispose();
      let diff = 0;
      got.forEach((w, k) => w.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - expected[k]![i]!)))));
      if (diff !== 0) mismatches.push(`stopped at step ${stop}: weights differ by ${diff}`);
    }
    assert.deepEqual(mismatches, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
