// The sell page sends back what it was shown (issue #26): publishing carries `suggested`,
// the heads and labels the form was filled with, so the catalog records what the seller kept
// and what they changed; the seller sees nothing extra. A real headless Chromium against a
// server with the tiny shop model (white photo -> clothing Shirt, colour white).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { openTestShop, TEST_KEY, type TestShop } from '../server/helpers/server.ts';
import { createShopModel } from '../server/helpers/shop-model.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH to run the browser tests`;

describe('sell page: suggestions go back with the publish', { skip: SKIP }, () => {
  let shop: TestShop;
  let browser: Browser;
  let base: string;
  let cacheDir: string;

  before(async () => {
    const { dir } = await createShopModel();
    shop = await openTestShop(dir);
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'groknet-web-cache-'));
    const app = await shop.app({ web: true, webCacheDir: cacheDir });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  });
  after(async () => {
    await browser?.close();
    await shop?.close();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  test('the publish request carries the suggestions the form was filled with; the catalog records kept and changed', async () => {
    const context = await browser.newContext();
    await context.addInitScript((key) => sessionStorage.setItem('groknet.apiKey', key), TEST_KEY);
    // Chromium does not hand a test the bytes of a multipart body holding a file: the page's
    // fetch is watched instead, and each form's text fields kept as they were sent.
    await context.addInitScript(() => {
      const sent: Array<{ url: string; fields: Record<string, string> }> = [];
      Object.assign(window, { groknetSent: sent });
      const original = window.fetch.bind(window);
      window.fetch = (input, init) => {
        if (init?.body instanceof FormData) {
          const fields: Record<string, string> = {};
          init.body.forEach((value, name) => {
            if (typeof value === 'string') fields[name] = value;
          });
          sent.push({ url: String(input), fields });
        }
        return original(input, init);
      };
    });
    context.setDefaultTimeout(8000);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${base}/#sell`);
    const analysed = page.waitForResponse((res) => new URL(res.url()).pathname === '/v1/analyze');
    await page.setInputFiles('#sell-file', { name: 'white.png', mimeType: 'image/png', buffer: await solidImage(TINY_COLOURS.white!, 64) });
    const analysis = (await (await analysed).json()) as { modelVersion: string; listing: { category: { head: string; value: string; score: number }; colour: { head: string; value: string; score: number } } };
    await page.waitForSelector('#sell-form', { state: 'visible' });
    assert.equal(analysis.listing.category.value, 'Shirt');
    assert.equal(analysis.listing.colour.value, 'white');

    // The seller keeps the category and changes the colour.
    await page.fill('#f-colour', 'ivory');
    const published = page.waitForRequest((req) => req.method() === 'POST' && new URL(req.url()).pathname === '/v1/products');
    await page.click('#publish');
    const request = await published;
    await page.waitForSelector('#sell-done', { state: 'visible' });

    assert.ok(request.headers()['content-type']?.startsWith('multipart/form-data'));
    const sent = await page.evaluate(() => (window as unknown as { groknetSent: Array<{ url: string; fields: Record<string, string> }> }).groknetSent);
    const publishForm = sent.find((s) => new URL(s.url, 'http://x').pathname === '/v1/products');
    const suggested = JSON.parse(publishForm?.fields.suggested ?? 'null') as unknown;
    assert.deepEqual(suggested, [
      {
        modelVersion: analysis.modelVersion,
        heads: [
          { head: analysis.listing.category.head, label: 'Shirt', score: analysis.listing.category.score },
          { head: analysis.listing.colour.head, label: 'white', score: analysis.listing.colour.score },
        ],
      },
    ]);
    // Nothing extra for the seller: the usual confirmation only.
    assert.doesNotMatch(await page.locator('#sell-done').innerText(), /suggest|correct|accept/i);

    const [product] = await shop.catalog.listProducts();
    const feedback = await shop.catalog.feedbackOf(product!.id);
    assert.deepEqual(
      feedback[0]?.suggestions.map((s) => [s.head, s.label, s.outcome, s.final]),
      [
        ['clothing', 'Shirt', 'accepted', 'fashion > clothing > Shirt'],
        ['colour', 'white', 'corrected', 'ivory'],
      ],
    );
    assert.deepEqual(problems, []);
    await context.close();
  });
});
