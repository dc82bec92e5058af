// Durable Raft state of one manager: the log and hard state in lmdb (fsync on every awaited commit),
// snapshots as files in `<dir>/snapshots` (snapshot-files.ts; the latest one kept). lmdb's `snap` key
// names the snapshot the log starts from, so a crash between the file and the lmdb commit leaves the
// previous, consistent pair.
// Encrypted at rest (swarmkit's encrypted WAL and snapshots): the data of the entries written by one
// append is sealed once with the manager's DEK (sys/aead: AES-256-GCM, header naming the key; the
// formats are in log-format.ts), every snapshot's payload likewise, the batch's first index or the
// snapshot's index and term bound in as authenticated data. Only Raft bookkeeping (terms, indexes,
// member addresses) stays in the clear.
import fs from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Entry, HardState, LogBacking, Snapshot, SnapshotMetadata } from '../../raft';
import { internal } from '../../lib/errors';
import type { RaftMember } from './codec';
import { isSealed, sealedKeyId } from '../../sys/aead';
import { RaftDekFile, type RaftKeys } from './dek';
import { openBatch, openEntryData, resealBatch, sealBatch, sealEntryData, type StoredEntry } from './log-format';
import { SnapshotFiles, snapshotFileName } from './snapshot-files';

export { openEntryData, sealEntryData } from './log-format';

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

/** Bytes of committed entries a member keeps in memory for followers (MemoryStorage's retention); older ones are read back from lmdb. */
export const LOG_BYTES_IN_MEMORY = 8 * 1024 * 1024;
/** Bytes of entries read back from lmdb for one message to a follower behind (after the first entry). */
export const LOG_BYTES_READ_BACK = 4 * 1024 * 1024;

/** The DEK file used when the caller names none (tests, benches): beside the log. */
export const DEFAULT_DEK_FILE = 'raft.dek';
const LMDB_FILE = 'raft.lmdb';

export class RaftDiskStorage implements LogBacking {
  private root: RootDatabase;
  private entriesDb: Database<StoredEntry, number>;
  /** Format 2's sealed batches, keyed by the index of their first entry (log-format.ts). */
  private batchesDb: Database<Uint8Array, number>;
  private meta: Database<unknown, string>;
  /** The snapshot files (their own module: format, streamed writes, re-seals). */
  readonly snapshots: SnapshotFiles;
  /** Highest entry index on disk (0 = none). */
  private diskLast = 0;

  private keysGiven: RaftKeys | null | undefined;
  /** The DEK file write that ends a rotation finished at load (close() waits for it). */
  private finishing: Promise<void> = Promise.resolve();

  /**
   * `keys`: the manager's DEK (default: a DEK file beside the log, created on first use). `null` writes
   * plain text and exists only as the benchmark's baseline (bench/raft.ts): a manager always encrypts.
   */
  constructor(
    readonly dir: string,
    keys?: RaftKeys | null,
    private readonly opts: { fsync: boolean } = { fsync: true },
  ) {
    this.keysGiven = keys;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.snapshots = new SnapshotFiles(path.join(dir, 'snapshots'), () => this.keys);
    [this.root, this.entriesDb, this.meta, this.batchesDb] = openLmdb(path.join(dir, LMDB_FILE), opts.fsync);
    for (const k of this.entriesDb.getKeys({ reverse: true, limit: 1 })) this.diskLast = k;
  }

  /** Loaded lazily: `hasState` opens the storage only to look. */
  private get keys(): RaftKeys | null {
    if (this.keysGiven === undefined) this.keysGiven = RaftDekFile.open(path.join(this.dir, DEFAULT_DEK_FILE));
    return this.keysGiven;
  }

  private sealEntry(index: number, data: Uint8Array): Uint8Array {
    const k = this.keys;
    return k ? sealEntryData(k, index, data) : data;
  }

  private openEntry(index: number, d: Uint8Array): Uint8Array {
    // plain data is only ever what a release before encryption wrote; upgrade() rewrites it
    return this.keys ? openEntryData(this.keys, index, d) : d;
  }

