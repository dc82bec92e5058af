// The log storage Raft reads from. The driver writes to it (append, applySnapshot, compact) after it
// has made the same change durable; Raft itself only reads. MemoryStorage is the in-memory version
// a driver keeps in front of its disk (and the whole durable state in the simulator).

import {
  CompactedError,
  ConfState,
  Entry,
  HardState,
  RaftPanic,
  Snapshot,
  SnapshotOutOfDateError,
  UnavailableError,
} from './types';

export interface Storage {
  /** Saved hard state and the conf state of the latest snapshot (or of the empty log). */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi). Throws CompactedError if lo is compacted, UnavailableError if hi > lastIndex+1. */
  entries(lo: number, hi: number, maxCount?: number): Entry[];
  /** Term of entry i, for i in [firstIndex-1, lastIndex]. Throws CompactedError / UnavailableError otherwise. */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot. May throw SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot;
}

const cloneConf = (cs: ConfState): ConfState => ({ voters: [...cs.voters] });

export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot;
  /** ents[0] is a dummy holding the snapshot's index and term. */
  private ents: Entry[];

  /** `confState`: the configuration of an empty log (tests and hand-built clusters; bootstrap uses `peers`). */
  constructor(confState: ConfState = { voters: [] }) {
    this.snap = { metadata: { index: 0, term: 0, confState: cloneConf(confState) }, data: new Uint8Array(0) };
    this.ents = [{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }];
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: cloneConf(this.snap.metadata.confState) };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  hardStateNow(): HardState {
    return { ...this.hardState };
  }

  private get offset(): number {
    return this.ents[0].index;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  entries(lo: number, hi: number, maxCount = Infinity): Entry[] {
    if (lo <= this.offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    const end = Math.min(hi, lo + Math.max(1, maxCount));
    return this.ents.slice(lo - this.offset, end - this.offset);
  }

  term(i: number): number {
    if (i < this.offset) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    return this.ents[i - this.offset].term;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replace the whole log with a snapshot received from the leader. */
  applySnapshot(s: Snapshot): void {
    if (s.metadata.index <= this.snap.metadata.index) throw new SnapshotOutOfDateError(s.metadata.index);
    this.snap = { metadata: { ...s.metadata, confState: cloneConf(s.metadata.confState) }, data: s.data };
    this.ents = [{ term: s.metadata.term, index: s.metadata.index, type: 'normal', data: new Uint8Array(0) }];
  }

  /** Record a snapshot of the state machine at `index` (≤ applied). Does not drop entries: call compact for that. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError(index);
    if (index > this.lastIndex()) throw new RaftPanic(`snapshot ${index} is out of bound lastindex(${this.lastIndex()})`);
    this.snap = {
      metadata: { index, term: this.ents[index - this.offset].term, confState: cloneConf(confState) },
      data,
    };
    return this.snap;
  }

  /** Drop entries before `compactIndex`; the entry at compactIndex becomes the new dummy. */
  compact(compactIndex: number): void {
    if (compactIndex <= this.offset) throw new CompactedError(compactIndex);
    if (compactIndex > this.lastIndex()) throw new RaftPanic(`compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    const i = compactIndex - this.offset;
    const dummy: Entry = { term: this.ents[i].term, index: compactIndex, type: 'normal', data: new Uint8Array(0) };
    this.ents = [dummy, ...this.ents.slice(i + 1)];
  }

  /** Append entries, truncating any existing entries from the first new index on. Entries must be contiguous. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return; // all compacted already
    if (first > entries[0].index) entries = entries.slice(first - entries[0].index);
    const at = entries[0].index - this.offset;
    if (at > this.ents.length) throw new RaftPanic(`missing log entry [last: ${this.lastIndex()}, append at: ${entries[0].index}]`);
    this.ents = this.ents.slice(0, at).concat(entries);
  }
}
