// The page's API types (web/src/types.ts) agree with the server's response schemas: compiles
// test/web/api-types.check.ts alone with the project's compiler options (the test runner
// strips types, so the check needs the compiler), and shows the check can fail.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../helpers/tmp.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHECK = join(ROOT, 'test/web/api-types.check.ts');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/**
 * Compiles `file` (and what it imports) with the project's tsconfig; the errors reported in
 * `file` itself. Errors in other files are the project typecheck's to report (other work in
 * progress must not fail this check); a schema they leave as `any` fails `Same` here.
 */
async function errorsIn(dir: string, file: string): Promise<string[]> {
  const { output } = await compile(dir, [file]);
  const name = basename(file);
  return output.split('\n').filter((line) => line.includes(`${name}(`));
}

/** Compiles `files` with the project's tsconfig; exit code and what the compiler said. */
async function compile(dir: string, files: readonly string[]): Promise<{ code: number; output: string }> {
  const config = join(dir, 'tsconfig.json');
  await writeFile(config, JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions: { typeRoots: [join(ROOT, 'node_modules/@types')] }, include: [], files }));
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [TSC, '-p', config], { cwd: ROOT });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe("the page's API types", () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir();
  });
  after(() => tmp.cleanup());

  test('match the response schemas', async () => {
    assert.deepEqual(await errorsIn(tmp.path, CHECK), []);
  });

  test('a type that drifted from its schema fails to compile', async () => {
    const drifted = join(tmp.path, 'drifted.ts');
    await writeFile(
      drifted,
      [
        `import type { ProductView } from ${JSON.stringify(join(ROOT, 'src/server/views.ts'))};`,
        `import type { Product } from ${JSON.stringify(join(ROOT, 'web/src/types.ts'))};`,
        `import { expectSame, type Same } from ${JSON.stringify(CHECK)};`,
        // The page forgot a field the server answers, and typed another as a string.
        `type Forgetful = Omit<Product, 'currency' | 'price'> & { price: string };`,
        `expectSame<Same<Forgetful, ProductView>>();`,
      ].join('\n'),
    );
    const errors = await errorsIn(tmp.path, drifted);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /drifted\.ts\(5,\d+\): error TS2344/);
  });
});
