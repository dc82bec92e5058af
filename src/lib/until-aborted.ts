// Reading an async iterable that may not heed an abort signal, for as long as the signal allows.

/**
 * Iterates `it` until it ends or `signal` aborts, even if the producer ignores the signal (the iterable is
 * closed either way).
 *
 * Each wait races the next value with an abort promise of its own. One abort promise for the whole
 * iteration stays pending all along and gains a reaction in every race it joins, and each reaction keeps
 * its race's result, the value yielded, until the promise settles: an agent kept every assignment message
 * of a session, and every line of a followed log, until the session or the follow ended.
 */
export async function* untilAborted<T>(it: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iter = it[Symbol.asyncIterator]();
  try {
    while (!signal.aborted) {
      let onAbort = (): void => undefined;
      const aborted = new Promise<IteratorResult<T>>((resolve) => (onAbort = () => resolve({ done: true, value: undefined })));
      signal.addEventListener('abort', onAbort, { once: true });
      let r: IteratorResult<T> | undefined;
      try {
        r = await Promise.race([iter.next(), aborted]);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
      if (r.done) return;
      // cleared once the consumer asks for more: a suspended generator keeps its frame's values
      let v: T | undefined = r.value;
      r = undefined;
      yield v;
      v = undefined;
    }
  } finally {
    void iter.return?.()?.catch?.(() => undefined);
  }
}
