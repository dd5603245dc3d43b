// The web page: web/public (HTML, CSS) as is, and web/src/main.ts bundled with esbuild
// when the server starts into the groknet cache (no build step, no CDN: the page works
// offline). Served with @fastify/static under a strict Content-Security-Policy.
import fastifyStatic from '@fastify/static';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { cacheDir } from '../model/cache.ts';
import type { App } from './context.ts';
import type { ServerConfig } from './config.ts';

const WEB_DIR = fileURLToPath(new URL('../../web', import.meta.url));
export const WEB_PUBLIC_DIR = path.join(WEB_DIR, 'public');
export const WEB_ENTRY = path.join(WEB_DIR, 'src', 'main.ts');

const PAGE_CSP = [
  "default-src 'self'",
  "img-src 'self' blob: data:",
  "style-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Bundles the page script; returns the folder holding app.js. */
export async function bundleWeb(outDir: string): Promise<string> {
  // esbuild is a dev dependency: imported only here, only when the page is wanted.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [WEB_ENTRY],
    bundle: true,
    format: 'esm',
    target: 'es2020',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.contents;
  await mkdir(outDir, { recursive: true });
  // Atomic: two servers starting together never serve a half-written file.
  const temp = path.join(outDir, `.app-${randomBytes(6).toString('hex')}.js`);
  await writeFile(temp, code);
  await rename(temp, path.join(outDir, 'app.js'));
  return outDir;
}

export async function registerWeb(app: App, config: ServerConfig): Promise<void> {
  let bundleDir: string;
  try {
    bundleDir = await bundleWeb(config.webCacheDir ?? path.join(cacheDir(), 'web'));
  } catch (error) {
    // Without esbuild (a production install without dev dependencies) the API still serves.
    app.log.warn({ err: error }, 'the web page could not be bundled; serving the API only');
    return;
  }
  await app.register(fastifyStatic, {
    root: [WEB_PUBLIC_DIR, bundleDir],
    prefix: '/',
    // One route per file found now, rather than a catch-all that would shadow API 404s.
    wildcard: false,
    decorateReply: false,
    cacheControl: true,
    maxAge: 0,
    setHeaders: (res) => {
      res.header('content-security-policy', PAGE_CSP);
    },
  });
}
