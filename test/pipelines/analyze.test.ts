import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { GroknetError } from '../../src/errors.ts';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { pngClaiming, TEXT_FILE, truncatedJpeg } from '../helpers/bad-images.ts';
import { createTinyModel, solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';

let analyzer: ModelAnalyzer;

before(async () => {
  const { dir } = await createTinyModel();
  analyzer = await ModelAnalyzer.open(dir, { batchSize: 4 });
});
after(async () => analyzer?.close());

test('analyze names the colour of solid images, in input order, across batches', async () => {
  const names = ['red', 'blue', 'yellow', 'green', 'black', 'white', 'red'];
  const images = await Promise.all(names.map((n) => solidImage(TINY_COLOURS[n]!, 40, n === 'blue' ? 'jpeg' : 'png')));
  const results = await analyzer.analyzeBuffers(images);
  assert.equal(results.length, names.length);
  results.forEach((r, i) => {
    assert.ok(!(r instanceof GroknetError), `image ${i} failed`);
    const head = r.heads.colour!;
    assert.equal(head.kind, 'single');
    if (head.kind === 'single') assert.equal(head.top[0]!.label, names[i]);
    assert.equal(r.embedding.length, 16);
    const norm = Math.hypot(...r.embedding);
    assert.ok(Math.abs(norm - 1) < 1e-4, `embedding norm ${norm}`);
    assert.match(r.code, /^[0-9a-f]{4}$/);
    assert.equal(r.modelVersion, 'tiny-colour@0.0.1');
  });
  // The same picture gives the same embedding; different colours give different ones.
  const first = results[0] as { embedding: Float32Array };
  const last = results[6] as { embedding: Float32Array };
  assert.deepEqual(Array.from(first.embedding), Array.from(last.embedding));
});

test('bad files fail alone with typed errors while the others succeed', async () => {
  const good = await solidImage(TINY_COLOURS.green!);
  const inputs = [Buffer.alloc(0), good, await truncatedJpeg(), TEXT_FILE, pngClaiming(30000, 30000), pngClaiming(100000, 100000, 64), good];
  const results = await analyzer.analyzeBuffers(inputs);
  const codes = results.map((r) => (r instanceof GroknetError ? r.code : 'ok'));
  assert.deepEqual(codes, ['empty_file', 'ok', 'truncated', 'not_an_image', 'too_large', 'too_large', 'ok']);
});

test('batch size out of range is refused', async () => {
  const { dir } = await createTinyModel();
  await assert.rejects(ModelAnalyzer.open(dir, { batchSize: 0 }), (e: unknown) => e instanceof GroknetError && e.code === 'invalid_argument');
});
