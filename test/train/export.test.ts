// The product model export (the trainer's last step, and how the test models are written):
// a manifest the loader would refuse is refused before anything is written; EVAL.md says
// what the manifest records, and no training section where it records none.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { GroknetError } from '../../src/errors.ts';
import { CODE_OUTPUT, EMBEDDING_OUTPUT, headOutputName } from '../../src/model/heads/heads-graph.ts';
import { MANIFEST_FORMAT_VERSION, type ModelManifest } from '../../src/model/manifest.ts';
import { exportArtifact, type HeadsArtifact } from '../../src/train/export.ts';
import { fitHeads } from '../../src/train/fit-heads.ts';
import { smallFitInput } from '../helpers/fit-input.ts';

async function artifact(manifest: Partial<ModelManifest> = {}): Promise<HeadsArtifact> {
  const fit = await fitHeads({ ...smallFitInput(), epochs: 1 });
  fit.dispose();
  return {
    manifest: {
      formatVersion: MANIFEST_FORMAT_VERSION,
      name: 'exported',
      version: '0.0.1',
      backbone: { id: 'none', tensors: ['input'] },
      input: { size: [2, 3], mode: 'stretch', layout: 'NHWC', channelOrder: 'RGB', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] },
      headsFile: 'heads.onnx',
      heads: [{ name: 'shape', kind: 'single', output: headOutputName('shape'), labels: ['a', 'b', 'c'], abstainBelow: 0 }],
      embedding: { output: EMBEDDING_OUTPUT, dim: 8, codeOutput: CODE_OUTPUT, codeBits: 8, exactMatchThreshold: 0.9 },
      ...manifest,
    },
    graphInput: { inputNode: 'input', channels: 6, gemP: 1 },
    fit,
    codes: { mean: new Float32Array(8), rotation: new Float32Array(64).map((_, i) => (i % 9 === 0 ? 1 : 0)) },
  };
}

test('a manifest the loader would refuse is refused with the reason, and nothing is written', async () => {
  const dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'groknet-export-')), 'model');
  const bad = await artifact({ heads: [{ name: 'Shape', kind: 'single', output: headOutputName('Shape'), labels: ['a', 'b', 'c'], abstainBelow: 0 }] });
  await assert.rejects(exportArtifact(dir, bad), (e: unknown) => e instanceof GroknetError && e.code === 'model_invalid' && /heads\.0\.name/.test(e.message));
  await assert.rejects(readdir(dir), { code: 'ENOENT' });
});

test('the graph goes to the manifest headsFile; EVAL.md has a training section only where the manifest records training', async () => {
  const plain = await mkdtemp(path.join(os.tmpdir(), 'groknet-export-'));
  await exportArtifact(plain, await artifact({ headsFile: 'model.onnx', modelFile: 'model.onnx' }));
  assert.deepEqual((await readdir(plain)).sort(), ['EVAL.md', 'model.json', 'model.onnx']);
  assert.doesNotMatch(await readFile(path.join(plain, 'EVAL.md'), 'utf8'), /## training|undefined/);

  const trained = await mkdtemp(path.join(os.tmpdir(), 'groknet-export-'));
  const manifest = await exportArtifact(trained, await artifact({ training: { steps: 6 }, evaluation: { shape: { accuracy: 0.5 } } }));
  assert.deepEqual(JSON.parse(await readFile(path.join(trained, 'model.json'), 'utf8')), manifest);
  const evalMd = await readFile(path.join(trained, 'EVAL.md'), 'utf8');
  assert.match(evalMd, /## shape\n\n\| measure \| value \|\n\|---\|---\|\n\| accuracy \| 0\.5 \|/);
  assert.match(evalMd, /## training\n\n```json\n\{\n {2}"steps": 6\n\}\n```/);
});
