// The records of the Raft log's segment files (wal.ts frames them; storage.ts gives them their meaning).
// The first byte of a body says which; numbers little-endian, indexes and terms as f64:
//   STATE      1 | JSON { id, hs, snap, members, removed, first }   every segment starts with one, so older
//                  segments can be deleted; `first`: no entry below it is kept
//   ENTRIES    2 | first | u32 count | u8 sealed | count × (term, u8 conf) | batch (log-format.ts: sealed
//                  under the DEK, or plain for the bench's baseline). One append; an entry at or below
//                  the last one written replaces it and all after it
//   HARDSTATE  3 | term | vote | commit
//   SNAPSHOT   4 | JSON { m: metadata, keep, replace }   the log starts from snapshot m; entries below
//                  `keep` are dropped (compaction), or every entry (`replace`: a snapshot installed)
//   TRUNCATE   5 | from                                   entries from `from` on are dropped
import type { Entry, HardState } from '../../raft';
import { internal } from '../../lib/errors';
import type { RaftKeys } from './dek';
import { decodeBatch, encodeBatch, openBatch, sealBatch } from './log-format';
import type { Body } from './wal';

export const REC = { STATE: 1, ENTRIES: 2, HARDSTATE: 3, SNAPSHOT: 4, TRUNCATE: 5 } as const;

const ENTRIES_HEAD = 14;
const ENTRY_META = 9;

/** The part of a body that says what the record is (an ENTRIES body is written as two parts). */
export const headOf = (b: Body): Buffer => (Buffer.isBuffer(b) ? b : b[0]!);

export function jsonBody(type: number, value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  const out = Buffer.allocUnsafe(1 + json.length);
  out[0] = type;
  json.copy(out, 1);
  return out;
}

export const parseJson = <T>(body: Buffer): T => JSON.parse(body.toString('utf8', 1)) as T;

/** The one number of a TRUNCATE record (or the n-th of any numbers record). */
export const numberOf = (body: Buffer, n = 0): number => body.readDoubleLE(1 + 8 * n);

export function hardStateBody(hs: HardState): Buffer {
  return numbersBody(REC.HARDSTATE, [hs.term, hs.vote, hs.commit]);
}

export const readHardState = (body: Buffer): HardState => ({ term: numberOf(body, 0), vote: numberOf(body, 1), commit: numberOf(body, 2) });

export function truncateBody(from: number): Buffer {
  return numbersBody(REC.TRUNCATE, [from]);
}

function numbersBody(type: number, values: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(1 + 8 * values.length);
  out[0] = type;
  values.forEach((v, i) => out.writeDoubleLE(v, 1 + 8 * i));
  return out;
}

/** An ENTRIES body as two parts (its head, then the batch as sealed: no copy of the batch here). */
export function entriesBody(keys: RaftKeys | null, ents: readonly Entry[]): Buffer[] {
  const first = ents[0]!.index;
  const batch = keys ? sealBatch(keys, first, ents) : encodeBatch(ents.map((e) => e.data));
  const h = Buffer.allocUnsafe(ENTRIES_HEAD + ENTRY_META * ents.length);
  h[0] = REC.ENTRIES;
  h.writeDoubleLE(first, 1);
  h.writeUInt32LE(ents.length, 9);
  h[13] = keys ? 1 : 0;
  ents.forEach((e, i) => {
    h.writeDoubleLE(e.term, ENTRIES_HEAD + ENTRY_META * i);
    h[ENTRIES_HEAD + ENTRY_META * i + 8] = e.type === 'conf' ? 1 : 0;
  });
  return [h, batch];
}

/** What an ENTRIES record holds, read from its head alone. */
export function entriesHeadOf(head: Buffer): { first: number; count: number; sealed: boolean } {
  return { first: head.readDoubleLE(1), count: head.readUInt32LE(9), sealed: head[13] === 1 };
}

/** The entries of an ENTRIES record, in the clear. */
export function entriesOf(body: Buffer, keys: RaftKeys | null): Entry[] {
  const { first, count, sealed } = entriesHeadOf(body);
  const data = body.subarray(ENTRIES_HEAD + ENTRY_META * count);
  let datas: Uint8Array[];
  if (sealed) {
    if (!keys) throw internal('raft: the log is encrypted and this storage has no key');
    datas = openBatch(keys, first, data);
  } else {
    datas = decodeBatch(data);
  }
  if (datas.length !== count) throw internal(`raft: the log batch at ${first} holds ${datas.length} entries, not ${count}`);
  return datas.map((d, i) => ({
    index: first + i,
    term: body.readDoubleLE(ENTRIES_HEAD + ENTRY_META * i),
    type: body[ENTRIES_HEAD + ENTRY_META * i + 8] === 1 ? 'conf' : 'normal',
    data: d,
  }));
}
