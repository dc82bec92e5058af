import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writesOnThread } from './ready-loop';

test('followers, candidates and a lone voter write on the thread; a leader with peers in the background', () => {
  for (const voters of [1, 3]) {
    assert.equal(writesOnThread('follower', voters), true);
    assert.equal(writesOnThread('candidate', voters), true);
    assert.equal(writesOnThread('precandidate', voters), true);
  }
  assert.equal(writesOnThread('leader', 1), true);
  assert.equal(writesOnThread('leader', 2), false);
  assert.equal(writesOnThread('leader', 3), false);
});
