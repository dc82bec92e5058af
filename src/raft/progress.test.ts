import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inflights, Progress, committedIndex, quorum, tallyVotes } from './progress';

test('inflights bound the pipeline', () => {
  const f = new Inflights(3);
  f.add(2);
  f.add(4);
  f.add(6);
  assert.ok(f.full());
  assert.throws(() => f.add(8));
  f.freeLE(4);
  assert.equal(f.count(), 1);
  f.freeFirstOne();
  assert.equal(f.count(), 0);
});

test('probe pauses after one send; replicate pipelines; snapshot pauses', () => {
  const p = new Progress(5, 2);
  assert.ok(!p.isPaused());
  p.probeSent = true;
  assert.ok(p.isPaused());
  assert.ok(p.maybeUpdate(4));
  assert.ok(!p.isPaused());
  p.becomeReplicate();
  assert.equal(p.next, 5);
  p.optimisticUpdate(6);
  p.inflights.add(6);
  p.inflights.add(7);
  assert.ok(p.isPaused());
  p.becomeSnapshot(20);
  assert.ok(p.isPaused());
  p.becomeProbe();
  assert.equal(p.next, 21);
});

test('maybeDecrTo ignores stale rejections and uses the hint', () => {
  const p = new Progress(10, 4);
  assert.ok(!p.maybeDecrTo(5, 3)); // not the index we probed (9)
  assert.ok(p.maybeDecrTo(9, 3));
  assert.equal(p.next, 4);
  p.match = 3;
  p.becomeReplicate();
  assert.ok(!p.maybeDecrTo(2, 0)); // below match: stale
  assert.ok(p.maybeDecrTo(7, 0));
  assert.equal(p.next, 4);
});

test('quorum arithmetic', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorum), [1, 2, 2, 3, 3, 4, 4]);
  assert.equal(committedIndex([5, 3, 9]), 5);
  assert.equal(committedIndex([5, 3, 9, 1]), 3);
  assert.equal(tallyVotes([1, 2, 3], new Map([[1, true], [2, true]])).result, 'won');
  assert.equal(tallyVotes([1, 2, 3], new Map([[1, true], [2, false]])).result, 'pending');
  assert.equal(tallyVotes([1, 2, 3], new Map([[2, false], [3, false]])).result, 'lost');
});
