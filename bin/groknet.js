#!/usr/bin/env node
// The groknet command. Runs the compiled CLI in dist/ (`npm run build`; `npm ci` and
// `npm pack` build it through `prepare`). GROKNET_SOURCES=1 runs src/ through tsx instead:
// the tests set it, so what they test is the sources, never a dist/ older than them. A
// checkout without dist/ runs the sources too, saying so on stderr: slower to start, but the
// command works before a build.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const sources = new URL('../src/cli/main.ts', import.meta.url);
const wantSources = process.env.GROKNET_SOURCES === '1';
const built = existsSync(compiled);

if (!wantSources && built) {
  // First: a reader that closes early (`| head`) must end the process quietly, not crash it.
  const { guardOutputStreams } = await import('../dist/cli/stdout.js');
  guardOutputStreams();
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
} else if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  const { guardOutputStreams } = await import('../src/cli/stdout.ts');
  guardOutputStreams();
  if (!wantSources) process.stderr.write('groknet: dist/ is not built, so the sources run through tsx (slower to start); `npm run build` builds it\n');
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
} else {
  // An installed package ships dist/ and not src/: this one is incomplete.
  process.stderr.write(`groknet: ${wantSources ? 'GROKNET_SOURCES=1, but there is no src/ here' : 'dist/cli/main.js is missing'}: reinstall groknet (or run \`npm run build\` in a checkout)\n`);
  process.exitCode = 1;
}
