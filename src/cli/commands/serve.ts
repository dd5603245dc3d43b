// `groknet serve`: the HTTP API and the web page over one model and one catalog.
//
// Write access, decided once at start:
//   GROKNET_API_KEY set         -> writes need that key.
//   --allow-anonymous-writes    -> anyone who can reach the server may write (local demos).
//   --read-only                 -> writes are refused.
//   none of these (the default) -> a random key is generated and printed once, so
//                                  `npm start` is a usable demo that no other web page
//                                  or local process can write to without the key.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import path from 'node:path';
import { openCatalog } from '../../catalog/index.ts';
import { DEFAULT_DETECTOR, DETECTOR_NAMES, isDetectorName, openDetector } from '../../detect/index.ts';
import { GroknetError } from '../../errors.ts';
import type { ExecutionProvider } from '../../model/backend/onnxruntime.ts';
import { MAX_BATCH_SIZE, ModelAnalyzer } from '../../pipelines/analyze.ts';
import { Segmenter } from '../../pipelines/segment.ts';
import { buildApp } from '../../server/app.ts';
import { DEFAULT_SEARCH_ADMISSION, LOG_LEVELS, type LogLevel } from '../../server/config.ts';
import { intOption, parse } from '../args.ts';

export const SERVE_USAGE =
  `usage: groknet serve [--port 8080] [--host 127.0.0.1] [--data DIR] [--model DIR] [--batch N] [--provider cpu|cuda] [--detector ${DETECTOR_NAMES.join('|')} | --no-detect]\n` +
  '                     [--segment-model DIR | --no-segment] [--models-dir DIR,...]\n' +
  '                     [--allow-anonymous-writes | --read-only] [--cors ORIGIN,...] [--rate-limit N] [--search-concurrency N] [--trust-proxy] [--log-level LEVEL]\n' +
  '  Writes need GROKNET_API_KEY; without it a key is generated and printed once (see --allow-anonymous-writes, --read-only).\n' +
  '  Logs (JSON lines) are at warn by default: errors and refused work only; --log-level info (or LOG_LEVEL=info) adds a line per request.\n' +
  '  Products in photos are detected (analyze, seen-together links on publish) with the detector opened on first use; --no-detect turns that off.\n' +
  '  Garments are segmented (shop the look, analyze?garments=true) with the segmentation model opened on first use; if it cannot be\n' +
  '  opened those requests answer 503 and the rest of the API serves on. --no-segment turns that off.\n' +
  '  The model is switched without a restart by POST /v1/admin/model (a directory under DATA/models, or under --models-dir)\n' +
  '  or by SIGHUP, which reloads the --model directory.';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      data: { type: 'string' },
      model: { type: 'string' },
      batch: { type: 'string' },
      provider: { type: 'string', default: 'cpu' },
      detector: { type: 'string', default: DEFAULT_DETECTOR },
      'no-detect': { type: 'boolean', default: false },
      'segment-model': { type: 'string' },
      'models-dir': { type: 'string' },
      'no-segment': { type: 'boolean', default: false },
      'allow-anonymous-writes': { type: 'boolean', default: false },
      'read-only': { type: 'boolean', default: false },
      cors: { type: 'string' },
      'rate-limit': { type: 'string' },
      'search-concurrency': { type: 'string' },
      'trust-proxy': { type: 'boolean', default: false },
      // No default here: LOG_LEVEL applies when the flag is absent.
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  const port = intOption(values.port, 'port', 0, 65535, 8080);
  const batchSize = intOption(values.batch, 'batch', 1, MAX_BATCH_SIZE, 16);
  const rateLimitPerMinute = intOption(values['rate-limit'], 'rate-limit', 0, 1_000_000, 600);
  // Catalog queries at once (0: unbounded); more wait in line, past 256 waiting: 429.
  const searchConcurrency = intOption(values['search-concurrency'], 'search-concurrency', 0, 256, DEFAULT_SEARCH_ADMISSION.maxConcurrent);
  // warn: a line per request (info) would bury the printed key and the errors that matter.
  const logLevel = (values['log-level'] ?? (process.env.LOG_LEVEL?.trim() || 'warn')) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new GroknetError('invalid_argument', `--log-level (or LOG_LEVEL) must be one of ${LOG_LEVELS.join(', ')}`);
  const detectorName = values.detector;
  if (!isDetectorName(detectorName)) throw new GroknetError('invalid_argument', `--detector must be one of ${DETECTOR_NAMES.join(', ')}, got '${detectorName}'`);
  const anonymous = values['allow-anonymous-writes'];
  if (values['no-segment'] && values['segment-model']) throw new GroknetError('invalid_argument', '--segment-model and --no-segment contradict each other');
  if (anonymous && values['read-only']) throw new GroknetError('invalid_argument', '--allow-anonymous-writes and --read-only contradict each other');

  const envKey = process.env.GROKNET_API_KEY?.trim() || undefined;
  const generated = !envKey && !anonymous && !values['read-only'] ? randomBytes(24).toString('base64url') : undefined;
  const apiKey = envKey ?? generated;
  const host = values.host;
  const dataDir = path.resolve(values.data ?? process.env.GROKNET_DATA ?? 'data');

  const modelDir = values.model ? path.resolve(values.model) : undefined;
  const openModel = (dir: string | undefined) => ModelAnalyzer.open(dir, { batchSize, provider: values.provider as ExecutionProvider });
  const analyzer = await openModel(modelDir);
  const catalog = await openCatalog(dataDir, { embeddingDim: analyzer.embeddingDim }).catch(async (error: unknown) => {
    await analyzer.close();
    throw error;
  });
  const info = await catalog.info();
  if (info.modelVersion !== undefined && info.modelVersion !== analyzer.modelVersion) {
    process.stderr.write(`groknet serve: the catalog holds ${info.modelVersion} but the model is ${analyzer.modelVersion}; publishing will fail until you reindex\n`);
  }

  const provider = values.provider as ExecutionProvider;
  const segmentModel = values['segment-model'] ? path.resolve(values['segment-model']) : undefined;
  const app = await buildApp({
    analyzer,
    catalog,
    // The app closes the first model once a switch retires it (and its last request ends).
    models: { load: openModel, ownsAnalyzer: true, ...(modelDir ? { path: modelDir } : {}) },
    // Opened on first use: starting stays quick, and a server nobody asks to detect never loads it.
    ...(values['no-detect'] ? {} : { detector: () => openDetector(detectorName, { provider }) }),
    // Also opened on first use; a model that cannot be opened costs only those requests (503).
    ...(values['no-segment'] ? {} : { segmenter: () => Segmenter.open(segmentModel, { provider }) }),
    config: {
      dataDir,
      apiKey,
      allowAnonymousWrites: anonymous,
      corsOrigins: values.cors ? values.cors.split(',').map((o) => o.trim()).filter(Boolean) : [],
      rateLimitPerMinute,
      trustProxy: values['trust-proxy'],
      inference: { maxBatch: batchSize },
      search: { maxConcurrent: searchConcurrency },
      ...(values['models-dir'] ? { modelsDirs: values['models-dir'].split(',').map((dir) => path.resolve(dir.trim())).filter(Boolean) } : {}),
      logLevel,
    },
  });

  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`groknet serve: ${signal} again, exiting without draining\n`);
        process.exit(128 + constants.signals[signal]);
      }
      stopping = true;
      process.stderr.write(`groknet serve: ${signal}, finishing in-flight requests…\n`);
      // close() stops accepting connections, waits for in-flight requests and drains the inference queue.
      void app
        .close()
        .catch((error: unknown) => process.stderr.write(`groknet serve: error while closing: ${(error as Error).message}\n`))
        .finally(async () => {
          // The app closed its models (the first one included: it was handed over).
          await catalog.close().catch(() => undefined);
          resolve();
        });
    };
    // `on`, not `once`: a second signal must reach `stop` to exit without draining (with `once`, it killed the process by the signal).
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

  // SIGHUP: reload the --model directory (a new version written there) the way POST
  // /v1/admin/model switches: loaded and checked first, the old one kept on any failure.
  process.on('SIGHUP', () => {
    const dir = modelDir ?? app.groknetModel.served.path;
    if (!dir) {
      process.stderr.write('groknet serve: SIGHUP ignored: started without --model, there is no directory to reload\n');
      return;
    }
    const before = app.groknetModel.served.modelVersion;
    app.groknetModel.switchTo(dir).then(
      (served) => process.stderr.write(`groknet serve: SIGHUP: now serving ${served.modelVersion} (was ${before})\n`),
      (error: unknown) => process.stderr.write(`groknet serve: SIGHUP: still serving ${before}: ${(error as Error).message}\n`),
    );
  });

  const address = await app.listen({ port, host });
  const out: string[] = [
    `groknet serving ${analyzer.modelVersion} (pid ${process.pid}) on ${address}  (web page: /, API docs: /docs; product detection: ${values['no-detect'] ? 'off' : detectorName}; garment segmentation: ${values['no-segment'] ? 'off' : 'on'})`,
  ];
  if (generated) out.push(`write API key for this run (not stored; set GROKNET_API_KEY to choose one): ${generated}`);
  else if (anonymous) out.push(`anonymous writes are allowed${LOOPBACK.has(host) ? ' (this machine only)' : `: ANYONE who can reach ${host} can change the catalog`}`);
  else if (values['read-only']) out.push('read-only: publishing and deleting are refused');
  else out.push('writes need the key in GROKNET_API_KEY');
  process.stdout.write(`${out.join('\n')}\n`);

  await stopped;
  return 0;
}
