// Public surface of the ingest queue (BullMQ on Redis).

export { enqueueIngest, type EnqueueOptions, type EnqueueSummary } from './enqueue.ts';
export { startWorker, processIngestJob, type IngestWorker, type WorkerOptions, type WorkerStats } from './worker.ts';
export { IngestBatcher, ListingFailure, type IngestBatcherOptions } from './ingest-batcher.ts';
export { DEFAULT_QUEUE_NAME, DEFAULT_REDIS_URL } from './connection.ts';
export { jobId, type IngestJob, type IngestJobResult } from './jobs.ts';
