// `groknet serve` as a user runs it: a generated write key printed once, the API answering,
// and SIGTERM draining and exiting cleanly.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { GROKNET_BIN as BIN } from '../helpers/cli.ts';
import { createTinyModel, solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';

let modelDir: string;
let dataDir: string;

before(async () => {
  modelDir = (await createTinyModel()).dir;
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'groknet-serve-test-'));
});
after(async () => {
  await rm(dataDir, { recursive: true, force: true });
  await rm(modelDir, { recursive: true, force: true });
});

test('serve prints its address and a generated key, serves without a log line per request, and drains on SIGTERM', async () => {
  const env = { ...process.env, GROKNET_API_KEY: '', LOG_LEVEL: '' };
  // No --log-level: the default must keep requests out of the output (issue #24).
  const child = spawn(process.execPath, [BIN, 'serve', '--model', modelDir, '--data', dataDir, '--port', '0'], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 30_000;
    while (!/write API key/.test(stdout)) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`serve did not start:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const address = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
    const key = /write API key[^:]*: (\S+)/.exec(stdout)?.[1];
    assert.ok(address && key && key.length >= 32, stdout);

    assert.equal((await (await fetch(`${address}/readyz`)).json()).ready, true);
    const form = () => {
      const body = new FormData();
      body.append('image', new Blob([new Uint8Array(redPng)], { type: 'image/png' }), 'red.png');
      body.append('title', 'Red thing');
      return body;
    };
    const redPng = await solidImage(TINY_COLOURS.red!);
    assert.equal((await fetch(`${address}/v1/products`, { method: 'POST', body: form() })).status, 401);
    const published = await fetch(`${address}/v1/products`, { method: 'POST', body: form(), headers: { authorization: `Bearer ${key}` } });
    assert.equal(published.status, 201);
    // Only what serve printed: no JSON log line for any of these requests.
    assert.deepEqual(stdout.trim().split('\n').filter((line) => line.startsWith('{')), [], stdout);
    assert.equal((await fetch(`${address}/favicon.ico`)).status, 200);

    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stderr, /SIGTERM, finishing in-flight requests/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('contradictory write options are refused before anything starts', () => {
  const run = spawnSync(process.execPath, [BIN, 'serve', '--allow-anonymous-writes', '--read-only'], { encoding: 'utf8' });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /contradict/);
});

test('a bad LOG_LEVEL is refused before anything starts', () => {
  // The timeout: a server that took the level would start and serve on.
  const run = spawnSync(process.execPath, [BIN, 'serve', '--port', '0'], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'chatty' }, timeout: 60_000 });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /--log-level \(or LOG_LEVEL\) must be one of/);
});

test('out-of-range limits are refused before anything starts', () => {
  for (const arg of ['--search-concurrency=999', '--search-concurrency=-1', '--search-concurrency=many', '--batch=0']) {
    const run = spawnSync(process.execPath, [BIN, 'serve', arg], { encoding: 'utf8' });
    assert.equal(run.status, 2, arg);
    assert.match(run.stderr, new RegExp(`${arg.split('=')[0]} must be an integer`));
  }
});
