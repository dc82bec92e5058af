// How one Raft log entry is stored in lmdb (`entries`, keyed by index), by format:
//
//   0  plain        { t, c, d: data }                 releases before encryption at rest; the bench's plain baseline
//   1  entry-sealed { t, c, d: seal(data) }           one AEAD seal per entry, bound to the entry's index
//   2  batch-sealed { t, c, b: first }                the data lives in `batches` under key `first`: one AEAD seal
//                                                     over every entry written by one append (entries first…)
//
// Format 2 is what a manager writes: sealing costs one cipher set-up (createCipheriv, most of the 7–13 µs a
// seal took) per append instead of per entry. Formats 0 and 1 are still read, so a log written by an older
// release opens as it is; format 0 in a manager's log is rewritten sealed at start (storage.ts upgrade()).
// The term and the entry type stay in the clear beside the data, as before: only Raft bookkeeping.
//
// A batch's plaintext: version (1 byte, BATCH_LAYOUT) | count (u32) | count × length (u32) | the data, in
// order. It is sealed with `raft-batch:<first>` as authenticated context, so a batch moved to another key
// fails to open, and the count inside it lets a reader refuse an entry that points past its batch.
// Entries pointing at one batch are always a contiguous run starting at its first index: a later append
// that overwrites part of it (a conflicting tail) replaces that part's records, and every batch whose key
// is at or after where the new append starts is deleted with them (see storage.ts persist()).
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

/** Format 1 writer: one entry's data sealed under the current DEK, bound to its index (upgrades and tools). */
export function sealEntryData(keys: RaftKeys, index: number, data: Uint8Array): Uint8Array {
  return seal(keys.current(), data, entryContext(index));
}

/** Formats 0 and 1: one stored entry's data in the clear (plain data, written by a release before encryption, as is). */
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

/** Format 2 writer: the data of `entries` (consecutive, the first at index `first`) in one seal. */
export function sealBatch(keys: RaftKeys, first: number, entries: readonly Entry[]): Buffer {
  return seal(keys.current(), encodeBatch(entries.map((e) => e.data)), batchContext(first));
}

/** The entries' data of the batch stored at `first`. */
export function openBatch(keys: RaftKeys, first: number, stored: Uint8Array): Uint8Array[] {
  return decodeBatch(open(keys.lookup, stored, batchContext(first)));
}

/** A stored batch sealed again under the current key (DEK rotation). */
export function resealBatch(keys: RaftKeys, first: number, stored: Uint8Array): Buffer {
  return seal(keys.current(), open(keys.lookup, stored, batchContext(first)), batchContext(first));
}
