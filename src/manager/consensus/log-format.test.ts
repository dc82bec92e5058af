// How entries are stored (log-format.ts): sealed or plain batches written, read back through
// RaftDiskStorage and mixed in one log across truncation, compaction, DEK rotation and upgrade; and the
// lmdb formats of the release before, migrated.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Entry } from '../../raft';
import { RaftDiskStorage } from './storage';
import { RaftDekFile } from './dek';
import { open as openLmdb } from 'lmdb';
import { decodeBatch, encodeBatch, openBatch, sealBatch, sealEntryData, type StoredEntry } from './log-format';
import { LEGACY_LMDB_FILE } from './legacy-lmdb';

const ent = (index: number, term: number, s = `e${index}`): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(s) });
const text = (e: Entry) => new TextDecoder().decode(e.data);
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-raftfmt-'));
const formats = (d: RaftDiskStorage, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => d.storedFormat(from + i));

test('a batch plaintext round-trips (empty data included); an unknown layout or a short buffer is refused', () => {
  const datas = [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3])];
  assert.deepEqual(decodeBatch(encodeBatch(datas)).map((d) => [...d]), [[1, 2], [], [3]]);
  assert.deepEqual(decodeBatch(encodeBatch([])), []);
  const bad = encodeBatch(datas);
  bad[0] = 9;
  assert.throws(() => decodeBatch(bad), /unknown log batch layout/);
  assert.throws(() => decodeBatch(encodeBatch(datas).subarray(0, 9)), /damaged/);
});