  /** One stored entry in the clear, whichever format it was written in; `batch` caches the batch last opened. */
  private toEntry(index: number, v: StoredEntry, batch: { first: number; datas: Uint8Array[] }): Entry {
    let d: Uint8Array;
    if (v.b !== undefined) {
      if (batch.first !== v.b) {
        const stored = this.batchesDb.get(v.b);
        if (!stored) throw internal(`raft: the log batch of entry ${index} is missing`);
        if (!this.keys) throw internal('raft: the log is encrypted and this storage has no key');
        batch.datas = openBatch(this.keys, v.b, stored);
        batch.first = v.b;
      }
      const at = batch.datas[index - v.b];
      if (!at) throw internal(`raft: entry ${index} is not in its log batch`);
      d = at;
    } else {
      d = this.openEntry(index, v.d instanceof Uint8Array ? v.d : new Uint8Array(0));
    }
    return { index, term: v.t, type: v.c === 1 ? 'conf' : 'normal', data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
  }

  isEmpty(): boolean {
    return !this.meta.get('id');
  }

  /** Everything needed to rebuild the node: identity, hard state, latest snapshot, entries after it. */
  load(): DiskState {
    const raftId = (this.meta.get('id') as number | undefined) ?? 0;
    const hs = (this.meta.get('hs') as HardState | undefined) ?? { term: 0, vote: 0, commit: 0 };
    const snapMeta = this.meta.get('snap') as SnapshotMetadata | undefined;
    let snapshot: Snapshot | undefined;
    if (snapMeta && snapMeta.index > 0) {
      snapshot = this.snapshots.read(snapMeta.index, snapMeta.term);
      this.snapshots.prune(snapshotFileName(snapMeta.index, snapMeta.term));
    } else {
      this.snapshots.prune('');
    }
    const from = snapshot ? snapshot.metadata.index + 1 : 1;
    const entries: Entry[] = [];
    const batch = { first: 0, datas: [] as Uint8Array[] };
    for (const { key, value } of this.entriesDb.getRange({ start: from })) {
      if (entries.length > 0 && key !== entries[entries.length - 1]!.index + 1) break; // never expected: a hole ends the log
      entries.push(this.toEntry(key, value, batch));
    }
    // a rotation a crash interrupted: finish it (everything on disk opens with the keys held)
    if (this.keys?.rotating) this.resealSync();
    const last = entries.length > 0 ? entries[entries.length - 1]!.index : from - 1;
    // The commit index may lag (it is written lazily); it is never below the snapshot nor beyond the log.
    const hardState: HardState = { ...hs, commit: Math.min(Math.max(hs.commit, from - 1), last) };
    return {
      raftId,
      hardState,
      snapshot,
      entries,
      members: (this.meta.get('members') as RaftMember[] | undefined) ?? [],
      removed: (this.meta.get('removed') as number[] | undefined) ?? [],
      backing: this,
    };
  }

  /**
   * Entries [lo, hi) as stored, in the clear (LogBacking: the in-memory log keeps only its newest
   * entries), up to the one that brings their data to `maxBytes`. Stops at the first one missing
   * (compacted meanwhile): the caller tells Raft so.
   */
  entries(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    const out: Entry[] = [];
    const batch = { first: 0, datas: [] as Uint8Array[] };
    let bytes = 0;
    for (const { key, value } of this.entriesDb.getRange({ start: lo, end: hi })) {
      if (key !== lo + out.length || bytes >= maxBytes) break;
      const e = this.toEntry(key, value, batch);
      out.push(e);
      bytes += e.data.byteLength;
    }
    return out;
  }

  /** The payload of the snapshot file `metadata` names (LogBacking: it is not kept in memory once written). */
  snapshotData(metadata: SnapshotMetadata): Uint8Array {
    return this.snapshots.read(metadata.index, metadata.term).data;
  }

  /** Records who this node is and the membership it starts with (bootstrap / join). */
  async saveIdentity(raftId: number, members: RaftMember[], removed: number[]): Promise<void> {
    await this.root.transaction(() => {
      void this.meta.put('id', raftId);
      void this.meta.put('members', members);
      void this.meta.put('removed', removed);
    });
  }

  async saveMembership(members: RaftMember[], removed: number[]): Promise<void> {
    await this.root.transaction(() => {
      void this.meta.put('members', members);
      void this.meta.put('removed', removed);
    });
  }

  /**
   * Persists one Ready's durable part in a single lmdb transaction: an installed snapshot (the log is
   * replaced), appended entries (a conflicting tail is truncated) and the hard state. The returned
   * promise resolves once the transaction is synced to disk. `blocking` commits and syncs on this
   * thread (lmdb's transactionSync: no hop to lmdb's writer thread and back, but the thread waits for
   * the disk); `background` hands the transaction to the writer thread as one batch (atomic, and
   * started at once rather than at the end of the event-loop turn as lmdb's automatic batching would).
   * Either is durable when the promise resolves. A blocking transaction may be committed before a
   * background one queued earlier, so a caller never has two hard-state writes in flight.
   */
  async persist(p: { entries: Entry[]; hardState?: HardState; snapshot?: Snapshot; truncateFrom?: number }, mode: 'blocking' | 'background' = 'background'): Promise<void> {
    if (p.snapshot) await this.snapshots.write(p.snapshot.metadata, p.snapshot.data);
    const snap = p.snapshot;
    const ents = p.entries;
    let dropFrom = Infinity;
    if (snap) dropFrom = 1;
    if (p.truncateFrom !== undefined) dropFrom = Math.min(dropFrom, p.truncateFrom);
    if (ents.length > 0) dropFrom = Math.min(dropFrom, ents[ents.length - 1]!.index + 1);
    const oldLast = this.diskLast;
    if (snap) this.diskLast = snap.metadata.index;
    else if (p.truncateFrom !== undefined && p.truncateFrom <= oldLast) this.diskLast = p.truncateFrom - 1;
    if (ents.length > 0) this.diskLast = ents[ents.length - 1]!.index;
    // one seal for the whole append (format 2); the plain baseline stores the data as it is (format 0)
    const first = ents.length > 0 ? ents[0]!.index : Infinity;
    const keys = this.keys;
    const sealed = keys && ents.length > 0 ? sealBatch(keys, first, ents) : undefined;
    // every batch from where this append starts (or the log is cut) on is pointed at only by entries it replaces or drops
    const batchesFrom = snap ? 0 : Math.min(dropFrom, first);
    const write = () => {
      if (dropFrom <= oldLast) {
        for (const k of this.entriesDb.getKeys({ start: snap ? 0 : dropFrom, end: oldLast + 1 })) void this.entriesDb.remove(k);
      }
      if (batchesFrom <= oldLast) for (const k of this.batchesDb.getKeys({ start: batchesFrom })) void this.batchesDb.remove(k);
      if (sealed) void this.batchesDb.put(first, sealed);
      for (const e of ents) void this.entriesDb.put(e.index, sealed ? { t: e.term, c: e.type === 'conf' ? 1 : 0, b: first } : { t: e.term, c: e.type === 'conf' ? 1 : 0, d: e.data });
      if (snap) void this.meta.put('snap', snap.metadata);
      if (p.hardState) void this.meta.put('hs', p.hardState);
    };
    if (mode === 'blocking') this.root.transactionSync(write);
    else await this.root.batch(write);
    if (snap) this.snapshots.prune(snapshotFileName(snap.metadata.index, snap.metadata.term));
  }

  /** A snapshot this node made of its own state: write the file, point the log at it, drop entries ≤ compactTo. */
  async saveSnapshot(snap: Snapshot, compactTo: number): Promise<void> {
    await this.snapshots.write(snap.metadata, snap.data);
    await this.pointAt(snap.metadata, compactTo);
  }

  /**
   * The log starts from the snapshot `metadata` names (its file written by `snapshots.write`): entries ≤
   * compactTo are dropped, and snapshot files other than it (and the old ones kept) go.
   */
  async pointAt(metadata: SnapshotMetadata, compactTo: number): Promise<void> {
    await this.root.transaction(() => {
      void this.meta.put('snap', metadata);
      for (const k of this.entriesDb.getKeys({ start: 0, end: compactTo + 1 })) void this.entriesDb.remove(k);
      // the batch of the first entry kept may start before it; every batch before that one is unreferenced
      const keepFrom = this.entriesDb.get(compactTo + 1)?.b ?? compactTo + 1;
      for (const k of this.batchesDb.getKeys({ start: 0, end: keepFrom })) void this.batchesDb.remove(k);
    });
    this.snapshots.prune(snapshotFileName(metadata.index, metadata.term));
  }

  /**
   * Finishes a DEK rotation (`keys.rotate()` happened before): every snapshot file is written again and
   * every entry sealed again under the current key, then the old keys are dropped. Writes queued before
   * the rotation (sealed with an old key) land first: snapshot writes are awaited and lmdb batches are
   * committed in order.
   */
  async reseal(): Promise<void> {
    const keys = this.keys;
    if (!keys?.rotating) return;
    const cur = keys.current().id;
    const stale = (d: Uint8Array) => !isSealed(d) || sealedKeyId(d) !== cur;
    // snapshot files: in the chain of snapshot writes, so none is written meanwhile
    await this.snapshots.rewrite();
    // entries: in slices, each read and re-sealed inside its own write transaction (queued behind the
    // writes before it; whatever the log holds at that moment is what gets re-sealed), so the Ready
    // loop never waits long and no heartbeat is missed
    await this.inSlices(this.batchesDb, (key, value) => {
      if (stale(value)) void this.batchesDb.put(key, resealBatch(keys, key, value));
    });
    await this.inSlices(this.entriesDb, (key, value) => {
      if (value.d !== undefined && stale(value.d)) void this.entriesDb.put(key, { ...value, d: this.sealEntry(key, this.openEntry(key, value.d)) });
    });
    await keys.finishRotation();
  }

  /** Visits every record of `db` in slices, each inside its own write transaction queued behind the writes before it. */
  private async inSlices<V>(db: Database<V, number>, visit: (key: number, value: V) => void): Promise<void> {
    const SLICE = 256;
    for (let start = 0; ; ) {
      let seen = 0;
      let last = start;
      await this.root.transaction(() => {
        for (const { key, value } of db.getRange({ start, limit: SLICE })) {
          seen++;
          last = key;
          visit(key, value);
        }
      });
      if (seen < SLICE) break;
      start = last + 1;
    }
  }

  private resealSync(): void {
    const keys = this.keys;
    if (!keys) return;
    this.snapshots.rewriteSync();
    this.root.transactionSync(() => {
      for (const { key, value } of this.batchesDb.getRange({ start: 0 })) void this.batchesDb.put(key, resealBatch(keys, key, value));
      for (const { key, value } of this.entriesDb.getRange({ start: 0 })) {
        if (value.d !== undefined) void this.entriesDb.put(key, { ...value, d: this.sealEntry(key, this.openEntry(key, value.d)) });
      }
    });
    // at load (sync): written in the background; a crash before it only repeats this re-seal
    this.finishing = keys.finishRotation().catch(() => undefined);
  }

  /** True when something on disk is in plain text (a release before encryption at rest wrote it). */
  needsUpgrade(): boolean {
    if (!this.keys) return false;
    if (this.snapshots.anyPlain()) return true;
    for (const { value } of this.entriesDb.getRange({ start: 0 })) if (value.d !== undefined && !isSealed(value.d)) return true;
    return false;
  }

  /**
   * Upgrade of a data dir written in plain text: snapshots are written again sealed, and the log is
   * copied sealed into a new lmdb file that replaces the old one (not rewritten in place: lmdb's freed
   * pages would keep the plain text in the file). A crash before the rename leaves the plain log,
   * which the next start upgrades again. Returns true when something was rewritten.
   */
  async upgrade(): Promise<boolean> {
    if (!this.needsUpgrade()) return false;
    this.snapshots.rewriteSync();
    const file = path.join(this.dir, LMDB_FILE);
    const next = `${file}.upgrade`;
    for (const f of [next, `${next}-lock`]) fs.rmSync(f, { force: true });
    const [root, entries, meta, batches] = openLmdb(next);
    root.transactionSync(() => {
      for (const { key, value } of this.meta.getRange({})) void meta.put(key, value);
      for (const { key, value } of this.batchesDb.getRange({ start: 0 })) void batches.put(key, value);
      // plain entries sealed one by one (format 1): a one-time rewrite, read as fast as batches at load
      for (const { key, value } of this.entriesDb.getRange({ start: 0 })) void entries.put(key, value.d !== undefined ? { ...value, d: this.sealEntry(key, this.openEntry(key, value.d)) } : value);
    });
    await root.close();
    await this.root.close();
    fs.renameSync(next, file);
    fs.rmSync(`${next}-lock`, { force: true });
    [this.root, this.entriesDb, this.meta, this.batchesDb] = openLmdb(file, this.opts.fsync);
    return true;
  }

  /** The format an entry is stored in (log-format.ts; undefined: no such entry), and the batches on disk: tests and diagnostics. */
  storedFormat(index: number): 0 | 1 | 2 | undefined {
    const v = this.entriesDb.get(index);
    if (!v) return undefined;
    return v.b !== undefined ? 2 : v.d && isSealed(v.d) ? 1 : 0;
  }

  batchKeys(): number[] {
    return [...this.batchesDb.getKeys({ start: 0 })];
  }

  /** Entry indexes on disk (tests and diagnostics). */
  entryRange(): { first: number; last: number } {
    let first = 0;
    for (const k of this.entriesDb.getKeys({ limit: 1 })) first = k;
    return { first, last: this.diskLast };
  }


  async close(): Promise<void> {
    await this.finishing;
    await this.root.close();
  }
}

function openLmdb(file: string, fsync = true): [RootDatabase, Database<StoredEntry, number>, Database<unknown, string>, Database<Uint8Array, number>] {
  // overlappingSync off: a write's promise resolves only after LMDB's commit fsynced (not merely committed).
  // noSync only for the bench's no-fsync figures (RaftConsensusOptions.fsync).
  const root = open({ path: file, compression: false, maxDbs: 4, overlappingSync: false, ...(fsync ? {} : { noSync: true }) });
  return [
    root,
    root.openDB<StoredEntry, number>({ name: 'entries', compression: false }),
    root.openDB<unknown, string>({ name: 'meta', compression: false }),
    root.openDB<Uint8Array, number>({ name: 'batches', compression: false, encoding: 'binary' }),
  ];
}
