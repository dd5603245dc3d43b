// The web page in a real headless Chromium against a server started here on 127.0.0.1 with a
// tiny generated catalog: the sell flow (photo -> suggested listing -> publish with the key)
// and the buy flow (words, filter, photo search with an exact match, more like this, seen
// together, shop the look), on a phone-sized viewport. Screenshots go to test-artifacts/web/.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { App } from '../../src/server/app.ts';
import { TEXT_FILE } from '../helpers/bad-images.ts';
import { boxesInside, scenePhoto, scriptedDetector, type Block } from '../helpers/scripted-detector.ts';
import { scriptedSegmenter, type ScriptedGarment } from '../helpers/scripted-segmenter.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { multipart } from '../server/helpers/http.ts';
import { openTestShop, TEST_KEY, type TestShop } from '../server/helpers/server.ts';
import { createShopModel } from '../server/helpers/shop-model.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH to run the browser tests`;
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/web/', import.meta.url));
// The tee (red) and the dress (blue) on a green lawn: green, so the outfit listing itself
// stays out of the tests' colour filters.
const LAWN: Block = { rgb: TINY_COLOURS.green!, at: [0, 0, 1, 1] };
const OUTFIT: Block[] = [
  { rgb: TINY_COLOURS.red!, at: [0.1, 0.3, 0.25, 0.4] },
  { rgb: TINY_COLOURS.blue!, at: [0.6, 0.3, 0.25, 0.4] },
];
// Shop the look's photo (320 px wide, so the scripted segmenter tells it apart): a blue
// dress and a smaller red tee on the lawn, each garment's mask well inside its block.
const LOOK: Block[] = [
  { rgb: TINY_COLOURS.blue!, at: [0.5, 0.1, 0.4, 0.8] },
  { rgb: TINY_COLOURS.red!, at: [0.05, 0.3, 0.3, 0.4] },
];
const LOOK_GARMENTS: ScriptedGarment[] = [
  { label: 'dress', at: [0.54, 0.18, 0.32, 0.64] },
  { label: 't-shirt', at: [0.08, 0.34, 0.24, 0.32] },
];

