// The Raft log as releases before the segment files kept it: `raft.lmdb` (dbs `entries`: index →
// StoredEntry, `batches`: a sealed append's data keyed by its first index, `meta`: id, hs, snap, members,
// removed; the formats in log-format.ts). Read once, by storage.ts's migration, then deleted. lmdb is
// loaded only here and only then: a daemon whose log is already segment files never loads its addon.
import type { Entry, HardState, SnapshotMetadata } from '../../raft';
import { internal } from '../../lib/errors';
import type { RaftMember } from './codec';
import type { RaftKeys } from './dek';
import { openBatch, openEntryData, type StoredEntry } from './log-format';

export const LEGACY_LMDB_FILE = 'raft.lmdb';

export interface LegacyLog {
  raftId: number;
  hardState: HardState;
  snap?: SnapshotMetadata;
  members: RaftMember[];
  removed: number[];
  /** Every entry on disk, in the clear, in order (a hole ends them). */
  entries: Entry[];
}

// required when asked for, not imported: see the top of the file
type Lmdb = typeof import('lmdb');

function openReadOnly(file: string) {
  const lmdb = require('lmdb') as Lmdb;
  const root = lmdb.open({ path: file, compression: false, maxDbs: 4, readOnly: true });
  return {
    root,
    entries: root.openDB<StoredEntry, number>({ name: 'entries', compression: false }),
    meta: root.openDB<unknown, string>({ name: 'meta', compression: false }),
    batches: root.openDB<Uint8Array, number>({ name: 'batches', compression: false, encoding: 'binary' }),
  };
}

/** The raft ID the legacy log records (0: none, the directory holds no Raft state). */
export function legacyRaftIdSync(file: string): number {
  const db = openReadOnly(file);
  try {
    return (db.meta.get('id') as number | undefined) ?? 0;
  } finally {
    void db.root.close();
  }
}

/** Everything the legacy log holds, entries opened with `keys` (formats 1 and 2) or as they are (format 0). */
export function readLegacyLog(file: string, keys: RaftKeys | null): LegacyLog {
  const db = openReadOnly(file);
  try {
    const entries: Entry[] = [];
    const batch = { first: 0, datas: [] as Uint8Array[] };
    for (const { key, value } of db.entries.getRange({ start: 0 })) {
      if (entries.length > 0 && key !== entries[entries.length - 1]!.index + 1) break;
      let d: Uint8Array;
      if (value.b !== undefined) {
        if (batch.first !== value.b) {
          const stored = db.batches.get(value.b);
          if (!stored) throw internal(`raft: the log batch of entry ${key} is missing`);
          if (!keys) throw internal('raft: the log is encrypted and this storage has no key');
          batch.datas = openBatch(keys, value.b, stored);
          batch.first = value.b;
        }
        const at = batch.datas[key - value.b];
        if (!at) throw internal(`raft: entry ${key} is not in its log batch`);
        d = at;
      } else {
        const stored = value.d instanceof Uint8Array ? value.d : new Uint8Array(0);
        d = keys ? openEntryData(keys, key, stored) : stored;
      }
      entries.push({ index: key, term: value.t, type: value.c === 1 ? 'conf' : 'normal', data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) });
    }
    return {
      raftId: (db.meta.get('id') as number | undefined) ?? 0,
      hardState: (db.meta.get('hs') as HardState | undefined) ?? { term: 0, vote: 0, commit: 0 },
      snap: db.meta.get('snap') as SnapshotMetadata | undefined,
      members: (db.meta.get('members') as RaftMember[] | undefined) ?? [],
      removed: (db.meta.get('removed') as number[] | undefined) ?? [],
      entries,
    };
  } finally {
    void db.root.close();
  }
}
