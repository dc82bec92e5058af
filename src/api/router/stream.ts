import type { ServerResponse } from 'node:http';

/** Writes with backpressure; resolves early if `signal` aborts while the socket is full. */
export async function writeChunk(res: ServerResponse, chunk: Buffer | string, signal: AbortSignal): Promise<void> {
  if (signal.aborted || res.destroyed) return;
  if (res.write(chunk)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Resolves when `signal` aborts. */
export const whenAborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
