// GET /favicon.ico: browsers ask for it on every page of the server (the web page, /docs,
// a JSON answer opened in a tab), so it is served with or without the web page. It is the
// page's SVG icon (web/public/favicon.svg) rendered once into a real ICO file, PNG inside,
// which every browser shows (not all take an SVG from /favicon.ico).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { renderSvgPng } from '../image/encode.ts';
import type { App } from './context.ts';
import { WEB_PUBLIC_DIR } from './web.ts';

export const FAVICON_SVG = path.join(WEB_PUBLIC_DIR, 'favicon.svg');
const SIZES = [16, 32, 48];

/** An ICO file holding one PNG per size (the PNG-in-ICO form every browser since 2007 reads). */
export function icoOf(pngs: ReadonlyArray<{ size: number; png: Buffer }>): Buffer {
  const header = Buffer.alloc(6 + 16 * pngs.length);
  header.writeUInt16LE(0, 0); // reserved
  header.writeUInt16LE(1, 2); // 1: icon
  header.writeUInt16LE(pngs.length, 4);
  let offset = header.length;
  pngs.forEach(({ size, png }, i) => {
    const entry = 6 + 16 * i;
    header.writeUInt8(size >= 256 ? 0 : size, entry); // width (0 means 256)
    header.writeUInt8(size >= 256 ? 0 : size, entry + 1); // height
    header.writeUInt16LE(1, entry + 4); // colour planes
    header.writeUInt16LE(32, entry + 6); // bits per pixel
    header.writeUInt32LE(png.length, entry + 8);
    header.writeUInt32LE(offset, entry + 12);
    offset += png.length;
  });
  return Buffer.concat([header, ...pngs.map((p) => p.png)]);
}

async function renderIcon(): Promise<Buffer> {
  const svg = await readFile(FAVICON_SVG);
  // The SVG is drawn for 16 px: 72 DPI renders it at 16, so each size scales the density.
  const pngs = await Promise.all(SIZES.map(async (size) => ({ size, png: await renderSvgPng(svg, size, 72 * (size / 16)) })));
  return icoOf(pngs);
}

export function registerFavicon(app: App): void {
  // Rendered on first request, once; a failure is tried again on the next.
  let icon: Promise<Buffer> | undefined;
  app.get('/favicon.ico', { schema: { hide: true } }, async (request, reply) => {
    icon ??= renderIcon();
    let bytes: Buffer;
    try {
      bytes = await icon;
    } catch (error) {
      icon = undefined;
      // A missing icon is no reason for an error page in the browser's console.
      request.log.warn({ err: error }, 'the favicon could not be rendered');
      return reply.status(204).send();
    }
    reply.header('cache-control', 'public, max-age=86400');
    return reply.type('image/x-icon').send(bytes);
  });
}
