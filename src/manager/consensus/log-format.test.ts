// The three stored entry formats (log-format.ts): each one written, read back through RaftDiskStorage,
// and mixed with the others in one log across truncation, compaction, DEK rotation and upgrade.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Entry } from '../../raft';
import { RaftDiskStorage } from './storage';
import { RaftDekFile } from './dek';
import { decodeBatch, encodeBatch, openBatch, sealBatch } from './log-format';

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

test('format 0 (plain, from a release before encryption) is read by a sealed storage as it is and mixes with format 2', async () => {
  const dir = tmp();
  try {
    let d = new RaftDiskStorage(dir, null);
    await d.saveIdentity(1, [], []);
    await d.persist({ entries: [1, 2, 3, 4].map((i) => ent(i, 1)), hardState: { term: 1, vote: 1, commit: 4 } });
    assert.deepEqual(formats(d, 1, 4), [0, 0, 0, 0]);
    assert.deepEqual(d.batchKeys(), []);
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

test('format 1 (sealed per entry, the previous release) reads, takes format 2 after it, and both are re-sealed by a DEK rotation', async () => {
  const dir = tmp();
  try {
    // the upgrade of a plain log writes format 1, as the previous release wrote every entry
    let d = new RaftDiskStorage(dir, null);
    await d.saveIdentity(1, [], []);
    await d.persist({ entries: [1, 2, 3].map((i) => ent(i, 1)), hardState: { term: 1, vote: 1, commit: 3 } });
    await d.close();
    const keys = RaftDekFile.open(path.join(dir, 'dek'));
    const oldId = keys.current().id;
    d = new RaftDiskStorage(dir, keys);
    assert.equal(await d.upgrade(), true);
    assert.deepEqual(formats(d, 1, 3), [1, 1, 1]);
    assert.deepEqual(d.load().entries.map(text), ['e1', 'e2', 'e3']);
    await d.persist({ entries: [ent(3, 2, 'x3'), ent(4, 2, 'x4')] });
    assert.deepEqual(formats(d, 1, 4), [1, 1, 2, 2]);
    await keys.rotate();
    await d.persist({ entries: [ent(5, 2, 'x5')] }); // under the new key already
    await d.reseal();
    assert.equal(keys.lookup(oldId), undefined, 'old key dropped');
    await d.close();
    // only the new key is left in the file: everything on disk must open with it
    d = new RaftDiskStorage(dir, RaftDekFile.open(path.join(dir, 'dek')));
    assert.deepEqual(d.load().entries.map(text), ['e1', 'e2', 'x3', 'x4', 'x5']);
    assert.deepEqual(formats(d, 1, 5), [1, 1, 2, 2, 2]);
    await d.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
