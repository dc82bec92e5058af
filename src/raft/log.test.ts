import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftLog } from './log';
import { MemoryStorage } from './storage';
import { Entry } from './types';

const ents = (from: number, terms: number[]): Entry[] => terms.map((t, i) => ({ term: t, index: from + i, type: 'normal', data: new Uint8Array() }));

function logWith(stable: number[], unstable: number[] = []): RaftLog {
  const s = new MemoryStorage();
  s.append(ents(1, stable));
  const l = new RaftLog(s);
  if (unstable.length) l.append(ents(stable.length + 1, unstable));
  return l;
}

test('term and slices span storage and the unstable tail', () => {
  const l = logWith([1, 1, 2], [3, 3]);
  assert.equal(l.lastIndex(), 5);
  assert.equal(l.term(4), 3);
  assert.equal(l.maybeTerm(6), undefined);
  assert.deepEqual(l.slice(2, 6).map((e) => e.term), [1, 2, 3, 3]);
  assert.deepEqual(l.slice(2, 6, 2).map((e) => e.index), [2, 3]);
  assert.deepEqual(l.unstableEntries().map((e) => e.index), [4, 5]);
  l.stableTo(4, 3);
  assert.deepEqual(l.unstableEntries().map((e) => e.index), [5]);
  l.stableTo(5, 9); // wrong term: ignored
  assert.deepEqual(l.unstableEntries().map((e) => e.index), [5]);
});

test('maybeAppend: match, conflict truncation, and commit capped at the new entries', () => {
  const l = logWith([1, 1, 2, 2]);
  assert.equal(l.maybeAppend(4, 3, 10, []), undefined); // term mismatch at 4
  assert.equal(l.maybeAppend(2, 1, 10, ents(3, [3])), 3); // conflict at 3: truncates 3, 4
  assert.equal(l.lastIndex(), 3);
  assert.equal(l.committed, 3);
  assert.throws(() => l.maybeAppend(1, 1, 3, ents(2, [5])), /conflicts with committed/);
});

test('findConflictByTerm skips whole terms', () => {
  const l = logWith([1, 1, 2, 2, 5, 5, 5]);
  assert.equal(l.findConflictByTerm(7, 4), 4);
  assert.equal(l.findConflictByTerm(7, 5), 7);
  assert.equal(l.findConflictByTerm(7, 0), 0);
});

test('isUpToDate compares last term, then last index', () => {
  const l = logWith([1, 2, 2]);
  assert.ok(l.isUpToDate(1, 3));
  assert.ok(l.isUpToDate(3, 2));
  assert.ok(!l.isUpToDate(2, 2));
  assert.ok(!l.isUpToDate(9, 1));
});

test('committed entries and restore', () => {
  const l = logWith([1, 1, 1]);
  l.commitTo(2);
  assert.deepEqual(l.nextCommittedEnts().map((e) => e.index), [1, 2]);
  l.appliedTo(2);
  assert.ok(!l.hasNextCommittedEnts());
  assert.throws(() => l.commitTo(9));
  l.restore({ metadata: { index: 10, term: 3, confState: { voters: [] } }, data: new Uint8Array() });
  assert.equal(l.committed, 10);
  assert.equal(l.lastIndex(), 10);
  assert.equal(l.firstIndex(), 11);
  assert.equal(l.term(10), 3);
  assert.deepEqual(l.nextCommittedEnts(), []); // the snapshot is applied first
});
