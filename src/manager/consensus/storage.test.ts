import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Entry } from '../../raft';
import { RaftDiskStorage } from './storage';
import { DekLockedError, RaftDekFile } from './dek';
import { forceNewClusterState } from './force-new-cluster';
import { MemoryStorage, encodeConfChange } from '../../raft';

const ent = (index: number, term: number, s = `e${index}`): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(s) });
const text = (e: Entry) => new TextDecoder().decode(e.data);

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-raftdisk-'));
}

for (const [first, second] of [['background', 'background'], ['blocking', 'blocking'], ['background', 'blocking'], ['blocking', 'background']] as const) {
  test(`entries and hard state persist and reload; a conflicting tail is truncated (${first}, then ${second})`, async () => {
    const dir = tmp();
    try {
      let d = new RaftDiskStorage(dir);
      assert.ok(d.isEmpty());
      await d.saveIdentity(7, [{ raftId: 7, addr: '127.0.0.1:1', nodeId: 'n7' }], [3]);
      await d.persist({ entries: [ent(1, 1), ent(2, 1), ent(3, 1), ent(4, 1)], hardState: { term: 1, vote: 7, commit: 2 } }, first);
      await d.persist({ entries: [ent(3, 2, 'x3')], hardState: { term: 2, vote: 0, commit: 3 } }, second);
      await d.close();
      d = new RaftDiskStorage(dir);
      const st = d.load();
      assert.equal(st.raftId, 7);
      assert.deepEqual(st.hardState, { term: 2, vote: 0, commit: 3 });
      assert.deepEqual(st.entries.map((e) => [e.index, e.term, text(e)]), [[1, 1, 'e1'], [2, 1, 'e2'], [3, 2, 'x3']]);
      assert.deepEqual(st.members, [{ raftId: 7, addr: '127.0.0.1:1', nodeId: 'n7' }]);
      assert.deepEqual(st.removed, [3]);
      assert.equal(st.entries[0]!.type, 'normal');
      await d.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('compaction writes one snapshot file, drops old entries, and reload starts from it', async () => {
  const dir = tmp();
  try {
    let d = new RaftDiskStorage(dir);
    await d.saveIdentity(1, [], []);
    await d.persist({ entries: Array.from({ length: 20 }, (_, i) => ent(i + 1, 1)), hardState: { term: 1, vote: 1, commit: 20 } });
    const s1 = { metadata: { index: 10, term: 1, confState: { voters: [1] } }, data: new Uint8Array([1, 2, 3]) };
    await d.saveSnapshot(s1, 8);
    assert.deepEqual(d.snapshots.names(), ['0000000000000010-0000000000000001.snap']);
    assert.equal(d.entryRange().first, 9);
    const s2 = { metadata: { index: 15, term: 1, confState: { voters: [1, 2] } }, data: new Uint8Array([9]) };
    await d.saveSnapshot(s2, 12);
    assert.deepEqual(d.snapshots.names(), ['0000000000000015-0000000000000001.snap'], 'only the latest is kept');
    await d.close();
    d = new RaftDiskStorage(dir);
    const st = d.load();
    assert.equal(st.snapshot!.metadata.index, 15);
    assert.deepEqual(st.snapshot!.metadata.confState, { voters: [1, 2] });
    assert.deepEqual([...st.snapshot!.data], [9]);
    assert.deepEqual(st.entries.map((e) => e.index), [16, 17, 18, 19, 20]);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('keepOldSnapshots (swarm update --max-snapshots) keeps that many older files; a reload prunes to it', async () => {
  const dir = tmp();
  const name = (i: number) => `${String(i).padStart(16, '0')}-0000000000000001.snap`;
  try {
    let d = new RaftDiskStorage(dir);
    d.snapshots.keepOld = 2;
    await d.saveIdentity(1, [], []);
    await d.persist({ entries: Array.from({ length: 40 }, (_, i) => ent(i + 1, 1)), hardState: { term: 1, vote: 1, commit: 40 } });
    for (const i of [10, 20, 30, 40]) await d.saveSnapshot({ metadata: { index: i, term: 1, confState: { voters: [1] } }, data: new Uint8Array([i]) }, i - 5);
    assert.deepEqual(d.snapshots.names(), [name(20), name(30), name(40)]);
    await d.close();
    d = new RaftDiskStorage(dir);
    d.snapshots.keepOld = 0;
    assert.equal(d.load().snapshot!.metadata.index, 40);
    assert.deepEqual(d.snapshots.names(), [name(40)]);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an installed snapshot replaces the log; a stray newer file from a crash is ignored', async () => {
  const dir = tmp();
  try {
    let d = new RaftDiskStorage(dir);
    await d.saveIdentity(2, [], []);
    await d.persist({ entries: [ent(1, 1), ent(2, 1), ent(3, 1)], hardState: { term: 1, vote: 0, commit: 1 } });
    const snap = { metadata: { index: 50, term: 3, confState: { voters: [1, 2] } }, data: new Uint8Array([5]) };
    await d.persist({ snapshot: snap, entries: [ent(51, 3)], hardState: { term: 3, vote: 0, commit: 50 } });
    await d.close();
    // a crash after writing a snapshot file but before the log pointed at it
    fs.writeFileSync(path.join(dir, 'snapshots', '0000000000000099-0000000000000003.snap'), 'junk');
    d = new RaftDiskStorage(dir);
    const st = d.load();
    assert.equal(st.snapshot!.metadata.index, 50);
    assert.deepEqual(st.entries.map((e) => e.index), [51]);
    assert.equal(st.hardState.commit, 50);
    assert.deepEqual(d.snapshots.names(), ['0000000000000050-0000000000000003.snap']);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('force-new-cluster drops the uncommitted tail and commits removals of the other voters', () => {
  const conf = (index: number, nodeId: number): Entry => ({ index, term: 1, type: 'conf', data: encodeConfChange({ type: 'addNode', nodeId }) });
  const f = forceNewClusterState({
    raftId: 2,
    hardState: { term: 4, vote: 2, commit: 4 },
    entries: [conf(1, 1), conf(2, 2), conf(3, 3), ent(4, 2), ent(5, 4), ent(6, 4)],
    members: [],
    removed: [],
  });
  assert.equal(f.truncateFrom, 5);
  assert.deepEqual(f.appended.map((e) => [e.index, e.term, e.type]), [[5, 4, 'conf'], [6, 4, 'conf']]);
  assert.equal(f.state.hardState.commit, 6);
  assert.deepEqual(f.state.entries.map((e) => e.index), [1, 2, 3, 4, 5, 6]);
});

// ---- encryption at rest ------------------------------------------------------------------------

const MARK = 'MARKER-9f3a1c';
/** Every byte of the log's segment files and the snapshot files. */
const rawBytes = (dir: string) =>
  Buffer.concat(['wal', 'snapshots'].flatMap((sub) => fs.readdirSync(path.join(dir, sub)).map((f) => fs.readFileSync(path.join(dir, sub, f)))));

test('entries and snapshots are sealed on disk and read back; the DEK file is 0600 beside them', async () => {
  const dir = tmp();
  try {
    let d = new RaftDiskStorage(dir);
    await d.saveIdentity(1, [], []);
    await d.persist({ entries: Array.from({ length: 6 }, (_, i) => ent(i + 1, 1, `${MARK}-${i + 1}`)), hardState: { term: 1, vote: 1, commit: 6 } });
    await d.saveSnapshot({ metadata: { index: 4, term: 1, confState: { voters: [1] } }, data: new TextEncoder().encode(`${MARK}-snapshot`) }, 2);
    await d.close();
    assert.equal(rawBytes(dir).includes(MARK), false, 'no plain text in the log or the snapshot');
    assert.equal(fs.statSync(path.join(dir, 'raft.dek')).mode & 0o777, 0o600);
    d = new RaftDiskStorage(dir);
    const st = d.load();
    assert.equal(new TextDecoder().decode(st.snapshot!.data), `${MARK}-snapshot`);
    assert.deepEqual(st.entries.map(text), [`${MARK}-5`, `${MARK}-6`]);
    await d.close();
    // another DEK cannot read it
    fs.rmSync(path.join(dir, 'raft.dek'));
    d = new RaftDiskStorage(dir);
    assert.throws(() => d.load(), /no key|does not authenticate/);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('DEK rotation: new writes use the new key at once; reseal rewrites the snapshot and entries, then the old key is dropped', async () => {
  const dir = tmp();
  try {
    const keys = RaftDekFile.open(path.join(dir, 'dek'));
    const oldId = keys.current().id;
    let d = new RaftDiskStorage(dir, keys);
    await d.saveIdentity(1, [], []);
    await d.persist({ entries: [ent(1, 1), ent(2, 1), ent(3, 1)], hardState: { term: 1, vote: 1, commit: 3 } });
    await d.saveSnapshot({ metadata: { index: 2, term: 1, confState: { voters: [1] } }, data: new Uint8Array([7, 7]) }, 0);
    await keys.rotate();
    assert.ok(keys.rotating);
    await d.persist({ entries: [ent(4, 1, 'after')], hardState: { term: 1, vote: 1, commit: 4 } });
    await d.reseal();
    assert.equal(keys.rotating, false);
    assert.equal(keys.lookup(oldId), undefined, 'old key dropped');
    await d.close();
    const reopened = RaftDekFile.open(path.join(dir, 'dek'));
    assert.equal(reopened.rotating, false);
    d = new RaftDiskStorage(dir, reopened);
    const st = d.load();
    assert.deepEqual([...st.snapshot!.data], [7, 7]);
    assert.deepEqual(st.entries.map(text), ['e3', 'after']);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a rotation a crash interrupted (both keys in the file) is finished at load', async () => {
  const dir = tmp();
  try {
    const keys = RaftDekFile.open(path.join(dir, 'dek'));
    let d = new RaftDiskStorage(dir, keys);
    await d.saveIdentity(1, [], []);
    await d.persist({ entries: [ent(1, 1)], hardState: { term: 1, vote: 1, commit: 1 } });
    await keys.rotate(); // crash before reseal
    await d.close();
    const again = RaftDekFile.open(path.join(dir, 'dek'));
    assert.ok(again.rotating);
    d = new RaftDiskStorage(dir, again);
    assert.deepEqual(d.load().entries.map(text), ['e1']);
    assert.equal(again.rotating, false);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('upgrade: a plain-text log and snapshot from an older release are rewritten sealed, nothing plain left in the files', async () => {
  const dir = tmp();
  try {
    // what the release before encryption at rest wrote (the plain baseline writes the same format)
    let d = new RaftDiskStorage(dir, null);
    await d.saveIdentity(1, [{ raftId: 1, addr: 'a:1', nodeId: 'n1' }], []);
    await d.persist({ entries: Array.from({ length: 5 }, (_, i) => ent(i + 1, 1, `${MARK}-${i + 1}`)), hardState: { term: 1, vote: 1, commit: 5 } });
    await d.saveSnapshot({ metadata: { index: 3, term: 1, confState: { voters: [1] } }, data: new TextEncoder().encode(`${MARK}-snap`) }, 0);
    await d.close();
    assert.ok(rawBytes(dir).includes(MARK), 'the baseline is plain');
    d = new RaftDiskStorage(dir);
    assert.equal(d.needsUpgrade(), true);
    assert.equal(await d.upgrade(), true);
    assert.equal(d.needsUpgrade(), false);
    const st = d.load();
    assert.deepEqual(st.entries.map(text), [4, 5].map((i) => `${MARK}-${i}`), 'the log after the snapshot');
    assert.equal(new TextDecoder().decode(st.snapshot!.data), `${MARK}-snap`);
    assert.deepEqual(st.members, [{ raftId: 1, addr: 'a:1', nodeId: 'n1' }]);
    assert.equal(await d.upgrade(), false, 'once');
    await d.close();
    assert.equal(rawBytes(dir).includes(MARK), false, 'no plain text left: the plain segments are deleted');
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('upgrade')), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the DEK file sealed under an unlock key opens only with that key', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'dek');
    const kek = Buffer.alloc(32, 3);
    const k = RaftDekFile.open(file);
    const id = k.current().id;
    assert.equal(RaftDekFile.isLocked(file), false);
    await k.setKek(kek);
    assert.equal(RaftDekFile.isLocked(file), true);
    assert.equal(fs.readFileSync(file).includes(k.current().key.toString('base64')), false);
    assert.throws(() => RaftDekFile.open(file), (e: unknown) => e instanceof DekLockedError && e.reason === 'locked');
    assert.throws(() => RaftDekFile.open(file, Buffer.alloc(32, 4)), (e: unknown) => e instanceof DekLockedError && e.reason === 'invalid-key');
    const opened = RaftDekFile.open(file, kek);
    assert.equal(opened.current().id, id);
    await opened.setKek(undefined);
    assert.equal(RaftDekFile.open(file).current().id, id);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('reading back: entries from sealed batches and a snapshot payload from its file, as the in-memory log asks for them', async () => {
  const dir = tmp();
  try {
    const d = new RaftDiskStorage(dir);
    await d.saveIdentity(1, [], []);
    // two appends: two sealed batches, the first entry of the second one replacing nothing
    await d.persist({ entries: [ent(1, 1), ent(2, 1), ent(3, 1)], hardState: { term: 1, vote: 1, commit: 3 } });
    await d.persist({ entries: [ent(4, 2), ent(5, 2)], hardState: { term: 2, vote: 1, commit: 5 } });
    assert.deepEqual(d.batchKeys(), [1, 4]);
    assert.deepEqual(d.entries(2, 5).map((e) => [e.index, e.term, text(e)]), [[2, 1, 'e2'], [3, 1, 'e3'], [4, 2, 'e4']]);
    assert.deepEqual(d.entries(5, 9).map((e) => e.index), [5], 'stops at the end of the log');
    assert.deepEqual(d.entries(1, 6, 4).map((e) => e.index), [1, 2], 'stops once the data read reaches maxBytes');
    const snap = { metadata: { index: 3, term: 1, confState: { voters: [1] } }, data: new Uint8Array([4, 5, 6]) };
    await d.saveSnapshot(snap, 2);
    // compacted entries are not there any more: the in-memory log turns that into CompactedError
    assert.deepEqual(d.entries(1, 4).map((e) => e.index), []);
    assert.deepEqual(d.entries(3, 5).map((e) => e.index), [3, 4]);
    assert.deepEqual(d.snapshotData(snap.metadata), new Uint8Array([4, 5, 6]));
    // the file is sealed: the payload is not in it in the clear
    const file = fs.readFileSync(path.join(dir, 'snapshots', d.snapshots.names()[0]!));
    assert.equal(file.includes(Buffer.from([4, 5, 6])), false);
    // load() hands the storage on as the backing of the in-memory log
    assert.equal(d.load().backing, d);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the in-memory log over this storage: entries it dropped are read back sealed-and-opened, byte for byte', async () => {
  const dir = tmp();
  try {
    const d = new RaftDiskStorage(dir);
    await d.saveIdentity(1, [], []);
    const mem = new MemoryStorage({ voters: [1] }, { backing: d, keepBytes: 0, readBackBytes: 1 << 20 });
    const written: Entry[] = [];
    // as the Ready loop does: persist, then append and set the hard state; each Ready commits the previous one's entries
    for (let r = 0; r < 5; r++) {
      const batch = [ent(r * 3 + 1, 1, `a${r}`.repeat(100)), ent(r * 3 + 2, 1, `b${r}`), ent(r * 3 + 3, 1, `c${r}`)];
      const hardState = { term: 1, vote: 1, commit: r * 3 };
      await d.persist({ entries: batch, hardState });
      mem.append(batch);
      mem.setHardState(hardState);
      written.push(...batch);
    }
    // committed through 12 at the last append: all of it is on disk only now
    assert.equal(mem.heldInMemory().entries, written.slice(9).reduce((n, e) => n + e.data.byteLength, 0));
    const back = mem.entries(1, 16);
    assert.deepEqual(back.map((e) => [e.index, e.term, text(e)]), written.map((e) => [e.index, e.term, text(e)]));
    assert.equal(mem.entrySize(1), 200);
    // after a snapshot and compaction on disk (and then here), the payload comes from the file
    const snap = { metadata: { index: 12, term: 1, confState: { voters: [1] } }, data: new Uint8Array([3, 1, 4]) };
    mem.createSnapshot(12, snap.metadata.confState, snap.data);
    await d.saveSnapshot(snap, 10);
    mem.compact(10);
    assert.deepEqual(mem.heldInMemory().snapshot, 0);
    assert.deepEqual(mem.snapshot().data, new Uint8Array([3, 1, 4]));
    assert.deepEqual(mem.entries(11, 16).map((e) => text(e)), written.slice(10).map(text));
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

for (const sealed of [true, false]) {
  test(`a snapshot file written from pieces as they come reads back whole, and points the log at it (${sealed ? 'sealed' : 'the plain baseline'})`, async () => {
    const dir = tmp();
    try {
      let d = new RaftDiskStorage(dir, sealed ? undefined : null);
      await d.saveIdentity(1, [], []);
      await d.persist({ entries: Array.from({ length: 10 }, (_, i) => ent(i + 1, 1)), hardState: { term: 1, vote: 1, commit: 10 } });
      const parts = ['{"v":1,', 'x'.repeat(100_000), '', '"end":true}'].map((p) => Buffer.from(p));
      let given = 0;
      const makers = parts.map((p) => () => {
        given++;
        return p.toString();
      });
      const metadata = { index: 8, term: 1, confState: { voters: [1] } };
      const size = await d.snapshots.write(metadata, makers);
      assert.equal(given, parts.length);
      assert.equal(size, Buffer.concat(parts).length, 'the payload size, for the snapshot policy');
      assert.deepEqual(Buffer.from(d.snapshotData(metadata)), Buffer.concat(parts));
      const file = fs.readFileSync(path.join(dir, 'snapshots', d.snapshots.names()[0]!));
      assert.equal(file.includes(Buffer.from('x'.repeat(64))), !sealed, sealed ? 'no plain text on disk' : 'the baseline writes plain text');
      await d.pointAt(metadata, 6);
      assert.equal(d.entryRange().first, 7);
      await d.close();
      d = new RaftDiskStorage(dir, sealed ? undefined : null);
      const st = d.load();
      assert.deepEqual(st.snapshot!.metadata, metadata);
      assert.deepEqual(Buffer.from(st.snapshot!.data), Buffer.concat(parts));
      assert.deepEqual(st.entries.map((e) => e.index), [9, 10]);
      await d.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('compaction deletes the segment files holding only dropped entries; the log reloads from the segments left', async () => {
  const dir = tmp();
  try {
    let d = new RaftDiskStorage(dir, undefined, { fsync: true, segmentBytes: 2048 });
    await d.saveIdentity(4, [{ raftId: 4, addr: 'a:4', nodeId: 'n4' }], [2]);
    for (let i = 1; i <= 60; i++) await d.persist({ entries: [ent(i, 1, `e${i}`.padEnd(100, '.'))], hardState: { term: 1, vote: 4, commit: i } }, i % 3 ? 'background' : 'blocking');
    const before = d.segments();
    assert.ok(before.length >= 4, `segments: ${before.join(' ')}`);
    await d.saveSnapshot({ metadata: { index: 50, term: 1, confState: { voters: [4] } }, data: new Uint8Array([50]) }, 45);
    const after = d.segments();
    assert.ok(after.length < before.length && after[0]! > before[0]!, `segments after: ${after.join(' ')}`);
    assert.equal(fs.readdirSync(path.join(dir, 'wal')).filter((f) => f.endsWith('.wal')).length, after.length, 'the files are gone');
    assert.deepEqual(d.entryRange(), { first: 46, last: 60 });
    await d.close();
    d = new RaftDiskStorage(dir, undefined, { fsync: true, segmentBytes: 2048 });
    const st = d.load();
    assert.equal(st.raftId, 4);
    assert.deepEqual(st.members, [{ raftId: 4, addr: 'a:4', nodeId: 'n4' }]);
    assert.deepEqual(st.removed, [2]);
    assert.deepEqual(st.hardState, { term: 1, vote: 4, commit: 60 });
    assert.equal(st.snapshot!.metadata.index, 50);
    assert.deepEqual(st.entries.map((e) => e.index), [51, 52, 53, 54, 55, 56, 57, 58, 59, 60]);
    assert.deepEqual(d.entries(46, 49).map((e) => text(e).slice(0, 3)), ['e46', 'e47', 'e48'], 'kept for followers behind');
    assert.deepEqual(d.entries(40, 49), [], 'dropped');
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
