import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroknetError } from '../../src/errors.ts';
import { area, clipBox, fromXywh, iou, nms, toXywh, type ScoredBox } from '../../src/detect/nms.ts';

const box = (x1: number, y1: number, x2: number, y2: number) => ({ x1, y1, x2, y2 });
const det = (b: ReturnType<typeof box>, score: number, classId = 0, id = ''): ScoredBox & { id: string } => ({ box: b, score, classId, id });

test('iou of identical, disjoint, touching, nested and partly overlapping boxes', () => {
  assert.equal(iou(box(0, 0, 10, 10), box(0, 0, 10, 10)), 1);
  assert.equal(iou(box(0, 0, 10, 10), box(20, 20, 30, 30)), 0);
  assert.equal(iou(box(0, 0, 10, 10), box(10, 0, 20, 10)), 0, 'sharing an edge is no overlap');
  assert.equal(iou(box(0, 0, 10, 10), box(10, 10, 20, 20)), 0, 'sharing a corner is no overlap');
  assert.equal(iou(box(0, 0, 10, 10), box(2, 2, 7, 7)), 25 / 100);
  // 10x10 boxes shifted by 5 in x: intersection 50, union 150
  assert.equal(iou(box(0, 0, 10, 10), box(5, 0, 15, 10)), 50 / 150);
  assert.equal(iou(box(0, 0, 10, 10), box(5, 0, 15, 10)), iou(box(5, 0, 15, 10), box(0, 0, 10, 10)), 'symmetric');
});

test('degenerate boxes have no area and overlap nothing, not even themselves', () => {
  assert.equal(area(box(5, 5, 5, 9)), 0);
  assert.equal(area(box(9, 9, 5, 5)), 0, 'inverted corners count as empty');
  assert.equal(iou(box(5, 5, 5, 9), box(5, 5, 5, 9)), 0);
  assert.equal(iou(box(0, 0, 10, 10), box(3, 3, 3, 3)), 0);
});

test('clip and xywh conversions', () => {
  assert.deepEqual(clipBox(box(-5, -1, 120, 50), { width: 100, height: 40 }), box(0, 0, 100, 40));
  assert.deepEqual(clipBox(box(150, 60, 170, 80), { width: 100, height: 40 }), box(100, 40, 100, 40), 'outside collapses onto the border');
  assert.deepEqual(toXywh(box(10, 20, 40, 80)), [10, 20, 30, 60]);
  assert.deepEqual(fromXywh([10, 20, 30, 60]), box(10, 20, 40, 80));
  assert.deepEqual(toXywh(fromXywh([1.5, 2.25, 3, 4])), [1.5, 2.25, 3, 4]);
});

test('overlapping boxes of one class: the best stays, the others are suppressed', () => {
  const kept = nms(
    [det(box(0, 0, 10, 10), 0.6, 0, 'b'), det(box(1, 0, 11, 10), 0.9, 0, 'a'), det(box(0, 1, 10, 11), 0.7, 0, 'c'), det(box(50, 50, 60, 60), 0.3, 0, 'far')],
    { iouThreshold: 0.5 },
  );
  assert.deepEqual(kept.map((k) => k.id), ['a', 'far']);
});

test('different classes are kept even when they overlap completely, unless class-agnostic', () => {
  const items = [det(box(0, 0, 10, 10), 0.9, 0, 'person'), det(box(0, 0, 10, 10), 0.8, 26, 'handbag')];
  assert.deepEqual(nms(items, { iouThreshold: 0.5 }).map((k) => k.id), ['person', 'handbag']);
  assert.deepEqual(nms(items, { iouThreshold: 0.5, classAware: false }).map((k) => k.id), ['person']);
});

test('IoU exactly at the threshold is kept; just above is suppressed', () => {
  // IoU 50/150 = 1/3
  const pair = [det(box(0, 0, 10, 10), 0.9, 0, 'a'), det(box(5, 0, 15, 10), 0.8, 0, 'b')];
  assert.deepEqual(nms(pair, { iouThreshold: 1 / 3 }).map((k) => k.id), ['a', 'b']);
  assert.deepEqual(nms(pair, { iouThreshold: 0.33 }).map((k) => k.id), ['a']);
  assert.deepEqual(nms(pair, { iouThreshold: 1 }).map((k) => k.id), ['a', 'b'], 'threshold 1 suppresses nothing');
  assert.deepEqual(nms([det(box(0, 0, 10, 10), 0.9, 0, 'a'), det(box(20, 0, 30, 10), 0.8, 0, 'b')], { iouThreshold: 0 }).map((k) => k.id), ['a', 'b']);
});

test('ordering, ties, non-finite scores, maxOutput and bad thresholds', () => {
  const items = [det(box(0, 0, 1, 1), 0.5, 0, 'first'), det(box(5, 5, 6, 6), 0.5, 0, 'second'), det(box(9, 9, 10, 10), Number.NaN, 0, 'nan'), det(box(20, 20, 21, 21), 0.7, 0, 'best')];
  assert.deepEqual(nms(items, { iouThreshold: 0.5 }).map((k) => k.id), ['best', 'first', 'second']);
  assert.deepEqual(nms(items, { iouThreshold: 0.5, maxOutput: 2 }).map((k) => k.id), ['best', 'first']);
  assert.deepEqual(nms([], { iouThreshold: 0.5 }), []);
  for (const bad of [-0.1, 1.5, Number.NaN]) {
    assert.throws(() => nms(items, { iouThreshold: bad }), (e: unknown) => e instanceof GroknetError && e.code === 'invalid_argument');
  }
});
