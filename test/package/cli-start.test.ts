// `groknet --help` must start fast: the CLI imports a command's module (and with it ONNX
// Runtime, sharp, LanceDB, Fastify, TF.js) only when that command runs. Those packages are
// CommonJS, so Node's require cache shows whether a process loaded them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).href;
const PACKAGE_JSON = fileURLToPath(new URL('../../package.json', import.meta.url));
const HEAVY = /node_modules[\\/](onnxruntime-node|sharp|@lancedb[\\/]lancedb|fastify|@tensorflow[\\/]tfjs-core)[\\/]/;

/** Runs main(argv) in a fresh process; returns its exit status and which heavy packages that process loaded. */
function mainLoads(argv: readonly string[]): Promise<{ code: number; loaded: string[] }> {
  const script = `
import { createRequire } from 'node:module';
const { main } = await import(${JSON.stringify(MAIN)});
const code = await main(${JSON.stringify(argv)});
const heavy = ${HEAVY.toString()};
const loaded = Object.keys(createRequire(${JSON.stringify(PACKAGE_JSON)}).cache).map((file) => heavy.exec(file)?.[1]).filter(Boolean);
process.stderr.write('\\n' + JSON.stringify({ code, loaded: [...new Set(loaded)].sort() }) + '\\n');
`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, CI: 'true' } }, (_error, _stdout, stderr) => {
      const last = stderr.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as { code: number; loaded: string[] });
      } catch {
        reject(new Error(`no result from the child: ${stderr.slice(-2000)}`));
      }
    });
  });
}

test('`groknet --help` and `groknet analyze --help` load no command dependencies', async () => {
  assert.deepEqual(await mainLoads(['--help']), { code: 0, loaded: [] });
  assert.deepEqual(await mainLoads(['analyze', '--help']), { code: 0, loaded: [] });
});

test('running a command loads what it needs (the probe above sees loaded packages)', async () => {
  // A model that does not exist: the command stops once its modules are loaded.
  const run = await mainLoads(['analyze', '--model', '/nonexistent/groknet-model', '/nonexistent/photo.jpg']);
  assert.equal(run.code, 1);
  assert.ok(run.loaded.includes('onnxruntime-node') && run.loaded.includes('sharp'), `loaded: ${run.loaded.join(', ')}`);
});
