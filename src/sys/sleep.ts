import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waits `ms`, or less when `signal` aborts; never rejects on abort, because the loops that sleep
 * check their own stop flag after waking. Any other error (none expected) still propagates.
 */
export async function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (e) {
    if ((e as { name?: string }).name !== 'AbortError') throw e;
  }
}
