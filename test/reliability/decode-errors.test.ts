// Regression test for a defect the fuzzer found: libvips keeps one error buffer for all
// threads, so images that failed to decode in the same batch could swap or lose their
// reasons ("Unknown error") and get a different error code (415 not_an_image instead of
// 422 truncated) than when sent alone.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { GroknetError } from '../../src/errors.ts';
import { fromSharpError, isUninformative } from '../../src/image/sharp-errors.ts';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { generatedBases, boundaryTruncations, hostileCases } from '../../scripts/reliability/lib/corpus.ts';
import { createTinyModel } from '../helpers/tiny-model.ts';

let analyzer: ModelAnalyzer;
let modelDir: string;
before(async () => {
  modelDir = (await createTinyModel()).dir;
  analyzer = await ModelAnalyzer.open(modelDir, { batchSize: 32 });
});
after(async () => {
  await analyzer?.close();
  await rm(modelDir, { recursive: true, force: true });
});

const codeOf = (r: unknown) => (r instanceof GroknetError ? r.code : 'ok');

test('images that fail together keep the error code they get alone', async () => {
  const bases = await generatedBases(3, true);
  const hostile = await hostileCases(bases, { seed: 3, cases: 0, light: true, canaryUrl: 'http://127.0.0.1:9' });
  const cases = [
    ...boundaryTruncations(bases.find((b) => b.name === 'jpeg-progressive')!),
    ...boundaryTruncations(bases.find((b) => b.name === 'png-rgb')!),
    ...hostile.filter((c) => ['png-ihdr-bad-crc', 'jpeg-precision-16', 'jpeg-precision-12', 'tiff-ifd-loop', 'jpeg-sof-255-components'].includes(c.id)),
  ];
  const alone: string[] = [];
  for (const c of cases) alone.push(codeOf((await analyzer.analyzeBuffers([c.bytes]))[0]));
  for (let round = 0; round < 3; round++) {
    const together = (await analyzer.analyzeBuffers(cases.map((c) => c.bytes))).map(codeOf);
    assert.deepEqual(together.map((code, i) => `${cases[i]!.id}: ${code}`), alone.map((code, i) => `${cases[i]!.id}: ${code}`));
  }
  assert.ok(alone.filter((c) => c === 'truncated').length >= 20, alone.join(' '));
});

test('a decoder failure without a reason is damaged data when the magic bytes named a format', () => {
  assert.ok(isUninformative('Unknown error') && isUninformative('Input buffer has corrupt header: ') && !isUninformative('premature end'));
  assert.equal(fromSharpError(new Error('Unknown error'), 'png').code, 'truncated');
  assert.equal(fromSharpError(new Error('Unknown error'), undefined).code, 'not_an_image');
});