describe('web page', { skip: SKIP }, () => {
  let shop: TestShop;
  let app: App;
  let browser: Browser;
  let page: Page;
  let base: string;
  let cacheDir: string;
  const problems: string[] = [];
  let red: Buffer;

  before(async () => {
    const { dir } = await createShopModel();
    shop = await openTestShop(dir);
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'groknet-web-cache-'));
    // The scripted detector sees the tee and the dress in the outfit photo (300 px wide) and
    // a product filling the frame in plain photos, so publishing the outfit links them.
    const detector = scriptedDetector((image) => (image.width === 300 ? boxesInside(OUTFIT) : [{ at: [0.1, 0.1, 0.8, 0.8], cls: 'handbag' }]));
    const segmenter = scriptedSegmenter((image) => (image.width === 320 ? LOOK_GARMENTS : []));
    app = await shop.app({ web: true, webCacheDir: cacheDir }, { detector, segmenter });
    const listings = [['red', 'Cotton tee', '10'], ['blue', 'Cotton dress', '45'], ['yellow', 'Cotton hat', '15']] as const;
    for (const [colour, title, price] of listings) {
      const body = await multipart({ title, price, currency: 'EUR' }, [{ data: await solidImage(TINY_COLOURS[colour]!) }]);
      const res = await app.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, 'x-api-key': TEST_KEY } });
      assert.equal(res.statusCode, 201, res.body);
    }
    const body = await multipart({ title: 'Summer outfit', price: '50', currency: 'EUR' }, [{ data: await scenePhoto(300, 200, [LAWN, ...OUTFIT]) }]);
    const outfit = await app.inject({ method: 'POST', url: '/v1/products', payload: body.payload, headers: { ...body.headers, 'x-api-key': TEST_KEY } });
    assert.equal(outfit.json().seenWith.length, 2, outfit.body);
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    red = await solidImage(TINY_COLOURS.red!, 64);
    await mkdir(ARTIFACTS, { recursive: true });

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
    page = await context.newPage();
    // The page must work offline: anything not served by our server is a failure.
    page.on('request', (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith('blob:') && !request.url().startsWith('data:')) problems.push(`external request ${request.url()}`);
    });
    page.on('console', (message) => {
      // 4xx answers the flows provoke on purpose show up as resource errors; anything else is a bug.
      if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(base);
  });

  after(async () => {
    await browser?.close();
    await shop?.close();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  test('every control has a label and the tabs work from the keyboard', async () => {
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLInputElement>('input, select, textarea')]
        .filter((control) => control.labels === null || (control.labels.length === 0 && !control.getAttribute('aria-label')))
        .map((control) => control.id),
    );
    assert.deepEqual(unlabelled, []);
    await page.focus('#tab-sell');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'tab-buy');
    assert.equal(await page.isVisible('#panel-buy'), true);
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.isVisible('#panel-sell'), true);
  });

  test('sell: a file that is not a photo gets a message a person understands', async () => {
    await page.setInputFiles('#sell-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: TEXT_FILE });
    await page.waitForSelector('#sell-status.error');
    assert.match(await page.textContent('#sell-status') ?? '', /not an image we can read/);
  });

  test('sell: an ambiguous photo gets suggestions marked for checking', async () => {
    await page.setInputFiles('#sell-file', { name: 'grey.png', mimeType: 'image/png', buffer: await solidImage([128, 128, 128], 64) });
    await page.waitForSelector('#sell-form', { state: 'visible' });
    assert.ok((await page.locator('.field.unsure').count()) >= 1);
    assert.match(await page.textContent('.field.unsure .note') ?? '', /^check: /);
    assert.match(await page.textContent('#sell-status') ?? '', /Please check/);
    await shot('sell-unsure');
    // Editing a marked field makes it the seller's: no longer marked.
    const marked = await page.locator('.field.unsure').count();
    const field = page.locator('.field.unsure').first();
    const id = await field.locator('input').getAttribute('id');
    await field.locator('input').fill('my own words');
    assert.equal(await page.locator('.field.unsure').count(), marked - 1);
    assert.equal(await page.textContent(`#${id}-note`), 'edited by you');
  });

  test('sell: a red photo fills the listing, the key is asked for, the product is published', async () => {
    await page.setInputFiles('#sell-file', { name: 'red.png', mimeType: 'image/png', buffer: red });
    await page.waitForSelector('#sell-form', { state: 'visible' });
    assert.equal(await page.inputValue('#f-category'), 'fashion > clothing > T-Shirt');
    assert.equal(await page.inputValue('#f-colour'), 'red');
    assert.equal(await page.inputValue('#f-title'), 'Red T-Shirt');
    assert.match(await page.textContent('#f-category-note') ?? '', /sure/);
    assert.equal(await page.locator('.field.unsure').count(), 0, 'confident fields are not marked');
    await page.fill('#f-price', '9.99');
    await shot('sell-suggested');

    const before = await shop.catalog.countProducts();
    await page.click('#publish');
    // No key yet: the dialog asks. A wrong key is refused and asked for again.
    await page.waitForSelector('#key-dialog[open]');
    await page.fill('#key-input', 'wrong-key');
    await page.click('#key-form button[value="ok"]');
    await page.waitForFunction(() => (document.getElementById('key-input') as HTMLInputElement).value === '' && (document.getElementById('key-dialog') as HTMLDialogElement).open);
    await page.fill('#key-input', TEST_KEY);
    await page.click('#key-form button[value="ok"]');
    await page.waitForSelector('#sell-done', { state: 'visible' });
    assert.match(await page.textContent('#sell-done') ?? '', /Published “Red T-Shirt”/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('groknet.apiKey')), TEST_KEY);
    assert.equal(await shop.catalog.countProducts(), before + 1);
    await shot('sell-published');
  });

  test('buy: words, then a facet filter', async () => {
    await page.click('#tab-buy');
    await page.fill('#search-text', 'cotton');
    await page.press('#search-text', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('#results .card').length === 3);
    // On this phone-sized screen the menus fold behind the Filters button.
    await page.waitForSelector('#filter-colour', { state: 'attached' });
    await page.getByRole('button', { name: /^Filters/ }).click();
    await shot('buy-words');
    await page.selectOption('#filter-colour', 'blue');
    await page.waitForFunction(() => document.querySelectorAll('#results .card').length === 1);
    assert.equal(await page.textContent('#results .card h3'), 'Cotton dress');
    await page.selectOption('#filter-colour', '');
    await page.waitForFunction(() => document.querySelectorAll('#results .card').length === 3);
  });

  test('buy: a photo finds the same product as exact; seen together shows the linked products; more like this', async () => {
    await page.setInputFiles('#buy-file', { name: 'red.png', mimeType: 'image/png', buffer: red });
    await page.waitForFunction(() => document.querySelector('#photo-query-note')?.textContent?.includes('red.png'));
    await page.waitForSelector('#results[aria-busy="false"] .card');
    const first = page.locator('#results .card').first();
    assert.equal(await first.getAttribute('data-match'), 'exact');
    assert.equal(await first.locator('.badge').textContent(), 'exact');
    assert.match(await first.locator('.score').textContent() ?? '', /score 1\.00/);
    assert.equal(await first.locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), true, 'the stored photo loads');
    await shot('buy-photo');

    // The tee was photographed with the dress (in the outfit photo, itself a listing). The
    // red listing published by the sell test is as exact a match, so the tee is picked by name.
    const tee = page.locator('#results .card', { has: page.locator('h3', { hasText: /^Cotton tee$/ }) });
    assert.equal(await tee.getAttribute('data-match'), 'exact');
    await tee.getByRole('button', { name: /^Seen together/ }).click();
    await page.waitForSelector('#seen-together .card');
    const seen = await page.locator('#seen-together .card h3').allTextContents();
    assert.deepEqual(seen.sort(), ['Cotton dress', 'Summer outfit']);
    assert.match(await page.locator('#seen-together .card .count').first().textContent() ?? '', /seen together in 1 photo$/);
    assert.equal(await page.locator('#seen-together .card img').first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), true, 'the linked product\'s photo loads');
    await shot('buy-seen-together');

    await first.getByRole('button', { name: /^More like/ }).click();
    await page.waitForFunction(() => /products? like/.test(document.getElementById('buy-status')?.textContent ?? ''));
    assert.ok((await page.locator('#results .card').count()) >= 1);
    assert.equal(await page.locator('#seen-together').isHidden(), true, 'the strip belongs to the product it was opened for');
  });

  test('buy: shop the look shows each garment of an outfit photo with its products, from the keyboard', async () => {
    await page.click('#tab-buy');
    const photo = { name: 'outfit.png', mimeType: 'image/png', buffer: await scenePhoto(320, 200, [LAWN, ...LOOK]) };
    await page.setInputFiles('#look-file', photo);
    await page.waitForFunction(() => /2 garments found$/.test(document.getElementById('look-status')?.textContent ?? ''));
    assert.equal(await page.getAttribute('#look-garments', 'aria-busy'), 'false');
    const labels = await page.locator('#look-garments .garment').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.label));
    assert.deepEqual(labels, ['dress', 't-shirt'], 'largest first');

    const dress = page.locator('.garment[data-label="dress"]');
    assert.equal(await dress.locator('h4').textContent(), 'Dress');
    assert.equal(await dress.getAttribute('data-colour'), 'blue');
    assert.equal(await dress.locator('.colour-name').textContent(), 'blue (100% of it)');
    assert.match(await dress.locator('.garment-meta').textContent() ?? '', /20% of the photo$/);
    assert.equal(await dress.locator('.swatch').getAttribute('aria-hidden'), 'true');
    const dressTop = dress.locator('.card').first();
    assert.equal(await dressTop.locator('h3').textContent(), 'Cotton dress');
    assert.equal(await dressTop.getAttribute('data-match'), 'exact');
    assert.equal(await dressTop.locator('.badge').textContent(), 'exact');
    assert.match(await dressTop.locator('.score').textContent() ?? '', /^score (1\.00|0\.9\d)$/);
    assert.equal(await dressTop.locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), true, 'the product photo loads');
    // The red tee and the red listing published by the sell test are both the same red.
    const teeTop = page.locator('.garment[data-label="t-shirt"] .card').first();
    assert.equal(await teeTop.getAttribute('data-match'), 'exact');
    assert.ok(['Cotton tee', 'Red T-Shirt'].includes((await teeTop.locator('h3').textContent()) ?? ''));
    await shot('buy-shop-the-look');

    // From the keyboard: Tab from the photo picker reaches "Same colour only"; Space ticks it
    // and the look is searched again, each garment only among products of its colour.
    await page.focus('#look-file');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'look-colour');
    await page.keyboard.press('Space');
    assert.equal(await page.isChecked('#look-colour'), true);
    await page.waitForFunction(() => /each with products of its own colour$/.test(document.getElementById('look-status')?.textContent ?? ''));
    const teeWhy = await page.locator('.garment[data-label="t-shirt"] .card .why').allTextContents();
    assert.ok(teeWhy.length >= 1 && teeWhy.every((why) => why.includes('colour=red')), teeWhy.join(' | '));
    // The result cards' actions work from here too.
    await page.locator('.garment[data-label="dress"] .card').first().getByRole('button', { name: /^More like/ }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /products? like “Cotton dress”|Nothing else looks like “Cotton dress”/.test(document.getElementById('buy-status')?.textContent ?? ''));
    await page.uncheck('#look-colour');

    // Errors are shown as text, and the old garments go.
    await page.setInputFiles('#look-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: TEXT_FILE });
    await page.waitForSelector('#look-status.error');
    assert.match(await page.textContent('#look-status') ?? '', /not an image we can read/);
    assert.equal(await page.locator('#look-garments .garment').count(), 0);

    // A photo with no garments in it says so.
    await page.setInputFiles('#look-file', { name: 'red.png', mimeType: 'image/png', buffer: red });
    await page.waitForFunction(() => /No garments found/.test(document.getElementById('look-status')?.textContent ?? ''));
  });

  test('sell: an outfit photo published with its garments lists them; a server that cannot segment says so and stores nothing', async () => {
    await page.click('#tab-sell');
    const photo = { name: 'look.png', mimeType: 'image/png', buffer: await scenePhoto(320, 200, [LAWN, ...LOOK]) };
    await page.setInputFiles('#sell-file', photo);
    await page.waitForSelector('#sell-form', { state: 'visible' });
    await page.fill('#f-title', 'Summer look');
    await page.check('#f-garments');

    // First the server refuses the option (as one without a segmentation model does): nothing is stored.
    const before = await shop.catalog.countProducts();
    await page.route('**/v1/products?garments=true', (route) =>
      route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'unavailable', message: 'this server has no segmentation model' } }) }),
    );
    await page.click('#publish');
    await page.waitForFunction(() => /cannot find garments/.test(document.getElementById('sell-status')?.textContent ?? ''));
    assert.equal(await shop.catalog.countProducts(), before);
    await page.unroute('**/v1/products?garments=true');
    // The browser logs the refused request; that one was caused on purpose.
    problems.splice(0, problems.length, ...problems.filter((p) => !/status of 503/.test(p)));

    await page.click('#publish');
    await page.waitForSelector('#sell-done', { state: 'visible' });
    assert.match(await page.textContent('#sell-garments') ?? '', /^Garments listed: blue dress, red t-shirt\.$/);
    await shot('sell-outfit-garments');
    const found = await app.inject({ method: 'POST', url: '/v1/search', payload: { filters: { garment_colour: 'dress:blue' } } });
    assert.equal(found.statusCode, 200, found.body);
    assert.ok(found.json().results.some((r: { title: string }) => r.title === 'Summer look'), 'the garments are searchable');
  });

  test('the page made no external requests and logged no errors', () => {
    assert.deepEqual(problems, []);
  });
});
