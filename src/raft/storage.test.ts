import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from './storage';
import { CompactedError, Entry, SnapshotOutOfDateError, UnavailableError } from './types';

const ents = (from: number, terms: number[]): Entry[] => terms.map((t, i) => ({ term: t, index: from + i, type: 'normal', data: new Uint8Array([from + i]) }));

test('append, truncate on conflict, term and entries', () => {
  const s = new MemoryStorage({ voters: [1] });
  s.append(ents(1, [1, 1, 2, 2]));
  assert.equal(s.firstIndex(), 1);
  assert.equal(s.lastIndex(), 4);
  assert.equal(s.term(3), 2);
  assert.equal(s.term(0), 0);
  s.append(ents(3, [3]));
  assert.equal(s.lastIndex(), 3);
  assert.equal(s.term(3), 3);
  assert.deepEqual(s.entries(1, 4).map((e) => e.term), [1, 1, 3]);
  assert.deepEqual(s.entries(1, 4, 2).map((e) => e.index), [1, 2]);
  assert.throws(() => s.entries(1, 6), UnavailableError);
  assert.throws(() => s.append(ents(6, [3])), /missing log entry/);
  assert.deepEqual(s.initialState().confState.voters, [1]);
});

test('snapshot, compact and applySnapshot', () => {
  const s = new MemoryStorage();
  s.append(ents(1, [1, 1, 2, 2, 2]));
  const snap = s.createSnapshot(4, { voters: [1, 2] }, new Uint8Array([9]));
  assert.equal(snap.metadata.term, 2);
  assert.throws(() => s.createSnapshot(3, { voters: [] }, new Uint8Array()), SnapshotOutOfDateError);
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.term(3), 2);
  assert.throws(() => s.term(2), CompactedError);
  assert.throws(() => s.entries(3, 5), CompactedError);
  assert.deepEqual(s.entries(4, 6).map((e) => e.index), [4, 5]);
  // appending entries partly compacted keeps only the new tail
  s.append(ents(2, [1, 2, 2, 3]));
  assert.equal(s.lastIndex(), 5);
  assert.equal(s.term(5), 3);
  s.applySnapshot({ metadata: { index: 10, term: 4, confState: { voters: [3] } }, data: new Uint8Array() });
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
  assert.equal(s.term(10), 4);
  assert.deepEqual(s.initialState().confState.voters, [3]);
  assert.throws(() => s.applySnapshot({ metadata: { index: 9, term: 4, confState: { voters: [] } }, data: new Uint8Array() }), SnapshotOutOfDateError);
});

/** A disk that holds what was appended and the snapshots written, and counts the reads. */
function fakeDisk() {
  const log = new Map<number, Entry>();
  const snaps = new Map<number, Uint8Array>();
  const reads = { entries: 0, snapshots: 0 };
  return {
    log,
    snaps,
    reads,
    backing: {
      entries(lo: number, hi: number, maxBytes: number): Entry[] {
        reads.entries++;
        const out: Entry[] = [];
        let bytes = 0;
        for (let i = lo; i < hi && log.has(i) && bytes < maxBytes; i++) {
          out.push(log.get(i)!);
          bytes += log.get(i)!.data.byteLength;
        }
        return out;
      },
      snapshotData(m: { index: number }): Uint8Array {
        reads.snapshots++;
        const d = snaps.get(m.index);
        if (!d) throw new Error(`no snapshot ${m.index}`);
        return d;
      },
    },
  };
}

const sized = (from: number, n: number, bytes: number, term = 1): Entry[] =>
  Array.from({ length: n }, (_, k) => ({ term, index: from + k, type: 'normal' as const, data: new Uint8Array(bytes).fill((from + k) % 256) }));

