import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Entry } from '../../raft';
import { RaftDiskStorage } from './storage';
import { forceNewClusterState } from './force-new-cluster';
import { encodeConfChange } from '../../raft';

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
    assert.deepEqual(d.snapshotFiles(), ['0000000000000010-0000000000000001.snap']);
    assert.equal(d.entryRange().first, 9);
    const s2 = { metadata: { index: 15, term: 1, confState: { voters: [1, 2] } }, data: new Uint8Array([9]) };
    await d.saveSnapshot(s2, 12);
    assert.deepEqual(d.snapshotFiles(), ['0000000000000015-0000000000000001.snap'], 'only the latest is kept');
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
    d.keepOldSnapshots = 2;
    await d.saveIdentity(1, [], []);
    await d.persist({ entries: Array.from({ length: 40 }, (_, i) => ent(i + 1, 1)), hardState: { term: 1, vote: 1, commit: 40 } });
    for (const i of [10, 20, 30, 40]) await d.saveSnapshot({ metadata: { index: i, term: 1, confState: { voters: [1] } }, data: new Uint8Array([i]) }, i - 5);
    assert.deepEqual(d.snapshotFiles(), [name(20), name(30), name(40)]);
    await d.close();
    d = new RaftDiskStorage(dir);
    d.keepOldSnapshots = 0;
    assert.equal(d.load().snapshot!.metadata.index, 40);
    assert.deepEqual(d.snapshotFiles(), [name(40)]);
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
    // a crash after writing a snapshot file but before lmdb pointed at it
    fs.writeFileSync(path.join(dir, 'snapshots', '0000000000000099-0000000000000003.snap'), 'junk');
    d = new RaftDiskStorage(dir);
    const st = d.load();
    assert.equal(st.snapshot!.metadata.index, 50);
    assert.deepEqual(st.entries.map((e) => e.index), [51]);
    assert.equal(st.hardState.commit, 50);
    assert.deepEqual(d.snapshotFiles(), ['0000000000000050-0000000000000003.snap']);
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
