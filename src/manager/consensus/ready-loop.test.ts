import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writesOnThread } from './ready-loop';

test('followers and candidates write on the thread; a leader, even a lone voter, in the background', () => {
  assert.equal(writesOnThread('follower'), true);
  assert.equal(writesOnThread('candidate'), true);
  assert.equal(writesOnThread('precandidate'), true);
  assert.equal(writesOnThread('leader'), false);
});
