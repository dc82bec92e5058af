// Proposals waiting for their entry to be applied here, keyed by the log index Raft gave them.
import type { Change } from '../../store';
import { LostLeadershipError, ProposalOverwrittenError } from './errors';

interface Pending {
  term: number;
  /** The store changes the entry was encoded from (a store write's proposal). */
  changes?: Change[];
  resolve: () => void;
  reject: (e: Error) => void;
}

export class PendingProposals {
  private readonly byIndex = new Map<number, Pending>();

  /**
   * Settles when the entry at `index` is applied: resolves if it still has `term`, else rejects.
   * `changes`: what the entry's data encodes, for `ownChanges`.
   */
  wait(index: number, term: number, changes?: Change[]): Promise<void> {
    return new Promise<void>((resolve, reject) => this.byIndex.set(index, { term, changes, resolve, reject }));
  }

  /**
   * The changes this node proposed as the entry at `index`, when the entry being applied is that one:
   * the same index and term name the same entry (Raft's log matching), so applying them spares decoding
   * bytes this process encoded from them. Undefined for anybody else's entry or an overwritten one.
   */
  ownChanges(index: number, term: number): Change[] | undefined {
    const p = this.byIndex.get(index);
    return p && p.term === term ? p.changes : undefined;
  }

  /** The entry at `index` was applied with `term`. Another term there means our entry was overwritten. */
  applied(index: number, term: number): void {
    const p = this.byIndex.get(index);
    if (!p) return;
    this.byIndex.delete(index);
    if (p.term === term) p.resolve();
    else p.reject(new ProposalOverwrittenError());
  }

  /** An installed snapshot covers indexes ≤ `index` without telling us which entries it holds. */
  lostThrough(index: number): void {
    for (const [i, p] of this.byIndex) {
      if (i <= index) {
        this.byIndex.delete(i);
        p.reject(new LostLeadershipError());
      }
    }
  }

  rejectAll(err: Error): void {
    for (const p of this.byIndex.values()) p.reject(err);
    this.byIndex.clear();
  }
}
