/**
 * At most `limit` holders at once; the others wait their turn in order of arrival. A holder gives its slot
 * back with the function `take` resolved to (once; later calls do nothing). A waiter whose signal aborts
 * leaves the line and `take` rejects with the signal's reason, so a caller that gave up never holds a slot.
 */
export class Slots {
  private held = 0;
  private readonly waiting: Array<{ grant: (release: () => void) => void }> = [];

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`slots: limit must be at least 1, got ${limit}`);
  }

  /** Slots taken now. */
  get taken(): number {
    return this.held;
  }

  /** Callers waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }

  take(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.held < this.limit) {
      this.held++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: (release: () => void) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      // the slot passes straight to the next in line: `held` stays as it is
      if (next) next.grant(this.releaser());
      else this.held--;
    };
  }
}
