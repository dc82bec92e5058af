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
