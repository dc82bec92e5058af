// Durable Raft state of one manager: the log, hard state and member table as records appended to
// segment files (wal.ts: one write and one fdatasync per append), snapshots as files in
// `<dir>/snapshots` (snapshot-files.ts; the latest one kept). A snapshot record names the snapshot the
// log starts from, so a crash between the file and that record leaves the previous, consistent pair.
// Encrypted at rest (swarmkit's encrypted WAL and snapshots): the data of the entries written by one
// append is sealed once with the manager's DEK (sys/aead: AES-256-GCM, header naming the key; the
// batch format is in log-format.ts), every snapshot's payload likewise, the batch's first index or the
// snapshot's index and term bound in as authenticated data. Only Raft bookkeeping (terms, indexes,
// member addresses) stays in the clear.
// The records and their layout: log-records.ts.
// Data dirs of releases before kept the log in lmdb (`raft.lmdb`, legacy-lmdb.ts): it is copied into
// segment files at the first load and deleted.
import fs from 'node:fs';
import path from 'node:path';
import type { Entry, HardState, LogBacking, Snapshot, SnapshotMetadata } from '../../raft';
import { internal } from '../../lib/errors';
import type { RaftMember } from './codec';
import { RaftDekFile, type RaftKeys } from './dek';
import { REC, entriesBody, entriesHeadOf, entriesOf, hardStateBody, headOf, jsonBody, numberOf, parseJson, readHardState, truncateBody } from './log-records';
import { LEGACY_LMDB_FILE, legacyRaftIdSync, readLegacyLog } from './legacy-lmdb';
import { SnapshotFiles, snapshotFileName } from './snapshot-files';
import { SegmentedLog, type Body, type RecordAt, type WriteMode } from './wal';

export interface DiskState {
  /** 0 when the directory holds no Raft state yet. */
  raftId: number;
  hardState: HardState;
  snapshot?: Snapshot;
  /** Entries after the snapshot index, in order. */
  entries: Entry[];
  members: RaftMember[];
  removed: number[];
  /** Where the in-memory log reads back the entries and snapshot payload it does not keep (this storage). */
  backing?: LogBacking;
}

/** Bytes of committed entries a member keeps in memory for followers (MemoryStorage's retention); older ones are read back from the log files. */
export const LOG_BYTES_IN_MEMORY = 8 * 1024 * 1024;
/** Bytes of entries read back from the log files for one message to a follower behind (after the first entry). */
export const LOG_BYTES_READ_BACK = 4 * 1024 * 1024;

/** The DEK file used when the caller names none (tests, benches): beside the log. */
export const DEFAULT_DEK_FILE = 'raft.dek';
/** The segment files' directory under the Raft dir. */
export const WAL_DIR = 'wal';

/** Entries per record when a whole log is written again (migration, re-seal). */
const REWRITE_BATCH = 1024;

interface Meta {
  id: number;
  hs: HardState;
  snap?: SnapshotMetadata;
  members: RaftMember[];
  removed: number[];
}

/** The entries of one ENTRIES record still in the log: [first, first + count), where the record is. */
interface Batch {
  first: number;
  count: number;
  at: RecordAt;
  sealed: boolean;
}

export class RaftDiskStorage implements LogBacking {
  private wal: SegmentedLog | undefined;
  private readonly walDir: string;
  private readonly legacyFile: string;
  /** The snapshot files (their own module: format, streamed writes, re-seals). */
  readonly snapshots: SnapshotFiles;

  // What the records appended so far say (replayed at open, then kept as each append is made).
  private meta: Meta = { id: 0, hs: { term: 0, vote: 0, commit: 0 }, members: [], removed: [] };
  private batches: Batch[] = [];
  /** No entry below it is kept (compaction, an installed snapshot). */
  private logFirst = 1;
  /** Highest entry index written (0 = none). */
  private diskLast = 0;

  private keysGiven: RaftKeys | null | undefined;
  /** The DEK file write that ends a rotation finished at load (close() waits for it). */
  private finishing: Promise<void> = Promise.resolve();