test('retention: committed entries beyond keepBytes are dropped from memory and read back from the backing', () => {
  const disk = fakeDisk();
  const s = new MemoryStorage({ voters: [1] }, { backing: disk.backing, keepBytes: 300, readBackBytes: 1000 });
  const write = (es: Entry[]) => {
    for (const e of es) disk.log.set(e.index, e);
    s.append(es);
  };
  write(sized(1, 10, 100));
  // nothing is committed yet: everything is held, however many bytes
  assert.deepEqual(s.heldInMemory(), { entries: 1000, snapshot: 0 });
  s.setHardState({ term: 1, vote: 1, commit: 8 });
  // the commit index counts from the next append (the previous Ready's, whose entries were applied)
  write(sized(11, 2, 100));
  // committed 1..8: all but the newest 300 bytes of them (6..8) go; 9..12 are not committed and stay
  assert.deepEqual(s.heldInMemory(), { entries: 700, snapshot: 0 });
  assert.equal(disk.reads.entries, 0);
  // terms and sizes stay answerable without the disk
  assert.equal(s.term(3), 1);
  assert.equal(s.entrySize(3), 100);
  assert.equal(disk.reads.entries, 0);
  // a range over dropped and held entries: the dropped part from the disk, the rest from memory, same bytes
  const got = s.entries(4, 8);
  assert.deepEqual(
    got.map((e) => [e.index, e.data[0], e.data.byteLength]),
    [4, 5, 6, 7].map((i) => [i, i, 100]),
  );
  assert.equal(disk.reads.entries, 1);
  assert.deepEqual(s.entries(6, 13).map((e) => e.index), [6, 7, 8, 9, 10, 11, 12]);
  assert.equal(disk.reads.entries, 1);
  assert.deepEqual(s.entries(2, 13, 2).map((e) => e.index), [2, 3]);
  // what is read back for one call is bounded in bytes (at least one entry): Raft takes the shorter answer
  // as the storage capping it and asks again from where it ended
  const capped = new MemoryStorage({ voters: [1] }, { backing: disk.backing, keepBytes: 300, readBackBytes: 250 });
  capped.append(sized(1, 12, 100));
  capped.setHardState({ term: 1, vote: 1, commit: 12 });
  capped.append(sized(13, 1, 100));
  assert.deepEqual(capped.entries(1, 14).map((e) => e.index), [1, 2, 3]);
  assert.deepEqual(capped.entries(7, 14).map((e) => e.index), [7, 8, 9], 'the held tail is not added to a capped read');
  assert.deepEqual(capped.entries(9, 14).map((e) => e.index), [9, 10, 11, 12, 13], 'read back below the budget, then the held tail');
  // the disk compacted before this storage did: compacted for Raft (which sends the snapshot instead)
  disk.log.delete(2);
  assert.throws(() => s.entries(2, 5), CompactedError);
  // a disk that disagrees about a term is a broken invariant, not something to send
  disk.log.set(3, { ...disk.log.get(3)!, term: 7 });
  assert.throws(() => s.entries(3, 4), /read back from disk has term 7, expected 1/);
});

test('retention: truncation and compaction keep the held byte count exact', () => {
  const disk = fakeDisk();
  const s = new MemoryStorage({ voters: [1] }, { backing: disk.backing, keepBytes: 0, readBackBytes: 1000 });
  const write = (es: Entry[]) => {
    for (const e of es) disk.log.set(e.index, e);
    s.append(es);
  };
  write(sized(1, 6, 10));
  s.setHardState({ term: 1, vote: 1, commit: 3 });
  // a conflicting tail from 5 replaces 5..6 (uncommitted, held) with 5..7
  write(sized(5, 3, 20, 2));
  assert.deepEqual(s.heldInMemory(), { entries: 10 + 60, snapshot: 0 });
  assert.equal(s.term(6), 2);
  s.createSnapshot(5, { voters: [1] }, new Uint8Array(40));
  assert.equal(s.heldInMemory().snapshot, 40);
  disk.snaps.set(5, new Uint8Array(40).fill(9));
  s.compact(4);
  assert.deepEqual(s.heldInMemory(), { entries: 60, snapshot: 0 });
  assert.equal(s.firstIndex(), 5);
  assert.deepEqual(s.entries(5, 8).map((e) => e.term), [2, 2, 2]);
});

