// The leader's view of each follower: how far it matches, what to send next, and the flow-control
// state (probe: one append per round trip; replicate: pipelined up to maxInflight; snapshot: paused).

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** Last indices of appends in flight, oldest first, bounded by `size`. */
export class Inflights {
  private buf: number[] = [];
  constructor(readonly size: number) {}

  add(last: number): void {
    if (this.full()) throw new Error('raft: cannot add into a full inflights');
    this.buf.push(last);
  }

  /** Free every inflight append whose last index is ≤ to. */
  freeLE(to: number): void {
    let i = 0;
    while (i < this.buf.length && this.buf[i] <= to) i++;
    if (i > 0) this.buf = this.buf.slice(i);
  }

  freeFirstOne(): void {
    if (this.buf.length > 0) this.buf = this.buf.slice(1);
  }

  full(): boolean {
    return this.buf.length >= this.size;
  }

  count(): number {
    return this.buf.length;
  }

  reset(): void {
    this.buf = [];
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe: an append is out and unanswered; wait for a response or the next heartbeat. */
  probeSent = false;
  /** Snapshot index being installed (state 'snapshot'). */
  pendingSnapshot = 0;
  /** Heard from within the current check-quorum window. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapIndex;
  }

  /** Acknowledged up to n. Returns false if the ack is stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * The follower rejected an append after `rejected`; `matchHint` is the highest index that may match.
   * Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}

/** Quorum size for n voters. */
export const quorum = (n: number): number => Math.floor(n / 2) + 1;

/** The largest index acknowledged by a quorum of the given match indices. */
export function committedIndex(matches: number[]): number {
  if (matches.length === 0) return 0;
  const sorted = [...matches].sort((a, b) => b - a);
  return sorted[quorum(matches.length) - 1];
}

export type VoteResult = 'won' | 'lost' | 'pending';

export function tallyVotes(voters: Iterable<number>, votes: Map<number, boolean>): { granted: number; rejected: number; result: VoteResult } {
  let granted = 0;
  let rejected = 0;
  let n = 0;
  for (const id of voters) {
    n++;
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = quorum(n);
  const result: VoteResult = granted >= q ? 'won' : n - rejected < q ? 'lost' : 'pending';
  return { granted, rejected, result };
}
