// A reader that goes away early (`groknet analyze --json DIR | head -1`): groknet stops as
// `cat` does, at once, silently, with status 141 (128 + SIGPIPE), instead of dying on an
// unhandled EPIPE with a stack trace or analysing the rest of the folder for nobody.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startCli, type LiveCli } from '../helpers/cli.ts';
import { createTinyModel, solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';

// Enough that analysing them all takes longer than starting the command does (the measure of "stopped at once" below).
const FILES = 3000;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let modelDir: string;
let folder: string;

before(async () => {
  tmp = await tempDir('groknet-stdout-');
  modelDir = (await createTinyModel(tmp.path)).dir;
  folder = path.join(tmp.path, 'photos');
  await mkdir(folder);
  const bytes = await solidImage(TINY_COLOURS.green!, 16);
  for (let i = 0; i < FILES; i++) await writeFile(path.join(folder, `${String(i).padStart(5, '0')}.png`), bytes);
});
after(() => tmp.cleanup());

/** Reads the command's first line, then closes the pipe as `head -1` does; times both ends. */
async function firstLineThenClose(cli: LiveCli): Promise<{ code: number | null; signal: NodeJS.Signals | null; startMs: number; afterLineMs: number }> {
  const started = performance.now();
  await cli.waitFor('stdout', /\n/);
  const lineAt = performance.now();
  cli.child.stdout!.destroy();
  const { code, signal } = await cli.exited;
  return { code, signal, startMs: lineAt - started, afterLineMs: performance.now() - lineAt };
}

for (const mode of ['--json', 'text'] as const) {
  test(`analyze ${mode === 'text' ? '(text)' : '--json'} over ${FILES} photos into a reader that closes after one line: exit 141 at once, nothing on stderr`, { timeout: 60_000 }, async () => {
    const cli = startCli(['analyze', ...(mode === 'text' ? [] : ['--json']), '--model', modelDir, folder]);
    const run = await firstLineThenClose(cli);
    assert.equal(cli.stderr(), '');
    assert.deepEqual({ code: run.code, signal: run.signal }, { code: 141, signal: null });
    // Going on through the folder would take longer than starting did (Node, tsx, ONNX Runtime, the model, the first batch).
    assert.ok(run.afterLineMs < run.startMs / 2, `it went on for ${Math.round(run.afterLineMs)} ms after the reader left (start-up: ${Math.round(run.startMs)} ms)`);
  });
}

test('a reader gone before the first write, or a closed stderr: exit 141, no crash', { timeout: 30_000 }, async () => {
  const photo = path.join(folder, '00000.png');
  const noReader = startCli(['analyze', '--json', '--model', modelDir, photo]);
  noReader.child.stdout!.destroy();
  assert.deepEqual(await noReader.exited, { code: 141, signal: null });
  assert.equal(noReader.stderr(), '');

  // The usage error goes to stderr, whose reader is gone.
  const noErrReader = startCli(['analyze']);
  noErrReader.child.stderr!.destroy();
  assert.deepEqual(await noErrReader.exited, { code: 141, signal: null });
  assert.equal(noErrReader.stdout(), '');
});
