import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Keep polling when `fn` throws (a daemon not up yet, a refused connection); the last error is reported on timeout. */
  retryErrors?: boolean;
}

/**
 * The one polling wait of the tests (src/ and test/, whose harness adapts its argument order to it).
 * Polls `fn` (sync or async) every `everyMs` until it returns a truthy value; after `timeoutMs` (a
 * bound, not an expectation) fails naming `what` and the last value or error seen.
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
  everyMs = 5,
  opts: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined | false;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await fn();
      if (last) return last as NonNullable<T>;
    } catch (e) {
      if (!opts.retryErrors) throw e;
      lastErr = e;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${show(last)}${lastErr ? `; last error: ${String(lastErr)}` : ''}`);
    await sleep(everyMs);
  }
}

function show(v: unknown): string {
  try {
    return String(JSON.stringify(v));
  } catch {
    return String(v);
  }
}