test('a sealed batch opens only at the key it was written under', () => {
  const dir = tmp();
  try {
    const keys = RaftDekFile.open(path.join(dir, 'dek'));
    const sealed = sealBatch(keys, 4, [ent(4, 1), ent(5, 1)]);
    assert.deepEqual(openBatch(keys, 4, sealed).map((d) => new TextDecoder().decode(d)), ['e4', 'e5']);
    assert.throws(() => openBatch(keys, 5, sealed), /does not authenticate/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('format 2: one batch per append; a conflicting tail inside a batch, compaction and reload keep every entry readable', async () => {
  const dir = tmp();
  try {
    let d = new RaftDiskStorage(dir);
    await d.saveIdentity(1, [], []);
    await d.persist({ entries: [1, 2, 3, 4, 5, 6].map((i) => ent(i, 1)), hardState: { term: 1, vote: 1, commit: 2 } });
    assert.deepEqual(formats(d, 1, 6), [2, 2, 2, 2, 2, 2]);
    assert.deepEqual(d.batchKeys(), [1]);
    // a new leader overwrites from 4: entries 1–3 still point into batch 1
    await d.persist({ entries: [ent(4, 2, 'x4'), ent(5, 2, 'x5')], hardState: { term: 2, vote: 0, commit: 3 } }, 'blocking');
    assert.deepEqual(d.batchKeys(), [1, 4]);
    await d.persist({ entries: [ent(6, 2, 'x6')] });
    assert.deepEqual(d.batchKeys(), [1, 4, 6]);
    // and again from 3: batches 4 and 6 go, batch 1 keeps 1–2
    await d.persist({ entries: [ent(3, 3, 'y3'), ent(4, 3, 'y4')], hardState: { term: 3, vote: 0, commit: 2 } });
    assert.deepEqual(d.batchKeys(), [1, 3]);
    await d.close();
    d = new RaftDiskStorage(dir);
    assert.deepEqual(d.load().entries.map((e) => [e.index, e.term, text(e)]), [[1, 1, 'e1'], [2, 1, 'e2'], [3, 3, 'y3'], [4, 3, 'y4']]);
    // compaction through 1: batch 1 still holds entry 2; through 3: batch 1 goes, batch 3 holds 4
    await d.saveSnapshot({ metadata: { index: 1, term: 1, confState: { voters: [1] } }, data: new Uint8Array([1]) }, 1);
    assert.deepEqual(d.batchKeys(), [1, 3]);
    await d.saveSnapshot({ metadata: { index: 3, term: 3, confState: { voters: [1] } }, data: new Uint8Array([3]) }, 3);
    assert.deepEqual(d.batchKeys(), [3]);
    await d.close();
    d = new RaftDiskStorage(dir);
    assert.deepEqual(d.load().entries.map(text), ['y4']);
    // everything compacted: no batch is left
    await d.saveSnapshot({ metadata: { index: 4, term: 3, confState: { voters: [1] } }, data: new Uint8Array([4]) }, 4);
    assert.deepEqual(d.batchKeys(), []);
    // an installed snapshot drops every batch
    await d.persist({ entries: [ent(5, 3), ent(6, 3)] });
    await d.persist({ snapshot: { metadata: { index: 50, term: 4, confState: { voters: [1] } }, data: new Uint8Array([5]) }, entries: [ent(51, 4)], hardState: { term: 4, vote: 0, commit: 50 } });
    assert.deepEqual(d.batchKeys(), [51]);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a plain log (the bench's baseline) is read by a sealed storage as it is and mixes with sealed appends", async () => {
  const dir = tmp();
  try {
    let d = new RaftDiskStorage(dir, null);
    await d.saveIdentity(1, [], []);
    await d.persist({ entries: [1, 2, 3, 4].map((i) => ent(i, 1)), hardState: { term: 1, vote: 1, commit: 4 } });
    assert.deepEqual(formats(d, 1, 4), [0, 0, 0, 0]);
    assert.deepEqual(d.batchKeys(), [1]);
    await d.close();
    d = new RaftDiskStorage(dir);
    assert.equal(d.needsUpgrade(), true);
    assert.deepEqual(d.load().entries.map(text), ['e1', 'e2', 'e3', 'e4']);
    await d.persist({ entries: [ent(3, 2, 'x3'), ent(4, 2, 'x4'), ent(5, 2, 'x5')] });
    assert.deepEqual(formats(d, 1, 5), [0, 0, 2, 2, 2]);
    assert.deepEqual(d.load().entries.map(text), ['e1', 'e2', 'x3', 'x4', 'x5']);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an lmdb log of the release before (formats 0, 1 and 2 mixed) is copied sealed into segment files at load, and the lmdb file deleted', async () => {
  const dir = tmp();
  const MARK = 'PLAIN-7c1d';
  try {
    const keys = RaftDekFile.open(path.join(dir, 'dek'));
    // what that release wrote: a plain entry (format 0), one sealed alone (1), an append sealed together (2)
    const root = openLmdb({ path: path.join(dir, LEGACY_LMDB_FILE), compression: false, maxDbs: 4 });
    const entries = root.openDB<StoredEntry, number>({ name: 'entries', compression: false });
    const meta = root.openDB<unknown, string>({ name: 'meta', compression: false });
    const batches = root.openDB<Uint8Array, number>({ name: 'batches', compression: false, encoding: 'binary' });
    await root.transaction(() => {
      void meta.put('id', 5);
      void meta.put('hs', { term: 3, vote: 5, commit: 4 });
      void meta.put('members', [{ raftId: 5, addr: 'a:1', nodeId: 'n5' }]);
      void meta.put('removed', [9]);
      void entries.put(1, { t: 1, c: 0, d: new TextEncoder().encode(`${MARK}-1`) });
      void entries.put(2, { t: 2, c: 1, d: sealEntryData(keys, 2, new TextEncoder().encode('e2')) });
      void batches.put(3, sealBatch(keys, 3, [ent(3, 3), ent(4, 3)]));
      void entries.put(3, { t: 3, c: 0, b: 3 });
      void entries.put(4, { t: 3, c: 0, b: 3 });
    });
    await root.close();
    // opening only to look migrates nothing
    const look = new RaftDiskStorage(dir);
    assert.equal(look.isEmpty(), false);
    await look.close();
    assert.ok(fs.existsSync(path.join(dir, LEGACY_LMDB_FILE)));
    let d = new RaftDiskStorage(dir, keys);
    const st = d.load();
    assert.equal(st.raftId, 5);
    assert.deepEqual(st.hardState, { term: 3, vote: 5, commit: 4 });
    assert.deepEqual(st.members, [{ raftId: 5, addr: 'a:1', nodeId: 'n5' }]);
    assert.deepEqual(st.removed, [9]);
    assert.deepEqual(st.entries.map((e) => [e.index, e.term, e.type, text(e)]), [[1, 1, 'normal', `${MARK}-1`], [2, 2, 'conf', 'e2'], [3, 3, 'normal', 'e3'], [4, 3, 'normal', 'e4']]);
    assert.deepEqual(formats(d, 1, 4), [2, 2, 2, 2]);
    assert.equal(fs.existsSync(path.join(dir, LEGACY_LMDB_FILE)), false, 'the lmdb file is deleted');
    const raw = Buffer.concat(fs.readdirSync(path.join(dir, 'wal')).map((f) => fs.readFileSync(path.join(dir, 'wal', f))));
    assert.equal(raw.includes(MARK), false, 'the plain entry was sealed on the way');
    await d.persist({ entries: [ent(5, 3)], hardState: { term: 3, vote: 5, commit: 5 } });
    await d.close();
    d = new RaftDiskStorage(dir, keys);
    assert.deepEqual(d.load().entries.map((e) => e.index), [1, 2, 3, 4, 5]);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a DEK rotation seals the whole log again under the new key, then drops the old one', async () => {
  const dir = tmp();
  try {
    const keys = RaftDekFile.open(path.join(dir, 'dek'));
    const oldId = keys.current().id;
    let d = new RaftDiskStorage(dir, keys);
    await d.saveIdentity(1, [], []);
    await d.persist({ entries: [1, 2, 3].map((i) => ent(i, 1)), hardState: { term: 1, vote: 1, commit: 3 } });
    await d.persist({ entries: [ent(3, 2, 'x3'), ent(4, 2, 'x4')] });
    await keys.rotate();
    await d.persist({ entries: [ent(5, 2, 'x5')] }); // under the new key already
    const before = d.segments();
    await d.reseal();
    assert.equal(keys.lookup(oldId), undefined, 'old key dropped');
    assert.equal(d.segments().length, 1);
    assert.ok(d.segments()[0]! > before[before.length - 1]!, 'a new segment replaced the old ones');
    assert.deepEqual(d.load().entries.map(text), ['e1', 'e2', 'x3', 'x4', 'x5']);
    await d.persist({ entries: [ent(6, 2, 'x6')] });
    await d.close();
    // only the new key is left in the file: everything on disk must open with it
    d = new RaftDiskStorage(dir, RaftDekFile.open(path.join(dir, 'dek')));
    assert.deepEqual(d.load().entries.map(text), ['e1', 'e2', 'x3', 'x4', 'x5', 'x6']);
    assert.deepEqual(formats(d, 1, 6), [2, 2, 2, 2, 2, 2]);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
