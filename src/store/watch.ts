import type { Kind, StoreEvent } from './types';

export interface WatchFilter {
  kinds?: Kind[];
  actions?: StoreEvent['action'][];
  match?: (e: StoreEvent) => boolean;
  /**
   * Only task events of this node (the task is on it, or was before the change). The store keeps such
   * watches by node, so a thousand dispatcher sessions cost one map lookup per event, not a thousand
   * `match` calls.
   */
  nodeId?: string;
}

/**
 * A queue of committed store events for one consumer. Consumers either `for await` it or poll
 * with `drain()`. It never drops events; a consumer that stops reading must close it.
 */
export class Watch implements AsyncIterable<StoreEvent> {
  private queue: StoreEvent[] = [];
  /** The waiting reader: told when an event is queued, or that the watch closed. */
  private waiter: ((closed: boolean) => void) | null = null;
  private closed = false;

  /** `wakeLater`: the store's, called when a waiting reader has events; it calls `wake()` (store.ts, ReaderWaker). */
  constructor(
    private filter: WatchFilter | undefined,
    private onClose: () => void,
    private wakeLater: (w: Watch) => void,
  ) {}

  /** The node this watch follows (see WatchFilter.nodeId). */
  get nodeId(): string | undefined {
    return this.filter?.nodeId;
  }

  offer(e: StoreEvent): void {
    if (this.closed) return;
    const f = this.filter;
    if (f?.kinds && !f.kinds.includes(e.kind)) return;
    if (f?.actions && !f.actions.includes(e.action)) return;
    if (f?.match && !f.match(e)) return;
    this.queue.push(e);
    if (this.waiter) this.wakeLater(this);
  }

  /** Tells a waiting reader that events are queued. */
  wake(): void {
    if (!this.waiter || this.queue.length === 0) return;
    const w = this.waiter;
    this.waiter = null;
    w(false);
  }

  /** Takes every queued event without waiting. */
  drain(): StoreEvent[] {
    const q = this.queue;
    this.queue = [];
    return q;
  }

  /** Resolves when at least one event is queued (or the watch is closed). */
  next(): Promise<IteratorResult<StoreEvent>> {
    const e = this.queue.shift();
    if (e) return Promise.resolve({ value: e, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiter = (closed) => resolve(closed ? { value: undefined, done: true } : { value: this.queue.shift()!, done: false })));
  }

  /**
   * Resolves true once an event is queued, taking none (`drain` takes them), or false once the watch is closed.
   * For a loop that waits across rounds: what it awaits carries no event, so its suspended frame holds none.
   */
  ready(): Promise<boolean> {
    if (this.queue.length > 0) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => (this.waiter = (closed) => resolve(!closed)));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(true);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<StoreEvent> {
    return { next: () => this.next(), return: async () => (this.close(), { value: undefined, done: true }) };
  }
}
