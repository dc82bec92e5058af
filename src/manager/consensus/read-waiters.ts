// ReadIndex requests waiting for their read state and for the apply index to reach it, and plain
// waits for the apply index to reach a known index (a follower after a write it forwarded).
import { unavailable } from '../../lib/errors';
import type { Rng } from '../../lib/ports';
import type { ReadState } from '../../raft';
import type { Timers } from './options';

interface Waiter {
  index: number;
  resolve: (index: number) => void;
  reject: (e: Error) => void;
  timer: unknown;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class ReadWaiters {
  private readonly waiters = new Map<string, Waiter>();
  private counter = 0;

  constructor(
    private readonly timers: Timers,
    private readonly rng: Rng,
  ) {}

  /** A new request context and the promise its answer settles. */
  add(timeoutMs: number): { ctx: Uint8Array; done: Promise<number> } {
    const ctx = new Uint8Array(12);
    new DataView(ctx.buffer).setFloat64(0, ++this.counter);
    ctx.set(this.rng.bytes(4), 8);
    const key = hex(ctx);
    const done = new Promise<number>((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.waiters.delete(key);
        reject(unavailable('raft: read index timed out'));
      }, timeoutMs);
      this.waiters.set(key, { index: 0, resolve, reject, timer });
    });
    return { ctx, done };
  }

  /** Settles once the apply index reaches `index`: at once if `applied` has; rejects after `timeoutMs`. */
  until(index: number, applied: number, timeoutMs: number): Promise<number> {
    if (index <= applied) return Promise.resolve(applied);
    const key = `until-${++this.counter}`;
    return new Promise<number>((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.waiters.delete(key);
        reject(unavailable('raft: apply index wait timed out'));
      }, timeoutMs);
      this.waiters.set(key, { index, resolve, reject, timer });
    });
  }

  /** Record read states from a Ready and answer every request whose index is applied. */
  ready(states: ReadState[], applied: number): void {
    for (const rs of states) {
      const w = this.waiters.get(hex(rs.context));
      if (w) w.index = rs.index;
    }
    for (const [key, w] of this.waiters) {
      if (w.index > 0 && w.index <= applied) {
        this.waiters.delete(key);
        this.timers.clearTimeout(w.timer);
        w.resolve(w.index);
      }
    }
  }

  failAll(err: Error): void {
    for (const w of this.waiters.values()) {
      this.timers.clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
  }
}