  /**
   * `keys`: the manager's DEK (default: a DEK file beside the log, created on first use). `null` writes
   * plain text and exists only as the benchmark's baseline (bench/raft.ts): a manager always encrypts.
   * Opening migrates nothing (`hasState` opens the storage to look): an lmdb log is migrated at
   * `load()` or the first write, with the keys given.
   */
  constructor(
    readonly dir: string,
    keys?: RaftKeys | null,
    private readonly opts: { fsync: boolean; segmentBytes?: number } = { fsync: true },
  ) {
    this.keysGiven = keys;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.snapshots = new SnapshotFiles(path.join(dir, 'snapshots'), () => this.keys);
    this.walDir = path.join(dir, WAL_DIR);
    this.legacyFile = path.join(dir, LEGACY_LMDB_FILE);
    fs.rmSync(`${this.walDir}.tmp`, { recursive: true, force: true }); // a migration a crash interrupted
    if (fs.existsSync(this.walDir) || !fs.existsSync(this.legacyFile)) {
      this.removeLegacy(); // migrated, then a crash before the old file went
      this.openWal();
    }
  }

  /** Loaded lazily: `hasState` opens the storage only to look. */
  private get keys(): RaftKeys | null {
    if (this.keysGiven === undefined) this.keysGiven = RaftDekFile.open(path.join(this.dir, DEFAULT_DEK_FILE));
    return this.keysGiven;
  }

  private openWal(): void {
    const wal = new SegmentedLog(this.walDir, this.opts);
    wal.open((body, at) => this.apply(body, at));
    this.wal = wal;
  }

  /** The segment files, migrating an lmdb log first. */
  private log(): SegmentedLog {
    if (!this.wal) this.migrate();
    return this.wal!;
  }

  private removeLegacy(): void {
    for (const f of [this.legacyFile, `${this.legacyFile}-lock`]) fs.rmSync(f, { force: true });
  }

  /**
   * Copies an lmdb log (a release before this one) into segment files, sealed under the keys held (a
   * plain one is sealed on the way), then deletes it: the new log is created whole beside and renamed
   * into place, so a crash leaves the old log or the new one.
   */
  private migrate(): void {
    const old = readLegacyLog(this.legacyFile, this.keys);
    this.meta = { id: old.raftId, hs: old.hardState, snap: old.snap, members: old.members, removed: old.removed };
    const first = old.entries[0]?.index ?? (old.snap?.index ?? 0) + 1;
    const bodies: Body[] = [this.stateBody(first)];
    for (let i = 0; i < old.entries.length; i += REWRITE_BATCH) bodies.push(entriesBody(this.keys, old.entries.slice(i, i + REWRITE_BATCH)));
    SegmentedLog.create(this.walDir, bodies, this.opts);
    this.removeLegacy();
    this.meta = { id: 0, hs: { term: 0, vote: 0, commit: 0 }, members: [], removed: [] };
    this.openWal();
  }

  private stateBody(first = this.batches.length > 0 ? this.logFirst : this.diskLast + 1): Buffer {
    const m = this.meta;
    return jsonBody(REC.STATE, { id: m.id, hs: m.hs, snap: m.snap, members: m.members, removed: m.removed, first });
  }

