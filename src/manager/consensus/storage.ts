// Durable Raft state of one manager: the log and hard state in lmdb (fsync on every awaited commit),
// snapshots as files `<dir>/snapshots/<index>-<term>.snap` (written to a temp file, fsynced, renamed,
// directory fsynced; the latest one kept). lmdb's `snap` key names the snapshot the log starts from,
// so a crash between the file and the lmdb commit leaves the previous, consistent pair.
import fs from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from '../../raft';
import { internal } from '../../lib/errors';
import type { RaftMember } from './codec';
import { writeFileDurable } from '../../sys/durable-file';

export interface DiskState {
  /** 0 when the directory holds no Raft state yet. */
  raftId: number;
  hardState: HardState;
  snapshot?: Snapshot;
  /** Entries after the snapshot index, in order. */
  entries: Entry[];
  members: RaftMember[];
  removed: number[];
}

interface StoredEntry {
  t: number;
  c: 0 | 1;
  d: Uint8Array;
}

const MAGIC = 'SHOALSNAP1\n';
const pad = (n: number) => String(n).padStart(16, '0');
export const snapshotFileName = (index: number, term: number) => `${pad(index)}-${pad(term)}.snap`;

export class RaftDiskStorage {
  private root: RootDatabase;
  private entriesDb: Database<StoredEntry, number>;
  private meta: Database<unknown, string>;
  private readonly snapDir: string;
  /** Highest entry index on disk (0 = none). */
  private diskLast = 0;
  /** Snapshot files kept besides the current one (Docker's KeepOldSnapshots, `swarm update --max-snapshots`). */
  keepOldSnapshots = 0;

  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    this.snapDir = path.join(dir, 'snapshots');
    fs.mkdirSync(this.snapDir, { recursive: true });
    // overlappingSync off: a write's promise resolves only after LMDB's commit fsynced (not merely committed).
    this.root = open({ path: path.join(dir, 'raft.lmdb'), compression: false, maxDbs: 4, overlappingSync: false });
    this.entriesDb = this.root.openDB<StoredEntry, number>({ name: 'entries', compression: false });
    this.meta = this.root.openDB<unknown, string>({ name: 'meta', compression: false });
    for (const k of this.entriesDb.getKeys({ reverse: true, limit: 1 })) this.diskLast = k;
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
      snapshot = this.readSnapshotFile(snapMeta.index, snapMeta.term);
      this.pruneSnapshotFiles(snapshotFileName(snapMeta.index, snapMeta.term));
    } else {
      this.pruneSnapshotFiles('');
    }
    const from = snapshot ? snapshot.metadata.index + 1 : 1;
    const entries: Entry[] = [];
    for (const { key, value } of this.entriesDb.getRange({ start: from })) {
      if (entries.length > 0 && key !== entries[entries.length - 1]!.index + 1) break; // never expected: a hole ends the log
      entries.push(toEntry(key, value));
    }
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
    };
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
    if (p.snapshot) await this.writeSnapshotFile(p.snapshot);
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
    const write = () => {
      if (dropFrom <= oldLast) {
        for (const k of this.entriesDb.getKeys({ start: snap ? 0 : dropFrom, end: oldLast + 1 })) void this.entriesDb.remove(k);
      }
      for (const e of ents) void this.entriesDb.put(e.index, { t: e.term, c: e.type === 'conf' ? 1 : 0, d: e.data });
      if (snap) void this.meta.put('snap', snap.metadata);
      if (p.hardState) void this.meta.put('hs', p.hardState);
    };
    if (mode === 'blocking') this.root.transactionSync(write);
    else await this.root.batch(write);
    if (snap) this.pruneSnapshotFiles(snapshotFileName(snap.metadata.index, snap.metadata.term));
  }

  /** A snapshot this node made of its own state: write the file, point the log at it, drop entries ≤ compactTo. */
  async saveSnapshot(snap: Snapshot, compactTo: number): Promise<void> {
    await this.writeSnapshotFile(snap);
    await this.root.transaction(() => {
      void this.meta.put('snap', snap.metadata);
      for (const k of this.entriesDb.getKeys({ start: 0, end: compactTo + 1 })) void this.entriesDb.remove(k);
    });
    this.pruneSnapshotFiles(snapshotFileName(snap.metadata.index, snap.metadata.term));
  }

  /** Entry indexes on disk (tests and diagnostics). */
  entryRange(): { first: number; last: number } {
    let first = 0;
    for (const k of this.entriesDb.getKeys({ limit: 1 })) first = k;
    return { first, last: this.diskLast };
  }

  snapshotFiles(): string[] {
    return fs.readdirSync(this.snapDir).filter((f) => f.endsWith('.snap')).sort();
  }

  async close(): Promise<void> {
    await this.root.close();
  }

  // ---- snapshot files ------------------------------------------------------------------------

  private async writeSnapshotFile(snap: Snapshot): Promise<void> {
    const { index, term, confState } = snap.metadata;
    const header = Buffer.from(MAGIC + JSON.stringify({ index, term, confState, size: snap.data.length }) + '\n', 'utf8');
    const final = path.join(this.snapDir, snapshotFileName(index, term));
    await writeFileDurable(final, [header, Buffer.from(snap.data.buffer, snap.data.byteOffset, snap.data.byteLength)], { mode: 0o600 });
  }

  private readSnapshotFile(index: number, term: number): Snapshot {
    const file = path.join(this.snapDir, snapshotFileName(index, term));
    const buf = fs.readFileSync(file);
    const magicLen = Buffer.byteLength(MAGIC);
    if (buf.subarray(0, magicLen).toString('utf8') !== MAGIC) throw internal(`raft: ${file} is not a snapshot`);
    const nl = buf.indexOf(0x0a, magicLen);
    const h = JSON.parse(buf.subarray(magicLen, nl).toString('utf8')) as { index: number; term: number; confState: ConfState; size: number };
    const data = buf.subarray(nl + 1);
    if (h.index !== index || h.term !== term || data.length !== h.size) throw internal(`raft: snapshot ${file} is damaged`);
    return { metadata: { index, term, confState: h.confState }, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  }

  /**
   * Keeps `current` (the one lmdb points at; '' for none) and the newest `keepOldSnapshots` files
   * before it. Anything else goes: older ones, a newer one lmdb never pointed at (a crash between the
   * file and the pointer), temp files. Names sort by index (zero padded).
   */
  private pruneSnapshotFiles(current: string): void {
    const files = fs.readdirSync(this.snapDir);
    const older = files.filter((f) => f.endsWith('.snap') && current !== '' && f < current).sort();
    const keep = new Set([current, ...older.slice(Math.max(0, older.length - this.keepOldSnapshots))]);
    for (const f of files) if (!keep.has(f)) fs.rmSync(path.join(this.snapDir, f), { force: true });
  }
}

function toEntry(index: number, v: StoredEntry): Entry {
  const d = v.d instanceof Uint8Array ? v.d : new Uint8Array(0);
  return { index, term: v.t, type: v.c === 1 ? 'conf' : 'normal', data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
}
