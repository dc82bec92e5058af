// ReadIndex bookkeeping on the leader: each request remembers the commit index at arrival and is
// released once a quorum has answered a heartbeat carrying its context (proving leadership then).

import { Message } from './types';

export interface ReadRequest {
  /** Commit index when the request arrived: the read is safe once the state machine has applied it. */
  index: number;
  /** The original request: from = requester (the leader itself for local reads). */
  req: Message;
  acks: Set<number>;
}

const keyOf = (ctx: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < ctx.length; i++) s += ctx[i].toString(16).padStart(2, '0');
  return s;
};

export class ReadOnly {
  private pending = new Map<string, ReadRequest>();
  private queue: string[] = [];

  add(index: number, req: Message): void {
    const k = keyOf(req.context ?? new Uint8Array(0));
    if (this.pending.has(k)) return; // duplicate context: the first one answers
    this.pending.set(k, { index, req, acks: new Set() });
    this.queue.push(k);
  }

  /** Record an ack for ctx from `from`; returns the number of acks, or 0 if ctx is unknown. */
  recvAck(from: number, ctx: Uint8Array): Set<number> | undefined {
    const rs = this.pending.get(keyOf(ctx));
    if (!rs) return undefined;
    rs.acks.add(from);
    return rs.acks;
  }

  /** Remove and return every request up to and including ctx (earlier ones are confirmed too). */
  advance(ctx: Uint8Array): ReadRequest[] {
    const k = keyOf(ctx);
    const at = this.queue.indexOf(k);
    if (at < 0) return [];
    const keys = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadRequest[] = [];
    for (const key of keys) {
      const rs = this.pending.get(key);
      this.pending.delete(key);
      if (rs) out.push(rs);
    }
    return out;
  }

  lastPendingContext(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1])?.req.context;
  }

  size(): number {
    return this.queue.length;
  }
}
