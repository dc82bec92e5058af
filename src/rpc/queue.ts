// A push-based async iterable: producers push, one consumer iterates. Used to feed streaming RPCs.
export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | null = null;
  private failWaiting: ((e: unknown) => void) | null = null;
  private done = false;
  private error: unknown = undefined;

  push(item: T): void {
    if (this.done) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = this.failWaiting = null;
      w({ value: item, done: false });
    } else this.items.push(item);
  }

  /** No more items; the consumer finishes after draining. */
  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = this.failWaiting = null;
      w({ value: undefined as never, done: true });
    }
  }

  /** The consumer throws `err` after draining. */
  fail(err: unknown): void {
    if (this.done) return;
    this.error = err;
    this.done = true;
    if (this.failWaiting) {
      const f = this.failWaiting;
      this.waiting = this.failWaiting = null;
      f(err);
    }
  }

  get closed(): boolean {
    return this.done;
  }

  get size(): number {
    return this.items.length;
  }

  /** Takes every item waiting, without waiting for one (a consumer that gathers what came meanwhile). */
  drain(): T[] {
    const items = this.items;
    this.items = [];
    return items;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
        if (this.done) return this.error !== undefined ? Promise.reject(this.error) : Promise.resolve({ value: undefined as never, done: true });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiting = resolve;
          this.failWaiting = reject;
        });
      },
      return: () => {
        this.end();
        this.items = [];
        return Promise.resolve({ value: undefined as never, done: true });
      },
    };
  }
}