  /** What one record says, applied to the state above (replay, and each append as it is made). */
  private apply(body: Buffer, at: RecordAt): void {
    switch (body[0]) {
      case REC.STATE: {
        const s = parseJson<Meta & { first: number }>(body);
        this.meta = { id: s.id, hs: s.hs, snap: s.snap, members: s.members, removed: s.removed };
        this.dropBelow(s.first);
        if (this.batches.length === 0) this.diskLast = Math.max(this.diskLast, s.first - 1);
        break;
      }
      case REC.ENTRIES: {
        const { first, count, sealed } = entriesHeadOf(body);
        this.cutFrom(first);
        if (this.batches.length === 0) this.logFirst = first;
        else if (first !== this.diskLast + 1) throw internal(`raft: the log has a hole before entry ${first}`);
        this.batches.push({ first, count, at, sealed });
        this.diskLast = first + count - 1;
        break;
      }
      case REC.HARDSTATE:
        this.meta.hs = readHardState(body);
        break;
      case REC.SNAPSHOT: {
        const s = parseJson<{ m: SnapshotMetadata; keep: number; replace: boolean }>(body);
        this.meta.snap = s.m;
        if (s.replace) {
          this.batches = [];
          this.logFirst = s.m.index + 1;
          this.diskLast = s.m.index;
        } else {
          this.dropBelow(s.keep);
        }
        break;
      }
      case REC.TRUNCATE:
        this.cutFrom(numberOf(body));
        break;
      default:
        throw internal(`raft: unknown log record type ${body[0]}`);
    }
  }

  /** Drops the entries from `from` on. */
  private cutFrom(from: number): void {
    while (this.batches.length > 0 && this.batches[this.batches.length - 1]!.first >= from) this.batches.pop();
    const last = this.batches[this.batches.length - 1];
    if (last && last.first + last.count > from) last.count = from - last.first;
    if (this.diskLast >= from) this.diskLast = from - 1;
  }

  /** Drops the entries below `keep`. */
  private dropBelow(keep: number): void {
    let n = 0;
    while (n < this.batches.length && this.batches[n]!.first + this.batches[n]!.count <= keep) n++;
    if (n > 0) this.batches.splice(0, n);
    this.logFirst = Math.max(this.logFirst, keep);
  }

  /** Appends records and applies them here; settles when they are durable. */
  private append(bodies: Body[], mode: WriteMode): Promise<void> {
    const { at, done } = this.log().append(bodies, mode, () => [this.stateBody()]);
    bodies.forEach((b, i) => this.apply(headOf(b), at[i]!));
    return done;
  }

  /** The entries of one ENTRIES record, in the clear. */
  private readBatch(b: Batch): Entry[] {
    return entriesOf(this.log().read(b.at), this.keys);
  }

  isEmpty(): boolean {
    if (!this.wal) return legacyRaftIdSync(this.legacyFile) === 0;
    return !this.meta.id;
  }

  /** Everything needed to rebuild the node: identity, hard state, latest snapshot, entries after it. */
  load(): DiskState {
    this.log();
    const snapMeta = this.meta.snap;
    let snapshot: Snapshot | undefined;
    if (snapMeta && snapMeta.index > 0) {
      snapshot = this.snapshots.read(snapMeta.index, snapMeta.term);
      this.snapshots.prune(snapshotFileName(snapMeta.index, snapMeta.term));
    } else {
      this.snapshots.prune('');
    }
    // a rotation a crash interrupted: finish it (everything on disk opens with the keys held)
    if (this.keys?.rotating) this.resealSync();
    const from = snapshot ? snapshot.metadata.index + 1 : 1;
    const entries = this.entries(from, this.diskLast + 1);
    const last = entries.length > 0 ? entries[entries.length - 1]!.index : from - 1;
    // The commit index may lag (it is written lazily); it is never below the snapshot nor beyond the log.
    const hs = this.meta.hs;
    const hardState: HardState = { ...hs, commit: Math.min(Math.max(hs.commit, from - 1), last) };
    return { raftId: this.meta.id, hardState, snapshot, entries, members: [...this.meta.members], removed: [...this.meta.removed], backing: this };
  }

