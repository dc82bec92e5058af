// How the data of the entries one append writes is stored: one batch (below), sealed once under the DEK
// (or plain: the bench's baseline), inside the log's ENTRIES record (storage.ts). Sealing costs one cipher
// set-up (createCipheriv, most of the 7–13 µs a seal took) per append instead of per entry. The term and
// the entry type stay in the clear beside the data, in the record: only Raft bookkeeping.
//
// Releases before 2026-12-05 kept the log in lmdb (`entries`, keyed by index), in three formats, read
// only to migrate it (legacy-lmdb.ts):
//   0  plain        { t, c, d: data }                 releases before encryption at rest
//   1  entry-sealed { t, c, d: seal(data) }           one AEAD seal per entry, bound to the entry's index
//   2  batch-sealed { t, c, b: first }                the data lives in `batches` under key `first`: the batch below
//
// A batch's plaintext: version (1 byte, BATCH_LAYOUT) | count (u32) | count × length (u32) | the data, in
// order. It is sealed with `raft-batch:<first>` as authenticated context, so a batch moved to another key
// fails to open, and the count inside it lets a reader refuse an entry that points past its batch.
// A later append that overwrites part of a batch (a conflicting tail) leaves it on disk: the log counts
// only the entries before the overwrite (storage.ts).
import type { Entry } from '../../raft';
import { internal } from '../../lib/errors';
import { isSealed, open, seal } from '../../sys/aead';
import type { RaftKeys } from './dek';

export interface StoredEntry {
  t: number;
  c: 0 | 1;
  /** Formats 0 and 1: the data, plain or sealed. */
  d?: Uint8Array;
  /** Format 2: the key of the batch in `batches` that holds the data. */
  b?: number;
}

/** Layout version of a batch's plaintext (the byte it starts with). */
export const BATCH_LAYOUT = 1;

const entryContext = (index: number) => Buffer.from(`raft-entry:${index}`, 'latin1');
const batchContext = (first: number) => Buffer.from(`raft-batch:${first}`, 'latin1');

/** Format 1 writer (lmdb, releases before): one entry's data sealed under the current DEK, bound to its index. Tests. */
export function sealEntryData(keys: RaftKeys, index: number, data: Uint8Array): Uint8Array {
  return seal(keys.current(), data, entryContext(index));
}

/** lmdb formats 0 and 1: one stored entry's data in the clear (plain data, written by a release before encryption, as is). */
export function openEntryData(keys: RaftKeys, index: number, stored: Uint8Array): Uint8Array {
  return isSealed(stored) ? open(keys.lookup, stored, entryContext(index)) : stored;
}

/** The plaintext of a batch (see the layout above). */
export function encodeBatch(datas: readonly Uint8Array[]): Buffer {
  let size = 5 + 4 * datas.length;
  for (const d of datas) size += d.byteLength;
  const out = Buffer.allocUnsafe(size);
  out[0] = BATCH_LAYOUT;
  out.writeUInt32BE(datas.length, 1);
  let at = 5 + 4 * datas.length;
  datas.forEach((d, i) => {
    out.writeUInt32BE(d.byteLength, 5 + 4 * i);
    out.set(d, at);
    at += d.byteLength;
  });
  return out;
}

/** The entries' data of a batch plaintext, in order (views into `buf`). */
export function decodeBatch(buf: Buffer): Uint8Array[] {
  if (buf.length < 5 || buf[0] !== BATCH_LAYOUT) throw internal(`raft: unknown log batch layout ${buf[0]}`);
  const count = buf.readUInt32BE(1);
  const out: Uint8Array[] = [];
  let at = 5 + 4 * count;
  if (at > buf.length) throw internal('raft: log batch is damaged');
  for (let i = 0; i < count; i++) {
    const len = buf.readUInt32BE(5 + 4 * i);
    if (at + len > buf.length) throw internal('raft: log batch is damaged');
    out.push(new Uint8Array(buf.buffer, buf.byteOffset + at, len));
    at += len;
  }
  return out;
}

/** The data of `entries` (consecutive, the first at index `first`) in one seal. */
export function sealBatch(keys: RaftKeys, first: number, entries: readonly Entry[]): Buffer {
  return seal(keys.current(), encodeBatch(entries.map((e) => e.data)), batchContext(first));
}

/** The entries' data of the batch stored at `first`. */
export function openBatch(keys: RaftKeys, first: number, stored: Uint8Array): Uint8Array[] {
  return decodeBatch(open(keys.lookup, stored, batchContext(first)));
}
