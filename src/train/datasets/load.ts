// One entry point from a dataset's config to its labelled samples, by adapter name.
import type { DatasetConfig } from '../config.ts';
import { GroknetError } from '../../errors.ts';
import { loadClothing } from './clothing.ts';
import { loadClothingParsing } from './clothing-parsing.ts';
import { loadFashionMnist, limitTrain } from './fashion-mnist.ts';
import { loadFashionProducts } from './fashion-products.ts';
import { loadFurniture } from './furniture.ts';
import { loadFolderDataset, loadListingDataset } from './generic.ts';
import { loadGrocery } from './grocery.ts';
import type { LabelledDataset } from './types.ts';

export async function loadDataset(config: DatasetConfig): Promise<LabelledDataset> {
  const dataset = await load(config);
  if (dataset.samples.length === 0) throw new GroknetError('invalid_config', `dataset '${config.name}' has no images`);
  const renamed = { ...dataset, name: config.name, samples: dataset.samples.map((s) => ({ ...s, dataset: config.name })) };
  return config.adapter === 'fashion-mnist' ? renamed : { ...renamed, samples: limitTrain(renamed.samples, config.limit) };
}

function load(config: DatasetConfig): Promise<LabelledDataset> {
  const generic = () => {
    if (!config.head) throw new GroknetError('invalid_config', `dataset '${config.name}' (${config.adapter}) needs "head": the head its labels train`);
    return { name: config.name, head: config.head, valFraction: config.valFraction };
  };
  switch (config.adapter) {
    case 'clothing':
      return loadClothing(config.path, config.valFraction);
    case 'grocery':
      return loadGrocery(config.path);
    case 'clothing-parsing':
      return loadClothingParsing(config.path, config.valFraction);
    case 'fashion-mnist':
      return loadFashionMnist(config.path, { ...(config.limit === undefined ? {} : { limit: config.limit }), ...(config.validation === undefined ? {} : { validation: config.validation }) });
    case 'fashion-products':
      return loadFashionProducts(config.path, config.valFraction);
    case 'furniture':
      return loadFurniture(config.path, config.valFraction);
    case 'folder':
      return loadFolderDataset(config.path, generic());
    case 'csv':
    case 'jsonl':
      return loadListingDataset(config.path, config.adapter, generic());
  }
}
