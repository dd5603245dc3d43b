// Regression: onnxruntime-node's first initialisation crashed the process (SIGSEGV) once
// its command line passed ~30 KB (its telemetry client regex-matches /proc/self/cmdline,
// recursing once per byte). groknet must open a model whatever the length of its argv.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GROKNET_BIN } from '../../helpers/cli.ts';
import { createTinyModel, solidImage, TINY_COLOURS } from '../../helpers/tiny-model.ts';
import { tempDir } from '../../helpers/tmp.ts';

const BACKEND = fileURLToPath(new URL('../../../src/model/backend/onnxruntime.ts', import.meta.url));
// 160 KB of arguments: past the 128 KB an `xargs` line holds by default, five times the crash's threshold.
const FILLER = Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(4000, 'x'));

let dir: { path: string; cleanup: () => Promise<void> };
let modelDir: string;
before(async () => {
  dir = await tempDir();
  modelDir = (await createTinyModel(path.join(dir.path))).dir;
  await writeFile(path.join(dir.path, 'red.png'), await solidImage(TINY_COLOURS.red!));
});
after(() => dir.cleanup());

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, args, { env, maxBuffer: 16 * 2 ** 20 }, (_error, stdout, stderr) => {
      resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
    });
  });
}

test('the backend opens a session with 160 KB of process arguments, even when the environment asks for telemetry', async () => {
  const script = `const { OnnxSession } = await import(${JSON.stringify(BACKEND)}); const s = await OnnxSession.create(${JSON.stringify(path.join(modelDir, 'model.onnx'))}); console.log('opened'); await s.close();`;
  const { CI: _ci, ...userEnv } = process.env;
  const result = await run(['--import', 'tsx', '--input-type=module', '-e', script, ...FILLER], { ...userEnv, ORT_DISABLE_TELEMETRY: '0' });
  assert.equal(result.signal, null, `killed by ${result.signal}: ${result.stderr.slice(0, 300)}`);
  assert.equal(result.code, 0, result.stderr.slice(0, 500));
  assert.match(result.stdout, /opened/);
});

test('`groknet analyze` with a 160 KB command line answers every file', async () => {
  // The same image under 40 paths of ~4,000 bytes each ("./" repeated), a real glob's shape.
  const paths = Array.from({ length: 40 }, (_, i) => `${dir.path}/${'./'.repeat(1900 + i)}red.png`);
  const bytes = paths.reduce((n, p) => n + Buffer.byteLength(p) + 1, 0);
  assert.ok(bytes > 150_000, `${bytes} bytes`);
  // Without CI in the environment, as in a user's shell: the runtime's telemetry stays off under CI=true.
  const { CI: _ci, ...userEnv } = process.env;
  const result = await run([GROKNET_BIN, 'analyze', '--json', '--model', modelDir, ...paths], userEnv);
  assert.equal(result.signal, null, `killed by ${result.signal}: ${result.stderr.slice(0, 300)}`);
  assert.equal(result.code, 0, result.stderr.slice(0, 500));
  const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; heads?: { colour: { top: { label: string }[] } } });
  assert.equal(lines.length, paths.length);
  lines.forEach((line, i) => {
    assert.equal(line.file, paths[i]);
    assert.equal(line.heads?.colour.top[0]?.label, 'red');
  });
});