test('retention: a durable snapshot payload is read back when used, not when its metadata is', () => {
  const disk = fakeDisk();
  const s = new MemoryStorage({ voters: [1] }, { backing: disk.backing, keepBytes: 0, readBackBytes: 1000 });
  // loaded at start or installed from the leader: held until the next compaction (the driver decodes it now)
  s.applySnapshot({ metadata: { index: 10, term: 2, confState: { voters: [1] } }, data: new Uint8Array([1, 2, 3]) });
  assert.deepEqual(s.snapshot().data, new Uint8Array([1, 2, 3]));
  const es = sized(11, 3, 5, 2);
  for (const e of es) disk.log.set(e.index, e);
  s.append(es);
  s.setHardState({ term: 2, vote: 1, commit: 13 });
  // a snapshot of our own: held until compact(), which the driver calls once it is durable
  const payload = new Uint8Array([7, 7]);
  s.createSnapshot(12, { voters: [1] }, payload);
  assert.equal(s.snapshot().data, payload);
  disk.snaps.set(12, new Uint8Array([7, 7]));
  s.compact(11);
  assert.equal(s.heldInMemory().snapshot, 0);
  const snap = s.snapshot();
  assert.deepEqual(snap.metadata, { index: 12, term: 2, confState: { voters: [1] } });
  assert.equal(disk.reads.snapshots, 0);
  assert.deepEqual(snap.data, new Uint8Array([7, 7]));
  assert.deepEqual(snap.data, new Uint8Array([7, 7]));
  assert.equal(disk.reads.snapshots, 1);
  assert.deepEqual(s.initialState().confState.voters, [1]);
  // what Raft takes to send carries its payload from that moment: a newer snapshot may replace the file
  // while the message waits in a queue
  const taken = s.raftView().snapshot();
  assert.equal(disk.reads.snapshots, 2);
  disk.snaps.delete(12);
  assert.deepEqual(taken.data, new Uint8Array([7, 7]));
  assert.throws(() => s.snapshot().data, /no snapshot 12/);
  assert.deepEqual(s.raftView().entries(12, 14).map((e) => e.index), [12, 13]);
  assert.equal(s.raftView().term(12), 2);
});

test('retention: a snapshot written to disk as it was encoded is recorded without its payload, read back when used', () => {
  const disk = fakeDisk();
  const s = new MemoryStorage({ voters: [1] }, { backing: disk.backing, keepBytes: 0, readBackBytes: 1000 });
  const es = sized(1, 4, 6, 2);
  for (const e of es) disk.log.set(e.index, e);
  s.append(es);
  s.setHardState({ term: 2, vote: 1, commit: 3 });
  disk.snaps.set(3, new Uint8Array([5, 5, 5]));
  const snap = s.createSnapshot(3, { voters: [1] });
  assert.deepEqual(snap.metadata, { index: 3, term: 2, confState: { voters: [1] } });
  assert.equal(s.heldInMemory().snapshot, 0, 'no payload held, before any compaction');
  assert.equal(disk.reads.snapshots, 0);
  assert.deepEqual(s.raftView().snapshot().data, new Uint8Array([5, 5, 5]));
  assert.equal(disk.reads.snapshots, 1);
  // without a retention there is nothing to read a payload back from
  const plain = new MemoryStorage({ voters: [1] });
  plain.append(sized(1, 2, 4));
  assert.throws(() => plain.createSnapshot(2, { voters: [1] }), /no payload/);
});

test('without a retention everything stays in memory', () => {
  const s = new MemoryStorage({ voters: [1] });
  s.append(sized(1, 5, 10));
  s.setHardState({ term: 1, vote: 1, commit: 5 });
  s.append(sized(6, 1, 10));
  s.createSnapshot(5, { voters: [1] }, new Uint8Array(3));
  s.compact(2);
  assert.deepEqual(s.heldInMemory(), { entries: 40, snapshot: 3 });
  assert.equal(s.entries(3, 7).length, 4);
});
