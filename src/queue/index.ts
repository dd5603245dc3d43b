// Public surface of the ingest queue (BullMQ on Redis).

export { enqueueIngest, type EnqueueOptions, type EnqueueSummary } from './enqueue.ts';
export { startWorker, processIngestJob, type IngestWorker, type WorkerOptions } from './worker.ts';
export { DEFAULT_QUEUE_NAME, DEFAULT_REDIS_URL } from './connection.ts';
export { jobId, type IngestJob, type IngestJobResult } from './jobs.ts';