  /**
   * Entries [lo, hi) as stored, in the clear (LogBacking: the in-memory log keeps only its newest
   * entries), up to the one that brings their data to `maxBytes`. None below the first one kept
   * (compacted meanwhile): the caller tells Raft so.
   */
  entries(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    const out: Entry[] = [];
    if (lo < this.logFirst) return out;
    hi = Math.min(hi, this.diskLast + 1);
    // the batch holding lo
    let a = 0;
    let z = this.batches.length - 1;
    while (a < z) {
      const mid = (a + z + 1) >> 1;
      if (this.batches[mid]!.first <= lo) a = mid;
      else z = mid - 1;
    }
    let bytes = 0;
    for (let i = a; i < this.batches.length && lo + out.length < hi; i++) {
      const b = this.batches[i]!;
      const ents = this.readBatch(b);
      for (let k = Math.max(lo + out.length - b.first, 0); k < b.count && lo + out.length < hi; k++) {
        const e = ents[k]!;
        if (e.index !== lo + out.length || bytes >= maxBytes) return out;
        out.push(e);
        bytes += e.data.byteLength;
      }
    }
    return out;
  }

  /** The payload of the snapshot file `metadata` names (LogBacking: it is not kept in memory once written). */
  snapshotData(metadata: SnapshotMetadata): Uint8Array {
    return this.snapshots.read(metadata.index, metadata.term).data;
  }

  /** Records who this node is and the membership it starts with (bootstrap / join). */
  async saveIdentity(raftId: number, members: RaftMember[], removed: number[]): Promise<void> {
    this.log();
    this.meta = { ...this.meta, id: raftId, members, removed };
    await this.append([this.stateBody()], 'background');
  }

  async saveMembership(members: RaftMember[], removed: number[]): Promise<void> {
    this.log();
    this.meta = { ...this.meta, members, removed };
    await this.append([this.stateBody()], 'background');
  }

  /**
   * Persists one Ready's durable part in one append: an installed snapshot (the log is replaced),
   * appended entries (a conflicting tail is truncated) and the hard state. The returned promise
   * resolves once it is synced to disk, and every append before it. Both modes write on this thread;
   * `blocking` syncs on it too (no hop to libuv's threads and back, but the thread waits for the disk),
   * `background` syncs on libuv's threads. A blocking append syncs whatever background append is still
   * being synced too, so it never overtakes one.
   */
  async persist(p: { entries: Entry[]; hardState?: HardState; snapshot?: Snapshot; truncateFrom?: number }, mode: WriteMode = 'background'): Promise<void> {
    this.log();
    const snap = p.snapshot;
    if (snap) await this.snapshots.write(snap.metadata, snap.data);
    const ents = p.entries;
    const bodies: Body[] = [];
    if (snap) bodies.push(jsonBody(REC.SNAPSHOT, { m: snap.metadata, keep: snap.metadata.index + 1, replace: true }));
    if (p.truncateFrom !== undefined && (ents.length === 0 || ents[0]!.index > p.truncateFrom)) bodies.push(truncateBody(p.truncateFrom));
    if (ents.length > 0) bodies.push(entriesBody(this.keys, ents));
    if (p.hardState) bodies.push(hardStateBody(p.hardState));
    if (bodies.length === 0) return;
    await this.append(bodies, mode);
    if (snap) {
      this.deleteDeadSegments();
      this.snapshots.prune(snapshotFileName(snap.metadata.index, snap.metadata.term));
    }
  }

  /** A snapshot this node made of its own state: write the file, point the log at it, drop entries ≤ compactTo. */
  async saveSnapshot(snap: Snapshot, compactTo: number): Promise<void> {
    await this.snapshots.write(snap.metadata, snap.data);
    await this.pointAt(snap.metadata, compactTo);
  }

  /**
   * The log starts from the snapshot `metadata` names (its file written by `snapshots.write`): entries ≤
   * compactTo are dropped (the segment files holding only those are deleted), and snapshot files other
   * than it (and the old ones kept) go.
   */
  async pointAt(metadata: SnapshotMetadata, compactTo: number): Promise<void> {
    this.log();
    await this.append([jsonBody(REC.SNAPSHOT, { m: metadata, keep: compactTo + 1, replace: false })], 'background');
    this.deleteDeadSegments();
    this.snapshots.prune(snapshotFileName(metadata.index, metadata.term));
  }

  /** Segment files before the one holding the first entry kept (every segment starts with the whole state). */
  private deleteDeadSegments(): void {
    this.log().deleteBefore(this.batches[0]?.at.seg ?? Infinity);
  }

