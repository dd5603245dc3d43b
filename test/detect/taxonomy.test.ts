import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COCO_CLASSES, cocoClassId, cocoClassName } from '../../src/detect/coco-classes.ts';
import { categorise, classesOf, PRODUCT_VERTICALS } from '../../src/detect/taxonomy.ts';

test('80 distinct COCO classes in the contiguous detection order', () => {
  assert.equal(COCO_CLASSES.length, 80);
  assert.equal(new Set(COCO_CLASSES).size, 80);
  // Spot checks across the range (the ids the packaged detectors emit).
  assert.equal(cocoClassName(0), 'person');
  assert.equal(cocoClassName(26), 'handbag');
  assert.equal(cocoClassName(46), 'banana');
  assert.equal(cocoClassName(47), 'apple');
  assert.equal(cocoClassName(49), 'orange');
  assert.equal(cocoClassName(62), 'tv');
  assert.equal(cocoClassName(67), 'cell phone');
  assert.equal(cocoClassName(79), 'toothbrush');
  assert.equal(cocoClassName(80), undefined);
  assert.equal(cocoClassName(-1), undefined);
  assert.equal(cocoClassName(1.5), undefined);
  assert.equal(cocoClassId('cell phone'), 67);
  assert.equal(cocoClassId('unicorn'), -1);
});

test('products map to their vertical', () => {
  const expected: Record<string, string> = {
    couch: 'home', chair: 'home', bed: 'home', 'dining table': 'home', 'potted plant': 'home', vase: 'home', clock: 'home',
    car: 'vehicles', bicycle: 'vehicles', motorcycle: 'vehicles',
    handbag: 'fashion', backpack: 'fashion', tie: 'fashion', suitcase: 'fashion', umbrella: 'fashion',
    laptop: 'electronics', 'cell phone': 'electronics', keyboard: 'electronics', mouse: 'electronics', remote: 'electronics', tv: 'electronics',
    bottle: 'kitchen', cup: 'kitchen', bowl: 'kitchen', 'wine glass': 'kitchen', fork: 'kitchen', knife: 'kitchen', spoon: 'kitchen',
    oven: 'kitchen', microwave: 'kitchen', toaster: 'kitchen', refrigerator: 'kitchen',
    banana: 'grocery', apple: 'grocery', orange: 'grocery', broccoli: 'grocery', carrot: 'grocery',
    skis: 'sports', snowboard: 'sports', 'tennis racket': 'sports',
  };
  for (const [cls, vertical] of Object.entries(expected)) {
    assert.deepEqual(categorise(cls as (typeof COCO_CLASSES)[number]), { class: cls, vertical }, cls);
  }
});

test('a person is kept without a vertical; classes with no product meaning are dropped unless asked for', () => {
  assert.deepEqual(categorise('person'), { class: 'person', vertical: null });
  for (const cls of ['traffic light', 'bird', 'stop sign', 'giraffe', 'airplane'] as const) {
    assert.equal(categorise(cls), undefined, cls);
    assert.deepEqual(categorise(cls, { keepUnmapped: true }), { class: cls, vertical: null });
  }
});

test('every class has a decision and every vertical has classes', () => {
  for (const cls of COCO_CLASSES) {
    const c = categorise(cls, { keepUnmapped: true });
    assert.ok(c && (c.vertical === null || PRODUCT_VERTICALS.includes(c.vertical)), cls);
  }
  for (const vertical of PRODUCT_VERTICALS) assert.ok(classesOf(vertical).length > 0, vertical);
  assert.deepEqual(classesOf('fashion').sort(), ['backpack', 'handbag', 'suitcase', 'tie', 'umbrella']);
});
