// The log storage Raft reads from. The driver writes to it (append, applySnapshot, compact) after it
// has made the same change durable; Raft itself only reads. MemoryStorage is the in-memory version
// a driver keeps in front of its disk (and the whole durable state in the simulator).
//
// Given a `LogBacking` (the driver's disk), it keeps in memory only what Raft is likely to read soon:
// entries not yet committed and the newest `keepBytes` of committed ones. Older committed entries keep
// their index and term here (Raft asks for terms all the time) and are read back from the disk when a
// slow follower needs them; the payload of a snapshot already durable is read back when one is sent.
// etcd's MemoryStorage keeps every entry since the snapshot and the snapshot's bytes; at 100,000 tasks
// that was up to ~80 MiB of log and ~50 MiB of snapshot held for followers that rarely need them
// (issue 15, docs/design/performance.md "Leader memory at scale, by owner").

import {
  CompactedError,
  ConfState,
  Entry,
  HardState,
  RaftPanic,
  Snapshot,
  SnapshotMetadata,
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

/** Where a MemoryStorage reads back what it no longer holds. Everything it is asked for was durable when handed over. */
export interface LogBacking {
  /**
   * Entries [lo, hi) as the disk holds them, in order: fewer (none) when the disk no longer has them,
   * and no more after the one that brings their data to `maxBytes` (always at least one).
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** The payload of the snapshot `metadata` names. */
  snapshotData(metadata: SnapshotMetadata): Uint8Array;
}

export interface LogRetention {
  backing: LogBacking;
  /** Bytes of committed entries' data kept in memory, newest first (entries not yet committed are always kept). */
  keepBytes: number;
  /**
   * Bytes of entry data read back per call, at most (after the first entry): reading back runs on the
   * caller's thread and what it returns goes into one message, so a follower far behind is caught up in
   * bounded steps (Raft takes fewer entries than asked for as "the storage capped it").
   */
  readBackBytes: number;
}

const NO_DATA = new Uint8Array(0);

/** A committed entry whose data was dropped (read back through the backing): its index, term and size stay. */
class ReleasedEntry implements Entry {
  readonly data = NO_DATA;
  constructor(
    readonly index: number,
    readonly term: number,
    readonly type: Entry['type'],
    readonly size: number,
  ) {}
}

export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot;
  /** The snapshot's payload is only on disk (read back through the retention's backing when asked for). */
  private snapReleased = false;
  /** ents[0] is a dummy holding the snapshot's index and term. */
  private ents: Entry[];
  /** Entries up to here (after the dummy) are ReleasedEntry records. */
  private releasedThrough = 0;
  /** Data bytes of the entries after releasedThrough. */
  private heldBytes = 0;

  /**
   * `confState`: the configuration of an empty log (tests and hand-built clusters; bootstrap uses `peers`).
   * `retention`: keep only part of the log and no durable snapshot payload in memory (see the file's head).
   */
  constructor(
    confState: ConfState = { voters: [] },
    private readonly retention?: LogRetention,
  ) {
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
    if (lo > this.releasedThrough || !this.retention) return this.ents.slice(lo - this.offset, end - this.offset);
    const diskEnd = Math.min(end, this.releasedThrough + 1);
    const read = this.retention.backing.entries(lo, diskEnd, this.retention.readBackBytes);
    // the disk compacts before this storage does (the driver compacts here once the disk has): what it no
    // longer has is compacted as far as Raft is concerned, and it sends the snapshot instead
    if (read.length === 0) throw new CompactedError(lo);
    let bytes = 0;
    for (let k = 0; k < read.length; k++) {
      const e = read[k];
      const held = this.ents[e.index - this.offset];
      if (e.index !== lo + k || held?.index !== e.index || held.term !== e.term) throw new RaftPanic(`entry ${e.index} read back from disk has term ${e.term}, expected ${held?.term} at ${lo + k}`);
      bytes += e.data.byteLength;
    }
    const readTo = lo + read.length;
    // capped by the byte budget (or the disk's end): the rest in a later call
    if (readTo < diskEnd || bytes >= this.retention.readBackBytes || readTo === end) return read;
    return read.concat(this.ents.slice(readTo - this.offset, end - this.offset));
  }

  /** Bytes of entry i's data, whether it is held or only on disk (i in [firstIndex, lastIndex]). */
  entrySize(i: number): number {
    if (i <= this.offset) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    const e = this.ents[i - this.offset];
    return e instanceof ReleasedEntry ? e.size : e.data.byteLength;
  }

  /** Bytes of entry data and of the snapshot payload held in memory (diagnostics and tests). */
  heldInMemory(): { entries: number; snapshot: number } {
    return { entries: this.heldBytes, snapshot: this.snapReleased ? 0 : this.snap.data.byteLength };
  }

  term(i: number): number {
    if (i < this.offset) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    return this.ents[i - this.offset].term;
  }

  /**
   * The latest snapshot. When its payload is only on disk, the one returned reads it at the first use
   * of `data`: Raft and the driver read the metadata far more often (at every compaction) than a
   * follower needs the payload.
   */
  snapshot(): Snapshot {
    if (!this.snapReleased || !this.retention) return this.snap;
    const { backing } = this.retention;
    const { metadata } = this.snap;
    let data: Uint8Array | undefined;
    return {
      metadata,
      get data(): Uint8Array {
        return (data ??= backing.snapshotData(metadata));
      },
    };
  }

  /**
   * This storage as Raft reads it: the same log, but a snapshot Raft takes (to send it to a follower)
   * carries its payload, read from the backing at that moment if it is not held. `snapshot()` itself reads
   * the payload only when `data` is first used, which suits the driver (it reads the metadata at every
   * compaction) but not a message that may wait in a queue while a newer snapshot replaces the file.
   */
  raftView(): Storage {
    return {
      initialState: () => this.initialState(),
      entries: (lo, hi, maxCount) => this.entries(lo, hi, maxCount),
      term: (i) => this.term(i),
      firstIndex: () => this.firstIndex(),
      lastIndex: () => this.lastIndex(),
      snapshot: () => {
        const s = this.snapshot();
        return s === this.snap ? s : { metadata: s.metadata, data: s.data };
      },
    };
  }

  /**
   * Replace the whole log with a snapshot received from the leader (or loaded from disk at start). Its
   * payload stays in memory until the next compact(): the driver decodes it right after.
   */
  applySnapshot(s: Snapshot): void {
    if (s.metadata.index <= this.snap.metadata.index) throw new SnapshotOutOfDateError(s.metadata.index);
    this.snap = { metadata: { ...s.metadata, confState: cloneConf(s.metadata.confState) }, data: s.data };
    this.snapReleased = false;
    this.ents = [{ term: s.metadata.term, index: s.metadata.index, type: 'normal', data: new Uint8Array(0) }];
    this.releasedThrough = s.metadata.index;
    this.heldBytes = 0;
  }

  /**
   * Record a snapshot of the state machine at `index` (≤ applied). Does not drop entries: call compact for
   * that. Without `data` the payload is already durable and read back through the retention's backing
   * when used (a snapshot written to disk as it was encoded, never whole in memory).
   */
  createSnapshot(index: number, confState: ConfState, data?: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError(index);
    if (index > this.lastIndex()) throw new RaftPanic(`snapshot ${index} is out of bound lastindex(${this.lastIndex()})`);
    if (!data && !this.retention) throw new RaftPanic(`snapshot ${index} has no payload and nothing to read it back from`);
    this.snap = {
      metadata: { index, term: this.ents[index - this.offset].term, confState: cloneConf(confState) },
      data: data ?? new Uint8Array(0),
    };
    this.snapReleased = !data;
    return this.snapshot();
  }

  /**
   * Drop entries before `compactIndex`; the entry at compactIndex becomes the new dummy. The driver
   * compacts once the latest snapshot is durable, so with a retention its payload is dropped here too.
   */
  compact(compactIndex: number): void {
    if (compactIndex <= this.offset) throw new CompactedError(compactIndex);
    if (compactIndex > this.lastIndex()) throw new RaftPanic(`compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    const i = compactIndex - this.offset;
    for (let k = 1; k <= i; k++) this.dropHeld(this.ents[k]);
    const dummy: Entry = { term: this.ents[i].term, index: compactIndex, type: 'normal', data: new Uint8Array(0) };
    this.ents = [dummy, ...this.ents.slice(i + 1)];
    this.releasedThrough = Math.max(this.releasedThrough, compactIndex);
    if (this.retention && this.snap.metadata.index > 0) {
      this.snap = { metadata: this.snap.metadata, data: new Uint8Array(0) };
      this.snapReleased = true;
    }
  }

  /** Forgets an entry's bytes from heldBytes when it leaves the log (compacted or truncated). */
  private dropHeld(e: Entry): void {
    if (e.index > this.releasedThrough) this.heldBytes -= e.data.byteLength;
  }

  /** Drops the data of the oldest committed entries until at most keepBytes of committed data are held. */
  private release(): void {
    if (!this.retention) return;
    const upTo = Math.min(this.hardState.commit, this.lastIndex());
    // entries after upTo are always held: only the committed ones count against keepBytes
    let committedBytes = this.heldBytes;
    for (let i = this.ents.length - 1; i > 0 && this.ents[i].index > upTo; i--) committedBytes -= this.ents[i].data.byteLength;
    while (committedBytes > this.retention.keepBytes && this.releasedThrough < upTo) {
      const k = this.releasedThrough + 1 - this.offset;
      const e = this.ents[k];
      this.ents[k] = new ReleasedEntry(e.index, e.term, e.type, e.data.byteLength);
      this.heldBytes -= e.data.byteLength;
      committedBytes -= e.data.byteLength;
      this.releasedThrough++;
    }
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
    for (let k = at; k < this.ents.length; k++) this.dropHeld(this.ents[k]);
    this.ents = this.ents.slice(0, at).concat(entries);
    // committed entries are never replaced, so this only matters to a log without commits (tests)
    this.releasedThrough = Math.min(this.releasedThrough, entries[0].index - 1);
    for (const e of entries) this.heldBytes += e.data.byteLength;
    // The commit index here is the previous Ready's: every entry up to it was handed to the state
    // machine in that Ready's committed entries, so none of them is read back to be applied.
    this.release();
  }
}
