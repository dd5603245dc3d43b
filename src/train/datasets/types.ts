// What a dataset adapter yields: image paths with whatever labels that dataset has.
// A sample carries labels only for the tasks its dataset supervises; the trainer masks
// every other head for it (a clothing photo says nothing about groceries).

export interface Sample {
  /** Absolute path of the image. */
  path: string;
  /** Dataset name (clothing, grocery, ...). */
  dataset: string;
  /** Class index per single-label task. */
  single: Record<string, number>;
  /** Present label indices per multi-label task (an empty list means "none of them", not unknown). */
  multi?: Record<string, number[]>;
  /** Product identity, for exact-product retrieval (ArcFace over products, photo/catalog pairs). */
  productId?: string;
  /** True for a product's catalog ("iconic") image rather than a photo of it. */
  catalogImage?: boolean;
  split: 'train' | 'val';
}

export interface LabelledDataset {
  name: string;
  /** Label names per task this dataset supervises. */
  tasks: Record<string, string[]>;
  samples: Sample[];
}
