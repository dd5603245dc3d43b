// What a COCO class means for the product catalogue. The detectors know 80 everyday
// classes; a marketplace cares about the ones that are sold, grouped by vertical (the
// roots `fashion` and `grocery` are the same as the category paths in
// pipelines/verticals.ts). Every class is listed, so adding a class to COCO_CLASSES
// without deciding its meaning is a compile error.
import type { CocoClass } from './coco-classes.ts';

export const PRODUCT_VERTICALS = [
  'home', 'kitchen', 'electronics', 'fashion', 'grocery', 'sports', 'vehicles', 'toys', 'books', 'beauty',
] as const;

export type ProductVertical = (typeof PRODUCT_VERTICALS)[number];

/**
 * `person` is not a product but is kept: a person wears the garments, and later steps
 * (garment segmentation) start from the person box. `none` marks classes with no
 * product meaning (animals, street furniture, airplanes...), dropped by default.
 */
type Meaning = ProductVertical | 'person' | 'none';

const MEANING: Readonly<Record<CocoClass, Meaning>> = {
  person: 'person',
  // vehicles: what private sellers list; public transport and aircraft are not listings.
  bicycle: 'vehicles', car: 'vehicles', motorcycle: 'vehicles', truck: 'vehicles', boat: 'vehicles',
  airplane: 'none', bus: 'none', train: 'none',
  'traffic light': 'none', 'fire hydrant': 'none', 'stop sign': 'none', 'parking meter': 'none',
  bench: 'home',
  bird: 'none', cat: 'none', dog: 'none', horse: 'none', sheep: 'none', cow: 'none',
  elephant: 'none', bear: 'none', zebra: 'none', giraffe: 'none',
  backpack: 'fashion', umbrella: 'fashion', handbag: 'fashion', tie: 'fashion', suitcase: 'fashion',
  frisbee: 'sports', skis: 'sports', snowboard: 'sports', 'sports ball': 'sports', kite: 'sports',
  'baseball bat': 'sports', 'baseball glove': 'sports', skateboard: 'sports', surfboard: 'sports', 'tennis racket': 'sports',
  bottle: 'kitchen', 'wine glass': 'kitchen', cup: 'kitchen', fork: 'kitchen', knife: 'kitchen', spoon: 'kitchen', bowl: 'kitchen',
  banana: 'grocery', apple: 'grocery', sandwich: 'grocery', orange: 'grocery', broccoli: 'grocery', carrot: 'grocery',
  'hot dog': 'grocery', pizza: 'grocery', donut: 'grocery', cake: 'grocery',
  chair: 'home', couch: 'home', 'potted plant': 'home', bed: 'home', 'dining table': 'home', toilet: 'home',
  // A TV is furniture-sized but sold as electronics, with the other screens.
  tv: 'electronics', laptop: 'electronics', mouse: 'electronics', remote: 'electronics', keyboard: 'electronics', 'cell phone': 'electronics',
  microwave: 'kitchen', oven: 'kitchen', toaster: 'kitchen', sink: 'kitchen', refrigerator: 'kitchen',
  book: 'books', clock: 'home', vase: 'home', scissors: 'home', 'teddy bear': 'toys',
  'hair drier': 'beauty', toothbrush: 'beauty',
};

export interface Category {
  class: CocoClass;
  /** The product vertical; null for a person, or for an unmapped class kept with `keepUnmapped`. */
  vertical: ProductVertical | null;
}

export interface CategoriseOptions {
  /** Keep classes with no product meaning (vertical null) instead of dropping them. */
  keepUnmapped?: boolean;
}

/** The catalogue meaning of a detected class, or undefined when it is dropped. */
export function categorise(cls: CocoClass, options: CategoriseOptions = {}): Category | undefined {
  const meaning = MEANING[cls];
  if (meaning === 'person') return { class: cls, vertical: null };
  if (meaning === 'none') return options.keepUnmapped ? { class: cls, vertical: null } : undefined;
  return { class: cls, vertical: meaning };
}

/** The COCO classes that belong to a vertical, e.g. for a "detect only kitchen items" filter. */
export function classesOf(vertical: ProductVertical): CocoClass[] {
  return (Object.keys(MEANING) as CocoClass[]).filter((cls) => MEANING[cls] === vertical);
}
