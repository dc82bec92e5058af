// The simulated network: a priority queue of envelopes by delivery time, with partitions.

import type { Message } from '../../src/raft';
import { MinHeap } from '../../src/lib/min-heap';

export interface Envelope {
  at: number;
  seq: number;
  m: Message;
  /** Sender's incarnation when sent (snapshot reports go only to the same incarnation). */
  fromInc: number;
}

export class Net {
  private heap = new MinHeap<Envelope>(less);
  private seq = 0;
  /** node id -> partition group; nodes absent are in group 0. */
  private group = new Map<number, number>();

  size(): number {
    return this.heap.size;
  }

  push(m: Message, at: number, fromInc: number): void {
    this.heap.push({ at, seq: this.seq++, m, fromInc });
  }

  peek(): Envelope | undefined {
    return this.heap.peek();
  }

  pop(): Envelope | undefined {
    return this.heap.pop();
  }

  /** Remove everything (e.g. a scripted scenario dropping all in-flight traffic). */
  clear(): Envelope[] {
    return this.heap.clear();
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
