// The 80 COCO detection classes in the order both packaged detectors (centernet, nanodet)
// number them: class id k names COCO_CLASSES[k]. This is the contiguous 80-class order
// of the COCO 2017 detection set (ids 1-90 with the 10 unused ones removed, minus 1).

export const COCO_CLASSES = [
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
  'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
  'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
  'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
  'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
  'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
] as const;

export type CocoClass = (typeof COCO_CLASSES)[number];

export const COCO_CLASS_COUNT = COCO_CLASSES.length;

/** The name of class id `id`; undefined for ids outside 0-79 (or not integers). */
export function cocoClassName(id: number): CocoClass | undefined {
  return Number.isInteger(id) ? COCO_CLASSES[id] : undefined;
}

/** The id of a class name, or -1. */
export function cocoClassId(name: string): number {
  return (COCO_CLASSES as readonly string[]).indexOf(name);
}
