// The simulated network: a priority queue of envelopes by delivery time, with partitions.

import type { Message } from '../../src/raft';

export interface Envelope {
  at: number;
  seq: number;
  m: Message;
  /** Sender's incarnation when sent (snapshot reports go only to the same incarnation). */
  fromInc: number;
}

export class Net {
  private heap: Envelope[] = [];
  private seq = 0;
  /** node id -> partition group; nodes absent are in group 0. */
  private group = new Map<number, number>();

  size(): number {
    return this.heap.length;
  }

  push(m: Message, at: number, fromInc: number): void {
    const e: Envelope = { at, seq: this.seq++, m, fromInc };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  peek(): Envelope | undefined {
    return this.heap[0];
  }

  pop(): Envelope | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop() as Envelope;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }

  /** Remove everything (e.g. a scripted scenario dropping all in-flight traffic). */
  clear(): Envelope[] {
    const all = this.heap;
    this.heap = [];
    return all;
  }

  partition(groups: number[][]): void {
    this.group.clear();
    groups.forEach((g, i) => g.forEach((id) => this.group.set(id, i + 1)));
  }

  heal(): void {
    this.group.clear();
  }

  isPartitioned(): boolean {
    return this.group.size > 0;
  }

  connected(a: number, b: number): boolean {
    return (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0);
  }
}

function less(a: Envelope, b: Envelope): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
