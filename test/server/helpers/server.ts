// One app over a real tiny model and a real catalog in a temp dir, for API and page tests.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openCatalog } from '../../../src/catalog/index.ts';
import type { CatalogStore } from '../../../src/catalog/types.ts';
import { ModelAnalyzer } from '../../../src/pipelines/analyze.ts';
import { buildApp, type App, type BuildAppOptions } from '../../../src/server/app.ts';

export const TEST_KEY = 'test-key-0123456789';

export interface TestShop {
  analyzer: ModelAnalyzer;
  catalog: CatalogStore;
  dataDir: string;
  /** A new app over the shared model and catalog (each test may want different settings, a detector or a segmenter). */
  app(config?: BuildAppOptions['config'], options?: Pick<BuildAppOptions, 'detector' | 'segmenter'>): Promise<App>;
  close(): Promise<void>;
}

export async function openTestShop(modelDir: string): Promise<TestShop> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'groknet-server-test-'));
  const analyzer = await ModelAnalyzer.open(modelDir, { batchSize: 8 });
  const catalog = await openCatalog(dataDir, { embeddingDim: analyzer.embeddingDim });
  const apps: App[] = [];
  return {
    analyzer,
    catalog,
    dataDir,
    async app(config = {}, options = {}) {
      const app = await buildApp({
        ...options,
        analyzer,
        catalog,
        config: { dataDir, apiKey: TEST_KEY, rateLimitPerMinute: 0, web: false, inference: { maxBatch: 8 }, ...config },
      });
      apps.push(app);
      return app;
    },
    async close() {
      for (const app of apps) await app.close();
      await catalog.close();
      await analyzer.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
