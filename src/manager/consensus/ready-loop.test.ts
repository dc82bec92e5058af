import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writesOnThread } from './ready-loop';

test('followers, candidates and a lone voter write on the thread; a leader with peers in the background', () => {
  assert.equal(writesOnThread('follower', [1, 2, 3], 2), true);
  assert.equal(writesOnThread('candidate', [1, 2, 3], 2), true);
  assert.equal(writesOnThread('precandidate', [1, 2, 3], 2), true);
  assert.equal(writesOnThread('leader', [1, 2, 3], 1), false);
  assert.equal(writesOnThread('leader', [1, 2], 1), false);
  assert.equal(writesOnThread('leader', [1], 1), true);
  // a leader that is not itself a voter (being removed) still has peers to send to
  assert.equal(writesOnThread('leader', [2], 1), false);
});
