import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { GroknetError } from '../../src/errors.ts';
import { availableProviders, OnnxSession } from '../../src/model/backend/onnxruntime.ts';
import { composeModel } from '../../src/model/compose.ts';
import { loadModel } from '../../src/model/load-model.ts';
import { parseManifest } from '../../src/model/manifest.ts';
import { GraphBuilder } from '../../src/model/onnx/graph-builder.ts';
import { createTinyModel } from '../helpers/tiny-model.ts';

const isCode = (code: string) => (e: unknown) => e instanceof GroknetError && e.code === code;

test('a tiny model artifact loads and its graph matches its manifest', async () => {
  const { dir } = await createTinyModel();
  const model = await loadModel(dir);
  assert.equal(model.manifest.heads[0]!.name, 'colour');
  assert.ok(model.session.outputNames.includes('head_colour'));
  await model.session.close();
});

test('a missing model directory is model_not_found', async () => {
  await assert.rejects(loadModel('/nonexistent/groknet-model'), isCode('model_not_found'));
});

test('unknown manifest fields and wrong label counts are model_invalid', async () => {
  const { dir } = await createTinyModel();
  const file = path.join(dir, 'model.json');
  const manifest = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown> & { heads: Array<{ labels: string[] }> };
  await writeFile(file, JSON.stringify({ ...manifest, surprise: true }));
  await assert.rejects(loadModel(dir), (e: unknown) => isCode('model_invalid')(e) && /surprise|Unrecognized/i.test((e as Error).message));
  manifest.heads[0]!.labels.push('purple');
  await writeFile(file, JSON.stringify(manifest));
  await assert.rejects(loadModel(dir), (e: unknown) => isCode('model_invalid')(e) && /7 values|6 values/.test((e as Error).message));
});

test('parseManifest refuses duplicate heads and mismatched thresholds', () => {
  const base = {
    formatVersion: 1,
    name: 'm',
    version: '1',
    backbone: { id: 'x', tensors: ['t'] },
    input: { size: [32, 32], mode: 'center-crop', layout: 'NHWC', channelOrder: 'RGB', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] },
    headsFile: 'h.onnx',
    embedding: { output: 'embedding', dim: 4, codeOutput: 'code_projection', codeBits: 8, exactMatchThreshold: 0.9 },
  };
  const head = { name: 'a', kind: 'single', output: 'head_a', labels: ['x', 'y'] };
  assert.throws(() => parseManifest({ ...base, heads: [head, head] }), isCode('model_invalid'));
  assert.throws(() => parseManifest({ ...base, heads: [{ name: 'm', kind: 'multi', output: 'head_m', labels: ['x', 'y'], thresholds: [0.5] }] }), isCode('model_invalid'));
  assert.equal(parseManifest({ ...base, heads: [head] }).heads[0]!.name, 'a');
});

test('composeModel joins a backbone and heads by tensor name, and refuses a missing link', async () => {
  const backbone = new GraphBuilder('b');
  backbone.input('input', ['batch', 2]);
  backbone.opInto('Relu', ['input'], ['features']);
  backbone.output('features', ['batch', 2]);
  const heads = new GraphBuilder('h');
  heads.input('features', ['batch', 2]);
  const w = heads.constFloat('w', [2, 1], [1, 2]);
  heads.opInto('MatMul', ['features', w], ['score']);
  heads.output('score', ['batch', 1]);
  const joined = composeModel(backbone.toModel(), heads.toModel());
  const session = await OnnxSession.create(joined);
  const out = await session.run('input', Float32Array.from([-1, 3]), [1, 2]);
  assert.deepEqual(Array.from(out.score!.data), [6]);
  await session.close();

  const wrong = new GraphBuilder('w');
  wrong.input('other', ['batch', 2]);
  wrong.opInto('Relu', ['other'], ['y']);
  wrong.output('y', ['batch', 2]);
  assert.throws(() => composeModel(backbone.toModel(), wrong.toModel()), isCode('model_invalid'));
});

test('asking for an execution provider this runtime lacks fails clearly', async () => {
  assert.ok(availableProviders().includes('cpu'));
  if (availableProviders().includes('cuda')) return;
  const g = new GraphBuilder('g');
  g.input('x', [1]);
  g.opInto('Relu', ['x'], ['y']);
  g.output('y', [1]);
  await assert.rejects(OnnxSession.create(g.toModel(), { provider: 'cuda' }), (e: unknown) => isCode('provider_unavailable')(e) && /cuda/.test((e as Error).message));
});
