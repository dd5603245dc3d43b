// Serialises writes to one catalog directory inside this process. LanceDB resolves commit
// conflicts between processes itself; inside one process queuing writes avoids needless
// conflict retries and keeps reindex's catch-up-then-swap free of interleaved inserts.

const tails = new Map<string, Promise<unknown>>();

export async function withDirLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const previous = tails.get(dir) ?? Promise.resolve();
  const run = previous.then(fn);
  const tail = run.catch(() => undefined);
  tails.set(dir, tail);
  try {
    return await run;
  } finally {
    // Forget the chain once it is idle so the map does not grow with every directory ever used.
    if (tails.get(dir) === tail) tails.delete(dir);
  }
}