  /** The whole log as records: the state, then every entry kept, sealed under the current key. */
  private checkpoint(): Body[] {
    const bodies: Body[] = [this.stateBody()];
    let run: Entry[] = [];
    for (const b of this.batches) {
      for (const e of this.readBatch(b).slice(0, b.count)) {
        if (e.index < this.logFirst) continue;
        run.push(e);
        if (run.length === REWRITE_BATCH) {
          bodies.push(entriesBody(this.keys, run));
          run = [];
        }
      }
    }
    if (run.length > 0) bodies.push(entriesBody(this.keys, run));
    return bodies;
  }

  /** After the log was written again: the state as its records say. */
  private reindex(bodies: Body[], at: RecordAt[]): void {
    this.batches = [];
    bodies.forEach((b, i) => this.apply(headOf(b), at[i]!));
  }

  /**
   * Finishes a DEK rotation (`keys.rotate()` happened before): every snapshot file is written again and
   * the log written again under the current key (a new segment, then the old ones deleted), then the
   * old keys are dropped. Appends made before (sealed with an old key) are durable first.
   */
  async reseal(): Promise<void> {
    const keys = this.keys;
    if (!keys?.rotating) return;
    const log = this.log();
    // snapshot files: in the chain of snapshot writes, so none is written meanwhile
    await this.snapshots.rewrite();
    let bodies: Body[] = [];
    await log.rewrite(
      () => (bodies = this.checkpoint()),
      (at) => this.reindex(bodies, at),
    );
    await keys.finishRotation();
  }

  private resealSync(): void {
    const keys = this.keys;
    if (!keys) return;
    this.snapshots.rewriteSync();
    this.rewriteSync();
    // at load (sync): written in the background; a crash before it only repeats this re-seal
    this.finishing = keys.finishRotation().catch(() => undefined);
  }

  private rewriteSync(): void {
    let bodies: Body[] = [];
    this.log().rewriteNow(
      () => (bodies = this.checkpoint()),
      (at) => this.reindex(bodies, at),
    );
  }

  /** True when something on disk is in plain text (a release before encryption at rest wrote it). */
  needsUpgrade(): boolean {
    this.log();
    if (!this.keys) return false;
    return this.snapshots.anyPlain() || this.batches.some((b) => !b.sealed);
  }

  /**
   * Upgrade of a data dir written in plain text: snapshots are written again sealed, and the log is
   * written again sealed into a new segment that replaces the old ones (deleted: nothing plain is left
   * in them). A crash before leaves the plain log, which the next start upgrades again. Returns true
   * when something was rewritten.
   */
  async upgrade(): Promise<boolean> {
    if (!this.needsUpgrade()) return false;
    this.snapshots.rewriteSync();
    if (this.batches.some((b) => !b.sealed)) this.rewriteSync();
    return true;
  }

  /** How the entry at `index` is stored: 0 plain, 2 sealed with its append (log-format.ts); undefined: no such entry. Tests and diagnostics. */
  storedFormat(index: number): 0 | 2 | undefined {
    if (index < this.logFirst || index > this.diskLast) return undefined;
    const b = this.batches.find((x) => index >= x.first && index < x.first + x.count);
    return b ? (b.sealed ? 2 : 0) : undefined;
  }

  /** The first index of every append that still holds an entry of the log (tests and diagnostics). */
  batchKeys(): number[] {
    return this.batches.map((b) => b.first);
  }

  /** Entry indexes on disk (tests and diagnostics). */
  entryRange(): { first: number; last: number } {
    return { first: this.batches.length > 0 ? Math.max(this.logFirst, this.batches[0]!.first) : 0, last: this.diskLast };
  }

  /** The segment files' sequence numbers (tests and diagnostics). */
  segments(): number[] {
    return this.wal?.segments() ?? [];
  }

  async close(): Promise<void> {
    await this.finishing;
    await this.wal?.close();
  }
}
