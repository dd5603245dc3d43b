// The segmentation export: an artifact the runtime would refuse is refused before anything is
// written; a good one is written whole and opens.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { GroknetError } from '../../../src/errors.ts';
import { readSegmentManifest } from '../../../src/segment/manifest.ts';
import { exportSegmentArtifact } from '../../../src/train/segmentation/export.ts';
import { rng } from '../../../src/util/random.ts';
import { testDecoder, writeSegmentModel } from '../../segment/helpers.ts';

test('a manifest the runtime would refuse is refused with the reason, and nothing is written', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'groknet-segment-export-'));
  const good = await writeSegmentModel(root, testDecoder(rng(1)), 'good');
  const dir = path.join(root, 'bad');
  // Class 9 writes a label the list does not have.
  const manifest = { ...good, classLabels: [0, 1, 2, 3, 9] };
  await assert.rejects(exportSegmentArtifact(dir, { manifest, weights: testDecoder(rng(1)) }), (e: unknown) => e instanceof GroknetError && e.code === 'model_invalid' && /class label 9/.test(e.message));
  await assert.rejects(readdir(dir), { code: 'ENOENT' });
});

test('a good artifact is written as its manifest says: decoder file and model.json, read back as written', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'groknet-segment-export-'));
  const manifest = await writeSegmentModel(dir, testDecoder(rng(2)), 'written');
  assert.deepEqual((await readdir(dir)).sort(), ['decoder.onnx', 'model.json']);
  assert.deepEqual(JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')), manifest);
  assert.equal((await readSegmentManifest(path.join(dir, 'model.json'))).name, 'written');
});
