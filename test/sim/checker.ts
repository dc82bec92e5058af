// Safety invariants over the whole simulated cluster, checked incrementally as the driver persists,
// applies and changes role. Every violation throws an InvariantError.

import { decodeConfChange, type Entry, type MemoryStorage } from '../../src/raft';

export class InvariantError extends Error {}

export const entryKey = (e: Entry): string => e.type + ':' + Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('latin1');

/** Running hash of the applied history (FNV-1a over index, term and payload). */
export function mixHash(h: number, e: Entry): number {
  h = Math.imul(h ^ e.index, 16777619) >>> 0;
  h = Math.imul(h ^ e.term, 16777619) >>> 0;
  h = Math.imul(h ^ (e.type === 'conf' ? 1 : 2), 16777619) >>> 0;
  for (let i = 0; i < e.data.length; i++) h = Math.imul(h ^ e.data[i], 16777619) >>> 0;
  return h;
}

export class Checker {
  /** index -> committed entry (first seen applied anywhere). */
  readonly committed = new Map<number, { term: number; key: string }>();
  /** index -> hash of the applied history up to it. */
  readonly hashAt = new Map<number, number>([[0, 2166136261]]);
  maxCommitted = 0;
  /** term -> leader id. */
  readonly leaders = new Map<number, number>();
  /** `${index}/${term}` -> payload key and previous term, across every log ever persisted. */
  private readonly logIndex = new Map<string, { key: string; prevTerm: number }>();
  /** Config as of the committed history: voters after each committed conf entry. */
  voters: number[];
  /** Called with the index of each conf entry as it first commits. */
  onConfCommitted?: (index: number, voters: number[]) => void;

  constructor(initialVoters: number[]) {
    this.voters = [...initialVoters].sort((a, b) => a - b);
  }

  fail(msg: string): never {
    throw new InvariantError(msg);
  }

  /** Log matching: same (index, term) means same payload and same previous term, in every log. */
  persisted(id: number, ents: Entry[], storage: MemoryStorage): void {
    let prevTerm: number | undefined;
    for (const e of ents) {
      if (prevTerm === undefined) {
        if (e.index - 1 < storage.firstIndex() - 1) {
          prevTerm = e.term;
          continue;
        }
        prevTerm = storage.term(e.index - 1);
      }
      const k = `${e.index}/${e.term}`;
      const key = entryKey(e);
      const got = this.logIndex.get(k);
      if (!got) this.logIndex.set(k, { key, prevTerm });
      else if (got.key !== key || got.prevTerm !== prevTerm) {
        this.fail(`log matching violated on node ${id} at index ${e.index} term ${e.term}: payload/prev term differ (${got.prevTerm} vs ${prevTerm})`);
      }
      prevTerm = e.term;
    }
  }

  /** State machine safety: every node applies the same entry at each index; none is ever lost. */
  applied(id: number, e: Entry, hashBefore: number): number {
    const h = mixHash(hashBefore, e);
    const c = this.committed.get(e.index);
    const key = entryKey(e);
    if (c) {
      if (c.term !== e.term || c.key !== key) this.fail(`node ${id} applied a different entry at ${e.index}: term ${e.term} vs committed ${c.term}`);
      const hh = this.hashAt.get(e.index);
      if (hh !== undefined && hh !== h) this.fail(`node ${id} applied history diverges at ${e.index}`);
    } else {
      const prevHash = this.hashAt.get(e.index - 1);
      if (prevHash === undefined) this.fail(`node ${id} applied ${e.index} before anyone applied ${e.index - 1}`);
      if (prevHash !== hashBefore) this.fail(`node ${id} applied ${e.index} on a diverged history`);
      this.committed.set(e.index, { term: e.term, key });
      this.hashAt.set(e.index, h);
      this.maxCommitted = Math.max(this.maxCommitted, e.index);
      if (e.type === 'conf') {
        const cc = decodeConfChange(e.data);
        const set = new Set(this.voters);
        if (cc.type === 'addNode') set.add(cc.nodeId);
        else set.delete(cc.nodeId);
        this.voters = [...set].sort((a, b) => a - b);
        this.onConfCommitted?.(e.index, this.voters);
      }
    }
    return h;
  }

  /** A node installed a snapshot: its state must be the committed history's at that index. */
  restoredSnapshot(id: number, index: number, hash: number): void {
    const hh = this.hashAt.get(index);
    if (hh === undefined) this.fail(`node ${id} restored a snapshot at ${index} that no node applied`);
    if (hh !== hash) this.fail(`node ${id} restored a snapshot at ${index} with a diverged state`);
  }

  /** Linearizable reads: the read index covers everything committed before the request was made. */
  readState(id: number, index: number, committedAtIssue: number): void {
    if (index < committedAtIssue) this.fail(`node ${id} read index ${index} < ${committedAtIssue} committed before the read began`);
  }
}
